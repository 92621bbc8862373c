// Finding where a CSV record ends, which only its quoting decides, across the chunks it arrives in.

const LF = 0x0a;
const QUOTE = 0x22;
const COMMA = 0x2c;

/**
 * Longest line the reader takes, and longest stretch of whole lines a record with quotes may span; anything
 * longer is reported as malformed, however the bytes are split into chunks. Bets are far shorter.
 */
export const MAX_RECORD_BYTES = 64 * 1024;

// How the bytes scanned so far leave a record's quoting, which decides whether an LF ends it.
const FIELD_START = 0;
const UNQUOTED = 1; // in an unquoted field, or after a closing quote
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3; // a quote inside a quoted field: the next byte tells a doubled quote from the closing one

/** What scan returns besides the index of the LF that ends the record. */
export const UNFINISHED = -1;
export const OVERLONG = -2;

/**
 * How far the record being delimited has been scanned. Offsets count from the record's start, so they hold
 * when the record moves into the reader's carry between chunks.
 */
export class RecordScan {
  private state = FIELD_START;
  /** Bytes of the record scanned so far. */
  scanned = 0;
  /** Offset of the line the scan is in (a record with quotes can span lines). */
  private lineStart = 0;
  /** Offset of its first LF inside quotes, if any. */
  firstLf = -1;
  /** LFs inside quotes scanned so far: lines the record takes beyond its first. */
  innerLfs = 0;

  /** For a new record. */
  reset(): void {
    this.state = FIELD_START;
    this.scanned = 0;
    this.lineStart = 0;
    this.firstLf = -1;
    this.innerLfs = 0;
  }

  /** For bytes held while they may be a BOM, which turn out to be a record's start: `held` of them, unquoted. */
  resumeUnquoted(held: number): void {
    this.state = UNQUOTED;
    this.scanned = held;
  }

  /**
   * Scans the record starting at `start` (negative when its first bytes are in the carry) for the LF that ends
   * it, going on from where the last scan of it stopped. Returns that LF's index; UNFINISHED when the bytes end
   * first, the state being kept for the next ones; OVERLONG when the record passes the length limit, with
   * `scanned` where it did.
   */
  scan(bytes: Uint8Array, start: number): number {
    let state = this.state;
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
    this.state = state;
    this.scanned = i - start;
    return this.scanned - this.lineStart > MAX_RECORD_BYTES ? OVERLONG : UNFINISHED;
  }

  /** The record passed the limit with its lines together (a quote never closed), not with one line alone. */
  get overlongAcrossLines(): boolean {
    return this.scanned - this.lineStart <= MAX_RECORD_BYTES;
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
}
