import type { Bet, BetFields } from "../../lib/bet/bet.ts";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { csvRow } from "../../lib/storage/csv-writer.ts";
import type { StoredBatch } from "../../lib/storage/store.ts";

/**
 * The row the statement's store_bets writes for a bet, built with the string CSV writer: an oracle
 * apart from the store's byte path.
 */
export function betRow(bet: Bet): string {
  return csvRow([String(bet.agency), bet.firstName, bet.lastName, bet.document, bet.birthdate, String(bet.number)]);
}

export function betFields(bet: Bet): BetFields {
  return { firstName: bet.firstName, lastName: bet.lastName, document: bet.document, birthdate: bet.birthdate, number: String(bet.number) };
}

/** Bets as the central hands them to the store: one batch per run of bets of the same agency. */
export function storedBatches(bets: readonly Bet[]): StoredBatch[] {
  const runs: Bet[][] = [];
  for (const bet of bets) {
    const run = runs.at(-1);
    if (run && run[0]!.agency === bet.agency) run.push(bet);
    else runs.push([bet]);
  }
  return runs.map((run) => ({ agency: run[0]!.agency, bets: BetBlock.of(run.map(betFields)) }));
}
