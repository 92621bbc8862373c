// BetBlock: bets packed as length-prefixed fields, the form they travel in from file to store.
import { describe, expect, test } from "bun:test";
import { BET_RANGES, BetField, newFieldRanges, type BetFields } from "../../lib/bet/bet.ts";
import { BetBlock, RangesScratch } from "../../lib/bet/bet-block.ts";
import { MalformedFieldError } from "../../lib/util/fields.ts";

const ANA: BetFields = { firstName: "Ana", lastName: "Núñez 😀", document: "30904465", birthdate: "1999-03-17", number: "7574" };
const BETO: BetFields = { firstName: "Beto", lastName: 'O"Brien, Jr', document: "1", birthdate: "2000-02-29", number: "0" };

/** The wire layout, built by hand: per field a u32 BE byte length, then its UTF-8 bytes. */
function layout(bets: BetFields[]): Buffer {
  const parts = bets.flatMap((bet) => [bet.firstName, bet.lastName, bet.document, bet.birthdate, bet.number]);
  return Buffer.concat(
    parts.map((text) => {
      const bytes = Buffer.from(text);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
}

describe("BetBlock", () => {
  test("bets given as text are laid out as length-prefixed UTF-8 fields and read back", () => {
    const block = BetBlock.of([ANA, BETO, ANA]);
    expect(block.count).toBe(3);
    expect(Buffer.from(block.bytes()).equals(layout([ANA, BETO, ANA]))).toBe(true);
    expect(block.toFields()).toEqual([ANA, BETO, ANA]);
    expect(Buffer.from(block.bytes(1, 2)).equals(layout([BETO]))).toBe(true);
    expect(block.offsetOf(1)).toBe(layout([ANA]).length);
  });

  test("fields are encoded apart: lone surrogates at two fields' edges do not merge into one character", () => {
    const odd = { ...ANA, firstName: "Ana\ud800", lastName: "\udc00Paz" };
    // Each lone surrogate becomes U+FFFD on its own, and the fields after them keep their bytes.
    expect(BetBlock.of([odd]).toFields()).toEqual([{ ...ANA, firstName: "Ana\uFFFD", lastName: "\uFFFDPaz" }]);
  });

  test("append copies byte ranges of another buffer, and fields gives them back as ranges", () => {
    const row = Buffer.from("xxAna,Pérez,12,1990-01-01,7");
    const ranges = [2, 5, 6, 12, 13, 15, 16, 26, 27, 28];
    const block = new BetBlock(8); // small, so that it grows
    for (let i = 0; i < 100; i++) block.append(row, ranges);
    expect(block.count).toBe(100);
    const read = newFieldRanges();
    const bytes = block.fields(99, read);
    const text = (field: number) => Buffer.from(bytes.subarray(read[2 * field]!, read[2 * field + 1]!)).toString();
    expect([text(BetField.FirstName), text(BetField.LastName), text(BetField.Number)]).toEqual(["Ana", "Pérez", "7"]);
  });

  test("over() reads whole bets in place and refuses a broken layout", () => {
    const backing = Buffer.concat([Buffer.from("xyz"), layout([ANA, BETO])]);
    const bytes = backing.subarray(3);
    const block = BetBlock.over(bytes);
    expect(block.toFields()).toEqual([ANA, BETO]);
    // In place: a change to the bytes is a change to the bets.
    bytes[4] = "E".charCodeAt(0);
    expect(block.text(0).firstName).toBe("Ena");
    expect(BetBlock.over(new Uint8Array(0)).count).toBe(0);
    const whole = layout([ANA]);
    expect(() => BetBlock.over(whole.subarray(0, whole.length - 1))).toThrow(MalformedFieldError);
    expect(() => BetBlock.over(Buffer.concat([whole, layout([ANA]).subarray(0, 10)]))).toThrow(MalformedFieldError);
    expect(() => BetBlock.over(Buffer.concat([whole, Buffer.from([0, 0])]))).toThrow(/truncated field length/);
  });

  test("blocks over frames keep their own ranges unless a scratch is named; a scratch is one array, grown as needed", () => {
    // Without a scratch each block has its own ranges: an earlier block still reads its bets.
    const first = BetBlock.over(layout([ANA, BETO]));
    const second = BetBlock.over(layout(Array.from({ length: 300 }, () => BETO)));
    const whole = layout([ANA]);
    expect(() => BetBlock.over(Buffer.concat([layout([BETO, BETO]), whole.subarray(0, 10)]))).toThrow(MalformedFieldError);
    expect(first.toFields()).toEqual([ANA, BETO]);
    expect(first.offsetOf(1)).toBe(layout([ANA]).length);
    expect(second.count).toBe(300);
    expect(second.text(299)).toEqual(BETO);
    // With a scratch, the frames decoded one after the other share its one array (no array per frame).
    const scratch = new RangesScratch();
    const small = BetBlock.over(layout([ANA, BETO]), scratch);
    expect(small.fieldRanges).toBe(scratch.ranges);
    expect(small.toFields()).toEqual([ANA, BETO]);
    const large = BetBlock.over(layout(Array.from({ length: 300 }, () => BETO)), scratch);
    expect(large.fieldRanges).toBe(scratch.ranges);
    expect(scratch.ranges.length).toBeGreaterThanOrEqual(300 * BET_RANGES);
    expect(large.text(299)).toEqual(BETO);
    const again = BetBlock.over(layout([BETO, ANA]), scratch);
    expect(again.fieldRanges).toBe(large.fieldRanges);
    expect(again.toFields()).toEqual([BETO, ANA]);
  });
});
