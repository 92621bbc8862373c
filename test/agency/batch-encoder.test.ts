import { expect, test } from "bun:test";
import { BatchEncoder } from "../../lib/agency/batch-encoder.ts";
import { agencySettings } from "../../lib/agency/config.ts";
import type { Bet } from "../../lib/bet/bet.ts";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { agencyRows } from "../../lib/tooling/generate-data.ts";
import { BATCH_FRAME_BYTES, decodeMessage, FrameDecoder, HEADER_BYTES, MessageType } from "../../lib/protocol/index.ts";
import { betFields } from "../support/rows.ts";

function bet(i: number, firstName = "Ana"): Bet {
  return { agency: 3, firstName, lastName: "Peña", document: String(30_000_000 + i), birthdate: "1999-03-17", number: i % 10_000 };
}

/** Encodes every bet, from blocks of `blockSize` bets, and decodes the frames back, as the central would. */
function roundTrip(encoder: BatchEncoder, bets: Bet[], blockSize = bets.length): { frames: Buffer[]; decoded: Bet[][] } {
  const blocks: BetBlock[] = [];
  for (let i = 0; i < bets.length; i += blockSize) blocks.push(blockOf(bets.slice(i, i + blockSize)));
  const frames: Buffer[] = [];
  for (let block = 0, from = 0; block < blocks.length; ) {
    let count = encoder.encode(blocks, block, from);
    // A copy: the frame is a view the next call overwrites.
    frames.push(Buffer.from(encoder.take()));
    // Past the frame's bets, across the blocks it spanned.
    while (block < blocks.length && from + count >= blocks[block]!.count) {
      count -= blocks[block]!.count - from;
      block++;
      from = 0;
    }
    from += count;
  }
  const decoded: Bet[][] = [];
  const decoder = new FrameDecoder(64 * 1024);
  decoder.push(Buffer.concat(frames), (type, payload) => {
    const message = decodeMessage(type, payload);
    if (message.type !== MessageType.Bets) throw new Error("not a bets frame");
    expect(message.agency).toBe(3);
    decoded.push(message.bets.toFields().map((fields) => ({ agency: message.agency, ...fields, number: Number(fields.number) })));
  });
  return { frames, decoded };
}

function blockOf(bets: Bet[]): BetBlock {
  return BetBlock.of(bets.map(betFields));
}

test("batches hold at most maxAmount bets and give back every bet in order", () => {
  const bets = Array.from({ length: 1000 }, (_, i) => bet(i));
  const { frames, decoded } = roundTrip(new BatchEncoder(3, 7), bets);
  expect(decoded.map((batch) => batch.length)).toEqual([...new Array(142).fill(7), 6]);
  expect(decoded.flat()).toEqual(bets);
  for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(BATCH_FRAME_BYTES);
});

test("a batch goes on into the next block: where a block ends does not cut it short", () => {
  const bets = Array.from({ length: 100 }, (_, i) => bet(i));
  const { decoded } = roundTrip(new BatchEncoder(3, 7), bets, 10);
  expect(decoded.map((batch) => batch.length)).toEqual([...new Array(14).fill(7), 2]);
  expect(decoded.flat()).toEqual(bets);
  // A batch larger than a block spans several.
  expect(roundTrip(new BatchEncoder(3, 25), bets, 10).decoded.map((batch) => batch.length)).toEqual([25, 25, 25, 25]);
});

test("a batch is cut early when the next bet would pass 8 KiB, never after", () => {
  // 100 accented characters: 200-byte names make about 440-byte bets, so 8 KiB holds 18 of them.
  const long = "ñ".repeat(100);
  const bets = Array.from({ length: 100 }, (_, i) => bet(i, long));
  const { frames, decoded } = roundTrip(new BatchEncoder(3, 1000), bets, 7);
  expect(decoded.flat()).toEqual(bets);
  const perBet = (frames[0]!.length - HEADER_BYTES - 5) / decoded[0]!.length;
  for (const [i, frame] of frames.entries()) {
    expect(frame.length).toBeLessThanOrEqual(BATCH_FRAME_BYTES);
    // Every frame but the last is full: one more bet would not have fitted.
    if (i < frames.length - 1) expect(frame.length + perBet).toBeGreaterThan(BATCH_FRAME_BYTES);
  }
});

test("a bet that cannot fit in a frame on its own is an error, not an oversized frame", () => {
  const encoder = new BatchEncoder(3, 10, 64);
  expect(() => encoder.encode([blockOf([bet(1, "a name long enough to pass sixty-four bytes with the rest")])], 0, 0)).toThrow(/does not fit/);
  // The encoder is still usable afterwards.
  expect(encoder.encode([blockOf([bet(2)])], 0, 0)).toBe(1);
});

test("frames gather until taken, so that several go out in one write", () => {
  const encoder = new BatchEncoder(3, 10);
  const blocks = [blockOf(Array.from({ length: 25 }, (_, i) => bet(i)))];
  expect([encoder.encode(blocks, 0, 0), encoder.encode(blocks, 0, 10), encoder.encode(blocks, 0, 20)]).toEqual([10, 10, 5]);
  const frames = Buffer.from(encoder.take());
  expect(encoder.bufferedBytes).toBe(0);
  const counts: number[] = [];
  new FrameDecoder(64 * 1024).push(frames, (type, payload) => {
    const message = decodeMessage(type, payload);
    if (message.type === MessageType.Bets) counts.push(message.bets.count);
  });
  expect(counts).toEqual([10, 10, 5]);
});

test("the default maxAmount makes typical batches fill most of the 8 KiB", () => {
  const bets = [...agencyRows(1, 5000)].map((row) => {
    const [firstName, lastName, document, birthdate, number] = row.trimEnd().split(",");
    return { agency: 3, firstName: firstName!, lastName: lastName!, document: document!, birthdate: birthdate!, number: Number(number) };
  });
  const { frames } = roundTrip(new BatchEncoder(3, agencySettings.batchMaxAmount.fallback), bets);
  const full = frames.slice(0, -1);
  const average = full.reduce((sum, frame) => sum + frame.length, 0) / full.length;
  expect(average).toBeGreaterThan(0.85 * BATCH_FRAME_BYTES);
  expect(Math.max(...frames.map((frame) => frame.length))).toBeLessThanOrEqual(BATCH_FRAME_BYTES);
});
