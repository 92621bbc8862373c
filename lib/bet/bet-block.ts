import { BET_FIELD_COUNT, BET_RANGES, BetField, encodeFields, newFieldRanges, type BetFields, type FieldRanges } from "./bet.ts";
import { int32Array, withCapacity } from "../util/bytes.ts";
import { FIELD_LENGTH_BYTES, fieldEnd, writeFieldLength } from "../util/fields.ts";
import { rangeText } from "../util/utf8.ts";
// simdutf in native code: a whole frame's bytes in about the time the rules take for one bet.
import { isUtf8 } from "node:buffer";

/** Field lengths below this have only ASCII bytes in their u32 BE length (see fieldsAreUtf8). */
const ASCII_LENGTH_LIMIT = 0x80;

/** The ranges of a block made empty, never written to: append grows them first. */
const NO_RANGES = new Int32Array(0);

/**
 * The field ranges of the bets of frames decoded one at a time, in one array reused from frame to frame
 * (no array per frame, on the central's hot path). A block made over a frame with a scratch reads its
 * ranges from it: it is valid only until the same scratch serves the next frame, as the frame's bytes are.
 */
export class RangesScratch {
  ranges: Int32Array<ArrayBuffer> = new Int32Array(BET_RANGES * 256);
}

/**
 * Bets packed in one byte buffer: per bet, its five fields in BetField order, each a u32 BE byte
 * length then UTF-8 bytes. The bets travel and are checked in this form from the agency's file to the
 * central's store, with no string or object per field: an agency appends each valid row of its file,
 * a bets frame carries a run of bets as a copied range of each block it spans, and the central checks
 * and stores each bet by its byte ranges.
 */
export class BetBlock {
  private buffer: Uint8Array;
  /**
   * Every bet's field ranges, found once as the bets are appended or decoded, for the checks and the
   * rows to read without walking the lengths again: bet i's fields are ranges[BET_RANGES * i ..] (see
   * FieldRanges). The last field's end is where the next bet starts.
   */
  private ranges: Int32Array<ArrayBuffer>;
  private bets = 0;
  /** Every field's byte length ORed together: under ASCII_LENGTH_LIMIT when each one is (see fieldsAreUtf8). */
  private lengthBits = 0;

  constructor(initialBytes: number) {
    this.buffer = new Uint8Array(initialBytes);
    // A block over a frame gets its ranges from over(); an empty one grows them as bets are appended.
    this.ranges = initialBytes > 0 ? new Int32Array(BET_RANGES * 16) : NO_RANGES;
  }

  /**
   * A block over bytes that should hold whole bets, without copying them: it reads them in place, so it
   * is valid only as long as they are, and with a `scratch`, only until that scratch serves another frame.
   * Throws MalformedFieldError when they do not hold whole bets (they come from a frame).
   */
  static over(bytes: Uint8Array, scratch?: RangesScratch): BetBlock {
    const block = new BetBlock(0);
    block.buffer = bytes;
    block.ranges = block.walk(scratch?.ranges ?? new Int32Array(BET_RANGES * 16));
    if (scratch) scratch.ranges = block.ranges;
    return block;
  }

  /** Finds every bet's field ranges in the buffer, into `ranges` (grown if need be); returns them. */
  private walk(ranges: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
    const bytes = this.buffer;
    let offset = 0;
    let at = 0;
    let count = 0;
    let lengthBits = 0;
    while (offset < bytes.length) {
      if (at + BET_RANGES > ranges.length) ranges = withCapacity(ranges, at + BET_RANGES, at, int32Array);
      for (let field = 0; field < BET_FIELD_COUNT; field++) {
        const start = offset + FIELD_LENGTH_BYTES;
        offset = fieldEnd(bytes, offset);
        lengthBits |= offset - start;
        ranges[at++] = start;
        ranges[at++] = offset;
      }
      count++;
    }
    this.bets = count;
    this.lengthBits = lengthBits;
    return ranges;
  }

  /**
   * Every bet's field ranges into this block's bytes (bytesOfFields): bet i's fields are the
   * BET_RANGES entries from BET_RANGES * i, in FieldRanges order. Valid until the block changes.
   */
  get fieldRanges(): Int32Array<ArrayBuffer> {
    return this.ranges;
  }

