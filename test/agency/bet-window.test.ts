// The agency's window of bets: read from its source a block at a time, held from the oldest bet not
// acknowledged on, sent (again) from any position, and let go block by block for the source to reuse.
import { expect, test } from "bun:test";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { BatchEncoder } from "../../lib/agency/batch-encoder.ts";
import type { BetSource } from "../../lib/agency/bet-source.ts";
import { BetWindow } from "../../lib/agency/bet-window.ts";
import { decodeMessage, HEADER_BYTES, MessageType } from "../../lib/protocol/index.ts";

const bet = (document: number) => ({ firstName: "Ana", lastName: "Peña", document: String(document), birthdate: "1990-01-01", number: "1" });

/** A source of blocks of the given sizes (documents 0, 1, 2 … across them) that records what it gets back. */
function source(sizes: number[]) {
  const recycled: number[] = [];
  let reads = 0;
  let next = 0;
  const blocks = sizes.map((size) => BetBlock.of(Array.from({ length: size }, () => bet(next++))));
  const src: BetSource = {
    name: "test",
    bytesRead: 0,
    size: 0,
    async *blocks() {
      for (const block of blocks) {
        reads++;
        yield block;
      }
    },
    recycle: (block) => recycled.push(blocks.indexOf(block)),
    close: () => {},
  };
  return { src, recycled, reads: () => reads };
}

/** The documents of the one bets frame the encoder holds. */
function documentsOf(encoder: BatchEncoder): string[] {
  const frame = encoder.take();
  const message = decodeMessage(frame[4]!, frame.subarray(HEADER_BYTES));
  return message.type === MessageType.Bets ? message.bets.toFields().map((b) => b.document) : [];
}

test("fill reads only as many blocks as a batch past a position needs, and says when nothing is left", async () => {
  const { src, reads } = source([3, 3, 3]);
  const window = new BetWindow(src);
  expect(await window.fill(0, 4)).toBe(true);
  expect(reads()).toBe(2);
  expect(await window.fill(9, 4)).toBe(false);
  expect(reads()).toBe(3);
  expect(await window.fill(8, 4)).toBe(true);
});

test("a batch is encoded from any held position, across blocks", async () => {
  const { src } = source([3, 3, 3]);
  const window = new BetWindow(src);
  await window.fill(0, 9);
  const encoder = new BatchEncoder(1, 4);
  expect(window.encodeFrom(encoder, 2)).toBe(4);
  expect(documentsOf(encoder)).toEqual(["2", "3", "4", "5"]);
  expect(() => window.encodeFrom(encoder, 9)).toThrow("bet 9 is not held");
});

test("blocks wholly before a position are let go for reuse; forEach gives each held block's part of a range", async () => {
  const { src, recycled } = source([3, 3, 3]);
  const window = new BetWindow(src);
  await window.fill(0, 9);
  window.release(4);
  expect(recycled).toEqual([0]);
  const parts: [string, number, number][] = [];
  window.forEach(4, 8, (block, start, end) => parts.push([block.text(start).document, start, end]));
  expect(parts).toEqual([
    ["4", 1, 3],
    ["6", 0, 2],
  ]);
  window.release(9);
  expect(recycled).toEqual([0, 1, 2]);
});

test("skipTo reads on to a resume cursor, letting blocks go as it passes them; false past the source's end", async () => {
  const { src, recycled } = source([3, 3, 3]);
  const window = new BetWindow(src);
  expect(await window.skipTo(7)).toBe(true);
  expect(recycled).toEqual([0, 1]);
  const encoder = new BatchEncoder(1, 10);
  expect(window.encodeFrom(encoder, 7)).toBe(2);
  expect(documentsOf(encoder)).toEqual(["7", "8"]);
  expect(await new BetWindow(source([2]).src).skipTo(3)).toBe(false);
});
