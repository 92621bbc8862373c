// The bets frames the capacity benchmark sends: the generator's bets, cut into each agency's frames by the
// agency's own encoder, all made before the clock starts.
import { BatchEncoder } from "../../agency/batch-encoder.ts";
import { BetBlock } from "../../bet/bet-block.ts";
import { CsvParser } from "../../storage/csv-reader.ts";
import { agencyRows } from "../generate-data.ts";

/** Distinct bets the frames are cut from: 64 full frames' worth, reused round and round. */
const POOL_BETS = 64 * 128;

/** The frames of one agency, as it would send them: its id, the generator's bets, the agency's encoder. */
export function agencyFrames(agency: number, pool: BetBlock, count: number, batchBets: number): { frames: Buffer[]; bets: number[] } {
  const encoder = new BatchEncoder(agency, batchBets);
  // The pool twice over, so that a frame starting near its end runs on into its start.
  const blocks = [pool, pool];
  const frames: Buffer[] = [];
  const bets: number[] = [];
  // Agencies start at different places in the pool.
  let from = (agency * 997) % pool.count;
  for (let i = 0; i < count; i++) {
    const taken = encoder.encode(blocks, 0, from);
    frames.push(Buffer.from(encoder.take()));
    bets.push(taken);
    from = (from + taken) % pool.count;
  }
  return { frames, bets };
}

/** The generator's bets (lib/tooling/generate-data.ts), read the way an agency reads its file. */
export function betPool(): BetBlock {
  const block = new BetBlock(POOL_BETS * 80);
  const parser = new CsvParser();
  const onRecord = (record: { bytes: Uint8Array; ranges: ArrayLike<number> }) => block.append(record.bytes, record.ranges);
  parser.push(Buffer.from([...agencyRows(1, POOL_BETS)].join("")), onRecord);
  parser.finish(onRecord);
  return block;
}