  /** A block of bets given as text (a single bet from the environment, tests). */
  static of(bets: readonly BetFields[]): BetBlock {
    const block = new BetBlock(256);
    for (const bet of bets) {
      const { bytes, ranges } = encodeFields(bet);
      block.append(bytes, ranges);
    }
    return block;
  }

  get count(): number {
    return this.bets;
  }

  /** Where bet i starts. */
  offsetOf(index: number): number {
    return index === 0 ? 0 : this.fieldRanges[BET_RANGES * index - 1]!;
  }

  /** The encoded bytes of bets [from, to), a view valid until the block changes. */
  bytes(from = 0, to = this.count): Uint8Array {
    return this.buffer.subarray(this.offsetOf(from), this.offsetOf(to));
  }

  /** Empties the block, keeping its buffer for reuse. */
  clear(): void {
    this.bets = 0;
    this.lengthBits = 0;
  }

  /**
   * Whether every field's bytes are well-formed UTF-8 each on its own, learnt from one native pass over
   * the whole block: when every field is shorter than ASCII_LENGTH_LIMIT, the length bytes around each
   * field are ASCII, so no character can straddle a field's edge. The rules then need not read each
   * name for it. False only means "not known".
   */
  get fieldsAreUtf8(): boolean {
    return this.lengthBits < ASCII_LENGTH_LIMIT && isUtf8(this.bytes());
  }

  /** Appends one bet whose five fields are byte ranges of `source`. */
  append(source: Uint8Array, ranges: ArrayLike<number>): void {
    let at = BET_RANGES * this.bets;
    // Called once per row of a file: the last bet's end is read from the block's own ranges (a block
    // appended to is never one over a frame), and the buffer grown only when it must be.
    const used = at === 0 ? 0 : this.ranges[at - 1]!;
    let needed = used + BET_FIELD_COUNT * FIELD_LENGTH_BYTES;
    for (let field = 0; field < BET_FIELD_COUNT; field++) needed += ranges[2 * field + 1]! - ranges[2 * field]!;
    if (needed > this.buffer.length) this.buffer = withCapacity(this.buffer, needed, used);
    const buffer = this.buffer;
    if (at + BET_RANGES > this.ranges.length) this.ranges = withCapacity(this.ranges, at + BET_RANGES, at, int32Array);
    const own = this.ranges;
    let offset = used;
    for (let field = 0; field < BET_FIELD_COUNT; field++) {
      const start = ranges[2 * field]!;
      const end = ranges[2 * field + 1]!;
      const length = end - start;
      this.lengthBits |= length;
      writeFieldLength(buffer, offset, length);
      offset += FIELD_LENGTH_BYTES;
      own[at++] = offset;
      // Fields are a few bytes long: a plain loop beats a subarray and set() per field.
      for (let i = start; i < end; i++) buffer[offset++] = source[i]!;
      own[at++] = offset;
    }
    this.bets++;
  }

  /** The bytes the field ranges point into (see fieldRanges), valid as long as the block. */
  get bytesOfFields(): Uint8Array {
    return this.buffer;
  }

  /** Fills `ranges` with the byte ranges of bet i's fields and returns the bytes they point into. */
  fields(index: number, ranges: FieldRanges): Uint8Array {
    ranges.set(this.fieldRanges.subarray(BET_RANGES * index, BET_RANGES * (index + 1)));
    return this.buffer;
  }

  /** Bet i as text (logs, error messages, tests). */
  text(index: number): BetFields {
    const ranges = newFieldRanges();
    const bytes = this.fields(index, ranges);
    const field = (i: number) => rangeText(bytes, ranges, i);
    return {
      firstName: field(BetField.FirstName),
      lastName: field(BetField.LastName),
      document: field(BetField.Document),
      birthdate: field(BetField.Birthdate),
      number: field(BetField.Number),
    };
  }

  /** Every bet as text. */
  toFields(): BetFields[] {
    return Array.from({ length: this.count }, (_, i) => this.text(i));
  }

}

