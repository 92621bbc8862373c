// CSV as RFC 4180 reads it: a streaming reader over bytes, for the agencies' bets files and the central's
// storage.
// simdutf in native code: a chunk's whole lines in one pass, cheaper than each field's bytes in JS.
import { isUtf8 } from "node:buffer";
import { int32Array, withCapacity } from "../util/bytes.ts";
import type { CsvRecord, RecordCallback } from "./csv-record.ts";
import { MAX_RECORD_BYTES, OVERLONG, RecordScan, UNFINISHED } from "./csv-scan.ts";

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
/** The UTF-8 byte order mark, dropped at the very start of a stream only. */
const BOM = [0xef, 0xbb, 0xbf];
const OVERLONG_ERROR = `record longer than ${MAX_RECORD_BYTES} bytes`;

// First sizes of the buffers that grow (by doubling) to what the data needs.
const INITIAL_FIELDS = 16;
const INITIAL_CARRY_BYTES = 1024;
const INITIAL_SCRATCH_BYTES = 1024;

/**
 * Streaming CSV parser on bytes: fields are byte ranges, nothing is decoded. Records wholly inside a chunk
 * are read in place; lines without quotes, nearly all of them, are found with native byte search and cut at
 * their commas by a plain loop. Only the unfinished record at a chunk's end is copied (into the carry), and
 * the next chunk adds to it just up to where that record ends. A record with quotes, which may hold commas,
 * doubled quotes and line breaks, is scanned byte by byte for its end, then unescaped into a scratch buffer.
 * Blank lines are skipped. Rows end with CRLF or LF.
 */
export class CsvParser {
  private readonly record: CsvRecord = {
    bytes: new Uint8Array(0),
    ranges: new Int32Array(2 * INITIAL_FIELDS),
    fieldCount: 0,
    error: undefined,
    fieldsAreUtf8: false,
    line: 0,
  };
  /** Line on which the next record starts. */
  private line = 1;
  /** Bytes fed so far. */
  private pushed = 0;
  /** The unfinished record at the end of the bytes pushed so far, copied out of its chunks. */
  private carry: Uint8Array = new Uint8Array(INITIAL_CARRY_BYTES);
  private carryLength = 0;
  private scratch: Uint8Array = new Uint8Array(INITIAL_SCRATCH_BYTES);
  /** No byte has come yet that is not part of a BOM: those that did are held in the carry. */
  private atStart = true;
  /** Dropping the rest of an overlong line, up to its LF. */
  private skipping = false;
  /** The chunk being parsed in place, while its whole lines are known to be well-formed UTF-8 (see fieldsAreUtf8). */
  private utf8Chunk: Uint8Array | undefined;
  /** How far the record being delimited has been scanned. */
  private readonly scan = new RecordScan();

  /** Feeds a chunk; records go to the callback as soon as they are whole. */
  push(chunk: Uint8Array, onRecord: RecordCallback): void {
    this.pushed += chunk.length;
    let pos = 0;
    if (this.atStart) {
      pos = this.dropBom(chunk);
      if (this.atStart) return;
    }
    while (pos < chunk.length && (this.skipping || this.carryLength > 0)) {
      pos = this.skipping ? this.skipLine(chunk, pos) : this.completeCarry(chunk, pos, onRecord);
    }
    if (this.skipping || this.carryLength > 0) return;
    // The records read in place are the whole lines from pos to the last LF: when those are valid UTF-8
    // as a whole, so is each field, since each starts and ends at an ASCII byte (a comma, a line end).
    const lastLf = chunk.lastIndexOf(LF);
    if (lastLf > pos && isUtf8(chunk.subarray(pos, lastLf))) this.utf8Chunk = chunk;
    try {
      this.keep(chunk, this.parse(chunk, pos, false, onRecord));
    } finally {
      this.utf8Chunk = undefined;
    }
  }

  /** Ends the stream: a last record without a line terminator is handed out too. */
  finish(onRecord: RecordCallback): void {
    if (this.carryLength > 0) this.parse(this.carry.subarray(0, this.carryLength), 0, true, onRecord);
    this.carryLength = 0;
  }

  /** Bytes held back because their record has no terminator yet. */
  get unterminated(): number {
    return this.carryLength;
  }

  /** Stream offset just past the last whole record. */
  get consumed(): number {
    return this.pushed - this.carryLength;
  }

