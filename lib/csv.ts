// CSV as RFC 4180 reads it and as Python's csv module (QUOTE_MINIMAL) writes it.

const COMMA = 0x2c;
const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];
/** Longest record the parser will buffer; bets are far shorter. */
export const MAX_RECORD_BYTES = 64 * 1024;

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

export interface CsvRecord {
  /** The fields, or undefined when the record is malformed (see `error`). */
  fields: string[] | undefined;
  error?: string;
  /** 1-based line of the file on which the record starts. */
  line: number;
  /** Byte offset just past the record's line terminator. */
  end: number;
}

export type RecordCallback = (record: CsvRecord) => void;

/**
 * Streaming CSV parser over bytes. Records may span chunks and, inside quotes, lines. Blank lines are
 * skipped. A record is handed out only once its terminator is seen; `finish` decides about the rest.
 */
export class CsvParser {
  private pending: Buffer = Buffer.alloc(0);
  /** Stream offset of pending[0]. */
  private base = 0;
  private line = 1;
  private atStart = true;
  private skipping = false;

  /** Feeds a chunk; records go to the callback as soon as they are whole. */
  push(chunk: Uint8Array, onRecord: RecordCallback): void {
    let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.skipping) {
      // The rest of an overlong record: drop it up to its line's end.
      const lf = bytes.indexOf(LF);
      if (lf < 0) {
        this.base += bytes.length;
        return;
      }
      this.skipping = false;
      this.base += lf + 1;
      bytes = bytes.subarray(lf + 1);
    }
    if (this.pending.length > 0) bytes = Buffer.concat([this.pending, bytes]);
    let offset = 0;
    if (this.atStart) {
      if (bytes.length < BOM.length && BOM.slice(0, bytes.length).every((b, i) => bytes[i] === b)) {
        this.pending = bytes;
        return;
      }
      this.atStart = false;
      if (BOM.every((b, i) => bytes[i] === b)) offset = BOM.length;
    }
    for (;;) {
      const next = this.parseRecord(bytes, offset, false, onRecord);
      if (next < 0) break;
      offset = next;
    }
    this.base += offset;
    this.pending = offset < bytes.length ? Buffer.from(bytes.subarray(offset)) : Buffer.alloc(0);
    if (this.pending.length > MAX_RECORD_BYTES) this.dropOverlongRecord(onRecord);
  }

  /** A record that never ends (an unbalanced quote, a binary file) must not buffer the whole stream. */
  private dropOverlongRecord(onRecord: RecordCallback): void {
    const line = this.line;
    const lf = this.pending.indexOf(LF);
    const dropped = lf < 0 ? this.pending.length : lf + 1;
    this.skipping = lf < 0;
    this.line++;
    this.base += dropped;
    onRecord({ fields: undefined, error: `record longer than ${MAX_RECORD_BYTES} bytes`, line, end: this.base });
    const rest = this.pending.subarray(dropped);
    this.pending = Buffer.alloc(0);
    if (rest.length > 0) this.push(rest, onRecord);
  }

  /** Bytes held back because their record has no terminator yet. */
  get unterminated(): number {
    return this.pending.length;
  }

  /** Stream offset just past the last whole record. */
  get consumed(): number {
    return this.base;
  }

  /** Ends the stream: a last record without a line terminator is handed out too. */
  finish(onRecord: RecordCallback): void {
    if (this.pending.length === 0) return;
    const bytes = this.pending;
    this.pending = Buffer.alloc(0);
    const offset = this.atStart && BOM.every((b, i) => bytes[i] === b) ? BOM.length : 0;
    this.atStart = false;
    if (offset < bytes.length) this.parseRecord(bytes, offset, true, onRecord);
    this.base += bytes.length;
  }

  /**
   * Parses one record starting at `start`; returns the offset after it, or -1 when the bytes end
   * before its terminator (unless `final`, where the end of the bytes ends the record).
   */
  private parseRecord(bytes: Buffer, start: number, final: boolean, onRecord: RecordCallback): number {
    const length = bytes.length;
    const fields: string[] = [];
    let error: string | undefined;
    let lines = 0;
    let i = start;
    if (i >= length) return -1;

    // A blank line is no record.
    if (bytes[i] === LF || bytes[i] === CR) {
      const end = this.terminatorEnd(bytes, i, final);
      if (end < 0) return -1;
      this.line++;
      return end;
    }

    for (;;) {
      if (bytes[i] === QUOTE) {
        // Quoted field: up to the closing quote, a doubled quote stands for one.
        let j = i + 1;
        let hasEscapes = false;
        for (;;) {
          if (j >= length) {
            if (!final) return -1;
            error ??= "unterminated quoted field";
            break;
          }
          const byte = bytes[j]!;
          if (byte === QUOTE) {
            if (j + 1 >= length && !final) return -1;
            if (bytes[j + 1] === QUOTE) {
              hasEscapes = true;
              j += 2;
              continue;
            }
            break;
          }
          if (byte === LF) lines++;
          else if (byte === CR && bytes[j + 1] !== LF) lines++;
          j++;
        }
        const text = bytes.toString("utf8", i + 1, Math.min(j, length));
        let value = hasEscapes ? text.replaceAll('""', '"') : text;
        i = j + 1;
        // Anything between the closing quote and the next separator is kept, as Python's reader does.
        const tail = i;
        while (i < length && bytes[i] !== COMMA && bytes[i] !== LF && bytes[i] !== CR) i++;
        if (i > tail) {
          error ??= "text after a closing quote";
          value += bytes.toString("utf8", tail, i);
        }
        fields.push(value);
      } else {
        let j = i;
        while (j < length) {
          const byte = bytes[j];
          if (byte === COMMA || byte === LF || byte === CR) break;
          if (byte === QUOTE) error ??= "quote inside an unquoted field";
          j++;
        }
        fields.push(bytes.toString("utf8", i, j));
        i = j;
      }

      if (i >= length) {
        if (!final) return -1;
        break;
      }
      if (bytes[i] === COMMA) {
        i++;
        if (i >= length) {
          if (!final) return -1;
          fields.push("");
          break;
        }
        continue;
      }
      // Line terminator: CRLF, LF or a lone CR.
      const end = this.terminatorEnd(bytes, i, final);
      if (end < 0) return -1;
      i = end;
      break;
    }

    const line = this.line;
    this.line += lines + 1;
    onRecord({ fields: error ? undefined : fields, error, line, end: this.base + i });
    return i;
  }

  /** Offset after the terminator at `i`, or -1 when a CR ends the bytes and an LF might follow. */
  private terminatorEnd(bytes: Buffer, i: number, final: boolean): number {
    if (bytes[i] === LF) return i + 1;
    if (i + 1 >= bytes.length) return final ? i + 1 : -1;
    return bytes[i + 1] === LF ? i + 2 : i + 1;
  }
}
