// CSV as Python's csv module (QUOTE_MINIMAL) writes it: the central's storage rows, the generated data.
import { withCapacity } from "../util/bytes.ts";
import { utf8Text } from "../util/utf8.ts";

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const ZERO = 0x30;
const INITIAL_WRITER_BYTES = 64 * 1024;
const utf8 = new TextEncoder();

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

  /** Appends a row of text fields (the generator's data, tests), each as field() writes it. */
  row(fields: readonly string[]): this {
    for (const text of fields) {
      const bytes = utf8.encode(text);
      this.field(bytes, 0, bytes.length);
    }
    return this.endRow();
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

/** Writes csvRow's rows: taken (and decoded) right after each, so one serves every call. */
const rowWriter = new CsvWriter();

/** One row of text fields as a string, as CsvWriter writes it (CRLF-terminated). */
export function csvRow(fields: readonly string[]): string {
  const row = rowWriter.row(fields).take();
  return utf8Text(row, 0, row.length);
}