  /**
   * Hands out the records of bytes[pos..]; returns where the unfinished one at the end starts (with the scan
   * state set for it), or the end of the bytes. When `final`, the bytes end the stream, and their last record.
   */
  private parse(bytes: Uint8Array, pos: number, final: boolean, onRecord: RecordCallback): number {
    // Where the next quote is: searched again only once passed, so quote-free bytes are searched once.
    let quote = bytes.indexOf(QUOTE, pos);
    while (pos < bytes.length) {
      const lf = bytes.indexOf(LF, pos);
      if (quote >= 0 && quote < pos) quote = bytes.indexOf(QUOTE, pos);
      if (lf >= 0 && (quote < 0 || quote > lf)) {
        if (lf - pos > MAX_RECORD_BYTES) this.report(OVERLONG_ERROR, onRecord);
        else this.split(bytes, pos, lf, onRecord);
        this.line++;
        pos = lf + 1;
        continue;
      }
      // A record with quotes, or one the bytes end inside of.
      this.scan.reset();
      const end = this.scan.scan(bytes, pos);
      if (end === OVERLONG) {
        pos = this.dropOverlong(bytes, pos, onRecord);
      } else if (end !== UNFINISHED || final) {
        // The end of the stream ends its last record.
        const recordEnd = end === UNFINISHED ? bytes.length : end;
        this.emit(bytes, pos, recordEnd, onRecord);
        pos = recordEnd + 1;
      } else {
        break;
      }
    }
    return Math.min(pos, bytes.length);
  }

  /**
   * Reads the chunk's first bytes as the rest of the record in the carry, appending them up to its end only.
   * Returns where the chunk goes on.
   */
  private completeCarry(chunk: Uint8Array, pos: number, onRecord: RecordCallback): number {
    // The record's start as if the carry stood just before the chunk: the scan goes on at pos.
    const start = pos - this.carryLength;
    const end = this.scan.scan(chunk, start);
    if (end === UNFINISHED) {
      this.append(chunk, pos, chunk.length);
      return chunk.length;
    }
    if (end !== OVERLONG) {
      this.append(chunk, pos, end);
      this.emit(this.carry.subarray(0, this.carryLength), 0, this.carryLength, onRecord);
      this.carryLength = 0;
      return end + 1;
    }
    const resume = this.dropOverlong(chunk, start, onRecord);
    if (resume >= pos) {
      this.carryLength = 0;
      return resume;
    }
    // The record's first line ended inside the carry: the lines after it, up to the LF at which the limit was
    // passed, are read again.
    const scannedEnd = start + this.scan.scanned + 1;
    this.append(chunk, pos, scannedEnd);
    const carried = this.carry.subarray(0, this.carryLength);
    this.keep(carried, this.parse(carried, resume - start, false, onRecord));
    return scannedEnd;
  }

  /**
   * Reports the scanned record at `start` as too long, and returns where to go on. A line that passed the limit
   * alone (binary junk) is dropped up to its LF, which may be yet to come; a record whose lines did together (a
   * quote never closed) is dropped up to the end of its first line, and the lines it took in are read again.
   */
  private dropOverlong(bytes: Uint8Array, start: number, onRecord: RecordCallback): number {
    this.report(OVERLONG_ERROR, onRecord);
    if (this.scan.overlongAcrossLines) {
      this.line++;
      return start + this.scan.firstLf + 1;
    }
    this.line += this.scan.innerLfs + 1;
    const lf = start + this.scan.scanned;
    if (lf < bytes.length) return lf + 1;
    this.skipping = true;
    return lf;
  }

  /** Hands out the scanned record at bytes[start..end) (end: its LF, or the end of the stream), unless it is blank. */
  private emit(bytes: Uint8Array, start: number, end: number, onRecord: RecordCallback): void {
    const quote = bytes.indexOf(QUOTE, start);
    if (quote >= 0 && quote < end) {
      this.unescape(bytes, start, end);
      this.record.line = this.line;
      onRecord(this.record);
    } else {
      this.split(bytes, start, end, onRecord);
    }
    this.line += this.scan.innerLfs + 1;
  }

  /** Hands out a line without quotes, unless it is blank: its fields are cut at its commas, in place. */
  private split(bytes: Uint8Array, start: number, lf: number, onRecord: RecordCallback): void {
    const end = lf > start && bytes[lf - 1] === CR ? lf - 1 : lf;
    if (end === start) return;
    const record = this.record;
    let ranges = record.ranges;
    let at = 0; // index in ranges of the current field's start
    ranges[0] = start;
    for (let i = start; i < end; i++) {
      if (bytes[i] !== COMMA) continue;
      if (at + 4 > ranges.length) ranges = record.ranges = withCapacity(ranges, at + 4, at + 1, int32Array);
      ranges[at + 1] = i;
      ranges[at + 2] = i + 1;
      at += 2;
    }
    ranges[at + 1] = end;
    record.bytes = bytes;
    record.fieldCount = (at >> 1) + 1;
    record.error = undefined;
    record.fieldsAreUtf8 = bytes === this.utf8Chunk;
    record.line = this.line;
    onRecord(record);
  }

