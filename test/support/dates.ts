// UTC calendar days for the birthdate boundary, which moves at midnight UTC.

const DAY_MS = 86_400_000;
/** The bet rules read the clock at most once a minute, so for up to a minute after midnight they may still see the day before. */
const RULES_CLOCK_STALENESS_MS = 60_000;
/** Room either side of midnight for the test's own steps. */
const MARGIN_MS = 2_000;

/** A UTC date `days` from today as YYYY-MM-DD. */
export function dayFromToday(days: number): string {
  return new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Resolves at once unless the clock is within a minute or so of midnight UTC, where "today" is
 * ambiguous between the test and the rules; then it waits until that window has passed (at most
 * about a minute, on some 0.07% of runs). The wait is for the clock itself, not for an event.
 */
export async function awayFromMidnight(): Promise<void> {
  const intoDay = Date.now() % DAY_MS;
  const after = RULES_CLOCK_STALENESS_MS + MARGIN_MS;
  if (intoDay < after) await Bun.sleep(after - intoDay);
  else if (intoDay > DAY_MS - MARGIN_MS) await Bun.sleep(DAY_MS - intoDay + after);
}
