// CSV as RFC 4180 reads it and as Python's csv module (QUOTE_MINIMAL) writes it.

const LF = 0x0a;
const BOM = "\ufeff";
/** Longest record the parser will buffer; bets are far shorter. */
export const MAX_RECORD_BYTES = 64 * 1024;

const NEEDS_QUOTES = /[",\r\n]/;

export function needsQuoting(value: string): boolean {
  return NEEDS_QUOTES.test(value);
}

/** Quotes a field only when it holds a comma, a quote or a line break, doubling its quotes. */
export function csvField(value: string): string {
  return needsQuoting(value) ? `"${value.replaceAll('"', '""')}"` : value;
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
}

export type RecordCallback = (record: CsvRecord) => void;

const EMPTY = new Uint8Array(0);

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/**
 * Streaming CSV parser. Bytes are decoded a whole line at a time (everything up to a chunk's last LF,
 * so no UTF-8 sequence is ever cut) into one string, and rows without quotes, nearly all of them, are
 * cut with native string search and split. Quoted fields, which may hold commas, doubled quotes and
 * line breaks, take a character-by-character path. Blank lines are skipped. Rows end with CRLF or LF.
 */
export class CsvParser {
  /** Bytes after the last LF seen: an unfinished line. */
  private pendingBytes: Uint8Array = EMPTY;
  /** Decoded text not yet made into records (an unfinished quoted record). */
  private text = "";
  /** Stream offset just past the bytes decoded into text so far. */
  private decoded = 0;
  private line = 1;
  private atStart = true;
  /** Dropping the rest of an overlong line, up to its LF. */
  private skipping = false;

  /** Feeds a chunk; records go to the callback as soon as they are whole. */
  push(chunk: Uint8Array, onRecord: RecordCallback): void {
    if (this.skipping) {
      const lf = chunk.indexOf(LF);
      if (lf < 0) {
        this.decoded += chunk.length;
        return;
      }
      this.skipping = false;
      this.decoded += lf + 1;
      chunk = chunk.subarray(lf + 1);
    }
    const lastLf = chunk.lastIndexOf(LF);
    if (lastLf < 0) {
      this.pendingBytes = join(this.pendingBytes, new Uint8Array(chunk));
      if (this.pendingBytes.length > MAX_RECORD_BYTES) this.dropOverlongLine(onRecord);
      return;
    }
    // The unfinished line held back is completed by the chunk's first line and decoded apart, so the
    // rest of the chunk is decoded in place rather than copied behind it.
    let text = "";
    let start = 0;
    if (this.pendingBytes.length > 0) {
      start = chunk.indexOf(LF) + 1;
      text = this.decode(join(this.pendingBytes, chunk.subarray(0, start)));
    }
    text += this.decode(chunk.subarray(start, lastLf + 1));
    this.decoded += this.pendingBytes.length + lastLf + 1;
    // Copied: the caller may reuse its chunk (and a Buffer's slice() would only be a view).
    this.pendingBytes = new Uint8Array(chunk.subarray(lastLf + 1));
    this.parse(text, false, onRecord);
  }

  /** Ends the stream: a last record without a line terminator is handed out too. */
  finish(onRecord: RecordCallback): void {
    const rest = this.pendingBytes;
    this.pendingBytes = EMPTY;
    this.decoded += rest.length;
    this.parse(this.decode(rest), true, onRecord);
  }

  /** Bytes held back because their record has no terminator yet. */
  get unterminated(): number {
    return this.pendingBytes.length + Buffer.byteLength(this.text);
  }

  /** Stream offset just past the last whole record. */
  get consumed(): number {
    return this.decoded - Buffer.byteLength(this.text);
  }

  /**
   * Whole lines only, so no UTF-8 sequence is ever cut. Buffer's decoder keeps U+FEFF, which is dropped
   * at the start of the stream only (TextDecoder drops it at the start of every call, and is slower).
   */
  private decode(bytes: Uint8Array): string {
    let text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    if (this.atStart && (text.length > 0 || this.decoded > 0)) {
      this.atStart = false;
      if (text.startsWith(BOM)) text = text.slice(1);
    }
    return text;
  }

  private parse(added: string, final: boolean, onRecord: RecordCallback): void {
    const text = this.text + added;
    if (text.indexOf('"') < 0) return this.parseUnquoted(text, final, onRecord);
    let pos = 0;
    // Where the next quote is: searched again only once passed, so quote-free text is scanned once.
    let quote = text.indexOf('"');
    while (pos < text.length) {
      let lf = text.indexOf("\n", pos);
      if (lf < 0) {
        if (!final) break;
        lf = text.length;
      }
      if (quote >= 0 && quote < pos) quote = text.indexOf('"', pos);
      if (quote < 0 || quote > lf) {
        const end = lf > pos && text.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
        if (end > pos) onRecord({ fields: text.slice(pos, end).split(","), line: this.line });
        this.line++;
        pos = lf + 1;
        continue;
      }
      const next = this.parseQuoted(text, pos, final, onRecord);
      if (next < 0) break;
      pos = next;
    }
    this.text = pos >= text.length ? "" : text.slice(pos);
    if (this.text.length > MAX_RECORD_BYTES) {
      this.text = "";
      this.dropOverlongText(text, pos, onRecord);
    }
  }

  /** Text without any quote, nearly every chunk of a bets file: lines and fields by native splits. */
  private parseUnquoted(text: string, final: boolean, onRecord: RecordCallback): void {
    const lines = text.split("\n");
    // The piece after the last LF is an unfinished line, unless the stream ends here.
    const rest = final ? "" : lines.pop()!;
    for (let line of lines) {
      if (line.charCodeAt(line.length - 1) === 0x0d) line = line.slice(0, -1);
      if (line.length > 0) onRecord({ fields: line.split(","), line: this.line });
      this.line++;
    }
    this.text = rest;
  }

  /**
   * A record with quotes, character by character. Returns the position after it, or -1 when the
   * text ends inside it and more may come.
   */
  private parseQuoted(text: string, start: number, final: boolean, onRecord: RecordCallback): number {
    const fields: string[] = [];
    let error: string | undefined;
    let lines = 0;
    let field = "";
    let i = start;
    let fieldStart = start;
    for (;;) {
      if (text.charCodeAt(i) === 0x22 && i === fieldStart) {
        // Quoted field: up to the closing quote, a doubled quote stands for one.
        let j = i + 1;
        for (;;) {
          const close = text.indexOf('"', j);
          if (close < 0) {
            if (!final) return -1;
            error ??= "unterminated quoted field";
            field += text.slice(j);
            j = text.length;
            break;
          }
          field += text.slice(j, close);
          if (close + 1 >= text.length && !final) return -1;
          if (text.charCodeAt(close + 1) === 0x22) {
            field += '"';
            j = close + 2;
            continue;
          }
          j = close + 1;
          break;
        }
        lines += countLineBreaks(text, i, j);
        i = j;
        // Anything up to the next separator is kept, as Python's reader does, but flagged.
        const tail = i;
        while (i < text.length && !isSeparator(text.charCodeAt(i))) i++;
        if (i > tail && !(i === tail + 1 && text.charCodeAt(tail) === 0x0d)) error ??= "text after a closing quote";
        field += text.slice(tail, i).replace(/\r$/, "");
      } else {
        while (i < text.length && !isSeparator(text.charCodeAt(i))) {
          if (text.charCodeAt(i) === 0x22) error ??= "quote inside an unquoted field";
          i++;
        }
        const end = text.charCodeAt(i - 1) === 0x0d && text.charCodeAt(i) !== 0x2c ? i - 1 : i;
        field += text.slice(fieldStart, end);
      }
      fields.push(field);
      field = "";
      if (i >= text.length) {
        if (!final) return -1;
        break;
      }
      if (text.charCodeAt(i) === 0x2c) {
        fieldStart = ++i;
        if (i >= text.length && !final) return -1;
        continue;
      }
      i++; // the LF
      break;
    }
    onRecord({ fields: error ? undefined : fields, error, line: this.line });
    this.line += lines + 1;
    return i;
  }

  /** A line with no LF for too long (a binary file): report it once and skip to its end. */
  private dropOverlongLine(onRecord: RecordCallback): void {
    // The text's bytes were counted in `decoded` when it was decoded; the lines it spans were not.
    const line = this.line;
    this.line += countLineBreaks(this.text, 0, this.text.length) + 1;
    this.decoded += this.pendingBytes.length;
    this.pendingBytes = EMPTY;
    this.text = "";
    this.skipping = true;
    onRecord({ fields: undefined, error: `record longer than ${MAX_RECORD_BYTES} bytes`, line });
  }

  /** A quoted record that never closes: report it and go on after the line it started on. */
  private dropOverlongText(text: string, start: number, onRecord: RecordCallback): void {
    const lf = text.indexOf("\n", start);
    onRecord({ fields: undefined, error: `record longer than ${MAX_RECORD_BYTES} bytes`, line: this.line++ });
    this.text = "";
    this.parse(text.slice(lf + 1), false, onRecord);
  }
}

function isSeparator(code: number): boolean {
  return code === 0x2c || code === 0x0a;
}

function countLineBreaks(text: string, start: number, end: number): number {
  let count = 0;
  for (let i = text.indexOf("\n", start); i >= 0 && i < end; i = text.indexOf("\n", i + 1)) count++;
  return count;
}