  /**
   * Unescapes the record at bytes[start..end) (its LFs are all inside quotes) into the scratch buffer, where its
   * field ranges then point; sets its error when malformed.
   */
  private unescape(bytes: Uint8Array, start: number, end: number): void {
    // Unescaping never lengthens a field.
    const out = (this.scratch = withCapacity(this.scratch, end - start, 0));
    let ranges = this.record.ranges;
    let error: string | undefined;
    let written = 0;
    let fields = 0;
    let i = start;
    for (;;) {
      if (2 * fields + 2 > ranges.length) ranges = this.record.ranges = withCapacity(ranges, 2 * fields + 2, 2 * fields, int32Array);
      ranges[2 * fields] = written;
      if (i < end && bytes[i] === QUOTE) {
        // Quoted field: up to the closing quote, a doubled quote standing for one.
        i++;
        for (;;) {
          const close = bytes.indexOf(QUOTE, i);
          if (close < 0 || close >= end) {
            error ??= "unterminated quoted field";
            out.set(bytes.subarray(i, end), written);
            written += end - i;
            i = end;
            break;
          }
          out.set(bytes.subarray(i, close), written);
          written += close - i;
          i = close + 1;
          if (i >= end || bytes[i] !== QUOTE) break;
          out[written++] = QUOTE;
          i++;
        }
        // Python's reader keeps text between the closing quote and the comma: flagged here, but for the CR
        // of a line end.
        const tail = i;
        while (i < end && bytes[i] !== COMMA) i++;
        if (i > tail && !(i === tail + 1 && bytes[tail] === CR)) error ??= "text after a closing quote";
      } else {
        const from = i;
        while (i < end && bytes[i] !== COMMA) {
          if (bytes[i] === QUOTE) error ??= "quote inside an unquoted field";
          i++;
        }
        // A CR before the line's LF is the line end's, not the last field's.
        const to = i === end && i > from && bytes[i - 1] === CR ? i - 1 : i;
        out.set(bytes.subarray(from, to), written);
        written += to - from;
      }
      ranges[2 * fields + 1] = written;
      fields++;
      if (i >= end) break;
      i++; // the comma
    }
    const record = this.record;
    record.bytes = out;
    record.fieldCount = fields;
    record.error = error;
    record.fieldsAreUtf8 = false;
  }

  /** Hands out a malformed record. */
  private report(error: string, onRecord: RecordCallback): void {
    const record = this.record;
    record.fieldCount = 0;
    record.error = error;
    record.fieldsAreUtf8 = false;
    record.line = this.line;
    onRecord(record);
  }

  /**
   * Holds the stream's first bytes in the carry while they may still be a BOM; returns where the data starts in
   * the chunk.
   */
  private dropBom(chunk: Uint8Array): number {
    const held = this.carryLength;
    let i = 0;
    for (; held + i < BOM.length && i < chunk.length; i++) {
      if (chunk[i] !== BOM[held + i]) {
        this.atStart = false;
        return 0;
      }
    }
    if (held + i === BOM.length) {
      this.atStart = false;
      this.carryLength = 0;
      return i;
    }
    this.append(chunk, 0, i);
    // If they turn out not to be a BOM they are the start of a record, scanned as such.
    this.scan.resumeUnquoted(this.carryLength);
    return i;
  }

  /** Passes over the rest of an overlong line; returns where the next line starts. */
  private skipLine(chunk: Uint8Array, pos: number): number {
    const lf = chunk.indexOf(LF, pos);
    if (lf < 0) return chunk.length;
    this.skipping = false;
    return lf + 1;
  }

  /** Copies bytes[from..to) to the end of the carry. */
  private append(bytes: Uint8Array, from: number, to: number): void {
    this.carry = withCapacity(this.carry, this.carryLength + to - from, this.carryLength);
    this.carry.set(bytes.subarray(from, to), this.carryLength);
    this.carryLength += to - from;
  }

  /** Makes the unfinished record at bytes[pos..] the carry: the caller may reuse its chunk. */
  private keep(bytes: Uint8Array, pos: number): void {
    // A source in the carry itself (read again after an overlong record) is copied as if apart, as set() does.
    this.carry = withCapacity(this.carry, bytes.length - pos, 0);
    this.carry.set(bytes.subarray(pos));
    this.carryLength = bytes.length - pos;
  }
}
