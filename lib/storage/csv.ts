// CSV as RFC 4180 reads it and as Python's csv module (QUOTE_MINIMAL) writes it.
// simdutf in native code: a chunk's whole lines in one pass, cheaper than each field's bytes in JS.
import { isUtf8 } from "node:buffer";
import { withCapacity } from "../util/bytes.ts";
import { rangeText } from "../util/utf8.ts";

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const ZERO = 0x30;
/** The UTF-8 byte order mark, dropped at the very start of a stream only. */
const BOM = [0xef, 0xbb, 0xbf];
/**
 * Longest line the parser takes, and longest stretch of whole lines a record with quotes may span; anything
 * longer is reported as malformed, however the bytes are split into chunks. Bets are far shorter.
 */
export const MAX_RECORD_BYTES = 64 * 1024;
const OVERLONG_ERROR = `record longer than ${MAX_RECORD_BYTES} bytes`;

// First sizes of the buffers that grow (by doubling) to what the data needs.
const INITIAL_FIELDS = 16;
const INITIAL_CARRY_BYTES = 1024;
const INITIAL_SCRATCH_BYTES = 1024;
const INITIAL_WRITER_BYTES = 64 * 1024;

const NEEDS_QUOTES = /[",\r\n]/;

/** Quotes a field only when it holds a comma, a quote or a line break, doubling its quotes. */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One record, terminated by CRLF as Python's csv writer does. */
export function csvRow(fields: readonly string[]): string {
  let row = csvField(fields[0] ?? "");
  for (let i = 1; i < fields.length; i++) row += "," + csvField(fields[i]!);
  return row + "\r\n";
}

/** One record, handed to the callback; the object and its arrays are reused: valid only during the callback. */
export interface CsvRecord {
  /**
   * The bytes the field ranges point into: for a record without quotes the chunk itself (or the parser's copy
   * of a record cut between chunks), for one with quotes a scratch buffer of the parser.
   */
  bytes: Uint8Array;
  /** Field i is bytes[ranges[2*i] .. ranges[2*i+1]) with quotes removed and doubled quotes undone. */
  ranges: Int32Array;
  /** Number of fields (ranges may be longer than 2*fieldCount). */
  fieldCount: number;
  /** Set when the record is malformed; its fields are then not meaningful. */
  error: string | undefined;
  /**
   * Every field's bytes are known to be well-formed UTF-8 each on its own: the record was read in place
   * from a chunk whose whole lines are (checked in one pass), and its fields are cut at ASCII bytes.
   * False only means "not known".
   */
  fieldsAreUtf8: boolean;
  /** 1-based line of the stream on which the record starts. */
  line: number;
}

export type RecordCallback = (record: CsvRecord) => void;

/** Field i of a record as a string (UTF-8 decoded); for the rare paths that need text (errors, recovery, tests). */
export function fieldText(record: CsvRecord, i: number): string {
  return rangeText(record.bytes, record.ranges, i);
}

/** All fields as strings. */
export function recordFields(record: CsvRecord): string[] {
  const fields: string[] = [];
  for (let i = 0; i < record.fieldCount; i++) fields.push(fieldText(record, i));
  return fields;
}

// How the bytes scanned so far leave a record's quoting, which decides whether an LF ends it.
const FIELD_START = 0;
const UNQUOTED = 1; // in an unquoted field, or after a closing quote
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3; // a quote inside a quoted field: the next byte tells a doubled quote from the closing one

// What scanRecord returns besides the index of the LF that ends the record.
const UNFINISHED = -1;
const OVERLONG = -2;

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

  // How far the record being delimited has been scanned (see scanRecord). Offsets count from the record's start,
  // so they hold when it moves into the carry.
  private scanState = FIELD_START;
  private scanned = 0;
  /** Offset of the line the scan is in (a record with quotes can span lines). */
  private lineStart = 0;
  private firstLf = -1;
  /** LFs inside quotes scanned so far: lines the record takes beyond its first. */
  private innerLfs = 0;

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
      this.startScan();
      const end = this.scanRecord(bytes, pos);
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
    const end = this.scanRecord(chunk, start);
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
    const scannedEnd = start + this.scanned + 1;
    this.append(chunk, pos, scannedEnd);
    const carried = this.carry.subarray(0, this.carryLength);
    this.keep(carried, this.parse(carried, resume - start, false, onRecord));
    return scannedEnd;
  }

  private startScan(): void {
    this.scanState = FIELD_START;
    this.scanned = 0;
    this.lineStart = 0;
    this.firstLf = -1;
    this.innerLfs = 0;
  }

  /**
   * Scans the record starting at `start` (negative when its first bytes are in the carry) for the LF that ends
   * it, going on from where the last scan of it stopped. Returns that LF's index; UNFINISHED when the bytes end
   * first, the state being kept for the next ones; OVERLONG when the record passes the length limit (see
   * dropOverlong), with `scanned` where it did.
   */
  private scanRecord(bytes: Uint8Array, start: number): number {
    let state = this.scanState;
    let i = start + this.scanned;
    for (; i < bytes.length; i++) {
      const byte = bytes[i];
      if (state === QUOTED) {
        if (byte === QUOTE) state = QUOTE_IN_QUOTED;
        else if (byte === LF && !this.innerLf(i - start)) return OVERLONG;
      } else if (byte === LF) {
        this.scanned = i - start;
        return this.scanned - this.lineStart > MAX_RECORD_BYTES ? OVERLONG : i;
      } else if (byte === COMMA) {
        state = FIELD_START;
      } else {
        // A quote opens a quoted field only at the field's start; after a quote in one, it is a doubled quote.
        state = byte === QUOTE && state !== UNQUOTED ? QUOTED : UNQUOTED;
      }
    }
    this.scanState = state;
    this.scanned = i - start;
    return this.scanned - this.lineStart > MAX_RECORD_BYTES ? OVERLONG : UNFINISHED;
  }

  /** Counts an LF inside quotes at `offset`; false (with `scanned` there) when the record passes the limit with it. */
  private innerLf(offset: number): boolean {
    if (this.firstLf < 0) this.firstLf = offset;
    if (offset - this.lineStart > MAX_RECORD_BYTES || offset + 1 > MAX_RECORD_BYTES) {
      this.scanned = offset;
      return false;
    }
    this.innerLfs++;
    this.lineStart = offset + 1;
    return true;
  }

  /**
   * Reports the scanned record at `start` as too long, and returns where to go on. A line that passed the limit
   * alone (binary junk) is dropped up to its LF, which may be yet to come; a record whose lines did together (a
   * quote never closed) is dropped up to the end of its first line, and the lines it took in are read again.
   */
  private dropOverlong(bytes: Uint8Array, start: number, onRecord: RecordCallback): number {
    this.report(OVERLONG_ERROR, onRecord);
    if (this.scanned - this.lineStart <= MAX_RECORD_BYTES) {
      this.line++;
      return start + this.firstLf + 1;
    }
    this.line += this.innerLfs + 1;
    const lf = start + this.scanned;
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
    this.line += this.innerLfs + 1;
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
      if (at + 4 > ranges.length) ranges = this.growRanges();
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
      if (2 * fields + 2 > ranges.length) ranges = this.growRanges();
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

  private growRanges(): Int32Array {
    const ranges = new Int32Array(2 * this.record.ranges.length);
    ranges.set(this.record.ranges);
    return (this.record.ranges = ranges);
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
    this.scanState = UNQUOTED;
    this.scanned = this.carryLength;
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

/** Builds CSV rows (Python QUOTE_MINIMAL, CRLF) from byte ranges into one reused, growing buffer. */
export class CsvWriter {
  private buffer: Uint8Array = new Uint8Array(INITIAL_WRITER_BYTES);
  private written = 0;
  /** The current row has a field: the next one is preceded by a comma. */
  private inRow = false;

  /** Appends bytes[start..end) as the next field of the current row, quoting it (and doubling its quotes) only when it holds a comma, a quote, CR or LF. */
  field(bytes: Uint8Array, start: number, end: number): this {
    // At worst every byte is a quote, doubled, and the field is quoted.
    const first = this.beginField(2 * (end - start) + 2);
    const out = this.buffer;
    let at = first;
    // Copied byte by byte (fields are short: cheaper than a subarray and set()) while looking for a
    // byte that needs quoting; nearly no field has one.
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!;
      if (byte === COMMA || byte === QUOTE || byte === CR || byte === LF) {
        this.written = this.quotedField(bytes, start, end, first);
        return this;
      }
      out[at++] = byte;
    }
    this.written = at;
    return this;
  }

  /**
   * Appends `count` fields given as byte ranges, field k being bytes[ranges[from + 2k] .. ranges[from + 2k + 1]),
   * each as field() writes it. For a row's many short fields: room is made once for all of them and the
   * writer's state updated once, which halves what a row costs to format.
   */
  fields(bytes: Uint8Array, ranges: ArrayLike<number>, from: number, count: number): this {
    const to = from + 2 * count;
    let size = 0;
    for (let k = from; k < to; k += 2) size += ranges[k + 1]! - ranges[k]!;
    // At worst every byte is a quote, doubled, and each field is quoted and has a comma before it.
    this.reserve(2 * size + 3 * count);
    const out = this.buffer;
    let at = this.written;
    let comma = this.inRow;
    for (let k = from; k < to; k += 2) {
      const start = ranges[k]!;
      const end = ranges[k + 1]!;
      if (comma) out[at++] = COMMA;
      comma = true;
      const first = at;
      for (let i = start; i < end; i++) {
        const byte = bytes[i]!;
        if (byte === COMMA || byte === QUOTE || byte === CR || byte === LF) {
          at = this.quotedField(bytes, start, end, first);
          break;
        }
        out[at++] = byte;
      }
    }
    this.written = at;
    this.inRow = this.inRow || count > 0;
    return this;
  }

  /** Appends a non-negative integer as the next field (ASCII digits). */
  integer(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative integer: ${value}`);
    let digits = 1;
    for (let power = 10; power <= value; power *= 10) digits++;
    let at = this.beginField(digits) + digits;
    this.written = at;
    let rest = value;
    do {
      const next = Math.floor(rest / 10);
      this.buffer[--at] = ZERO + (rest - 10 * next);
      rest = next;
    } while (rest > 0);
    return this;
  }

  /**
   * Appends ASCII digits bytes[start..end) as a non-negative integer field: without their leading zeros,
   * as integer() would write their value. Copied, not parsed and written again: a row's two numbers
   * cost about a third of its formatting that way. Throws RangeError, writing nothing, unless they are
   * one or more digits.
   */
  digits(bytes: Uint8Array, start: number, end: number): this {
    if (end <= start) throw new RangeError("not a non-negative integer: no digits");
    for (let i = start; i < end; i++) {
      if (!(bytes[i]! >= ZERO && bytes[i]! <= ZERO + 9)) throw new RangeError(`not a non-negative integer: byte ${bytes[i]} among its digits`);
    }
    while (start < end - 1 && bytes[start] === ZERO) start++;
    let at = this.beginField(end - start);
    const out = this.buffer;
    for (let i = start; i < end; i++) out[at++] = bytes[i]!;
    this.written = at;
    return this;
  }

  /** Ends the row with CRLF. */
  endRow(): this {
    this.reserve(2);
    this.buffer[this.written++] = CR;
    this.buffer[this.written++] = LF;
    this.inRow = false;
    return this;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.written;
  }

  /** Cuts back to an earlier length, taken from `length` between rows. */
  rewind(length: number): void {
    if (length < 0 || length > this.written) throw new RangeError(`cannot rewind ${this.written} bytes to ${length}`);
    this.written = length;
    this.inRow = false;
  }

  /** A view of what was written, and empties the writer (the view is valid until the next write). */
  take(): Uint8Array {
    const written = this.buffer.subarray(0, this.written);
    this.written = 0;
    this.inRow = false;
    return written;
  }

  /** Makes room for a field of up to `size` bytes, writes the comma before it if any; returns where the field starts. */
  private beginField(size: number): number {
    this.reserve(size + 1);
    if (this.inRow) this.buffer[this.written++] = COMMA;
    this.inRow = true;
    return this.written;
  }

  /** Writes the field from `at` on again, in quotes, its quotes doubled; returns where it ends. */
  private quotedField(bytes: Uint8Array, start: number, end: number, at: number): number {
    const out = this.buffer;
    out[at++] = QUOTE;
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!;
      out[at++] = byte;
      if (byte === QUOTE) out[at++] = QUOTE;
    }
    out[at++] = QUOTE;
    return at;
  }

  private reserve(size: number): void {
    if (this.written + size > this.buffer.length) this.buffer = withCapacity(this.buffer, this.written + size, this.written);
  }
}

