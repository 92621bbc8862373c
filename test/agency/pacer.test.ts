// Paced mode's waits, with a clock of the test's own: none before the run's first message, half a period
// before every later one and before every answer is taken, none at all at period 0, and a stop ends a wait
// with StoppedError.
import { expect, test } from "bun:test";
import { StoppedError } from "../../lib/agency/errors.ts";
import { MIN_PACED_RUN_MS, Pacer } from "../../lib/agency/pacer.ts";
import { Stop } from "../../lib/util/stop.ts";

/** A sleep that records what was asked and settles only when told. */
function heldSleeps() {
  const asked: number[] = [];
  const pending: (() => void)[] = [];
  const sleep = (ms: number) => {
    asked.push(ms);
    return new Promise<void>((resolve) => pending.push(resolve));
  };
  return { asked, sleep, release: () => pending.shift()?.() };
}

test("a period between an answer and the next message, the answer taken at its half; the first message at once", async () => {
  const clock = heldSleeps();
  const pacer = new Pacer(150, new Stop(), clock.sleep);
  expect(pacer.paced).toBe(true);
  await pacer.beforeMessage();
  expect(clock.asked).toEqual([]);
  const answer = pacer.beforeAnswer();
  expect(clock.asked).toEqual([75]);
  clock.release();
  await answer;
  const next = pacer.beforeMessage();
  expect(clock.asked).toEqual([75, 75]);
  clock.release();
  await next;
});

test("period 0 waits for nothing", async () => {
  const clock = heldSleeps();
  const pacer = new Pacer(0, new Stop(), clock.sleep);
  expect(pacer.paced).toBe(false);
  await pacer.beforeMessage();
  await pacer.beforeAnswer();
  await pacer.beforeMessage();
  expect(clock.asked).toEqual([]);
});

test("a stop ends a wait under way at once, with StoppedError: the run takes no further step", async () => {
  const clock = heldSleeps();
  const stop = new Stop();
  const pacer = new Pacer(60_000, stop, clock.sleep);
  await pacer.beforeMessage();
  for (const wait of [() => pacer.beforeAnswer(), () => pacer.beforeMessage()]) {
    const waiting = wait();
    stop.request();
    await expect(waiting).rejects.toBeInstanceOf(StoppedError);
  }
  expect(clock.asked).toEqual([30_000, 30_000]);
});

test("a paced run ends no sooner than MIN_PACED_RUN_MS after the process started; an unpaced one at once", async () => {
  const clock = heldSleeps();
  const never = new Stop();
  const paced = new Pacer(50, never, clock.sleep, () => 800);
  const ending = paced.beforeExit();
  expect(clock.asked).toEqual([MIN_PACED_RUN_MS - 800]);
  clock.release();
  await ending;
  await new Pacer(50, never, clock.sleep, () => MIN_PACED_RUN_MS + 1).beforeExit();
  await new Pacer(0, never, clock.sleep, () => 0).beforeExit();
  expect(clock.asked).toEqual([MIN_PACED_RUN_MS - 800]);
});
