import { BET_FIELD_COUNT, betFieldsError } from "../bet/bet.ts";
import { BetBlock } from "../bet/bet-block.ts";
import type { CsvRecord } from "../storage/csv-record.ts";
import { CsvParser } from "../storage/csv-reader.ts";
import type { BetSource } from "./bet-source.ts";
// Synchronous reads: a chunk comes from the page cache in microseconds, where a promise per chunk
// costs more than the read; node:fs is loaded anyway (the logger writes through it).
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** Bytes read from the file at a time: small enough that the first batches leave soon after start-up. */
const READ_BYTES = 64 * 1024;
/** Blocks kept for reuse: a window's worth of batches spans a few of them. */
const MAX_SPARE_BLOCKS = 8;
/** A chunk's bets take about 1.4 times its bytes once encoded (a length before each field, not a separator after it). */
const BLOCK_BYTES = 96 * 1024;

export interface InvalidRow {
  line: number;
  error: string;
}

/**
 * Streams an agency's bets file (first_name,last_name,document,birthdate,number; RFC 4180, UTF-8 with or
 * without BOM, CRLF or LF), validating each row with the rules the central applies. It is never read
 * whole: it is read into one reused buffer, and valid bets come out chunk by chunk, already encoded as
 * blocks; invalid rows go to `onInvalid` with their line.
 */
export class BetFile implements BetSource {
  private fd: number | undefined;
  private closed = false;
  /** Blocks handed back once their bets were acknowledged, to be filled again. */
  private readonly spare: BetBlock[] = [];
  /** Bytes read so far, and the file's size when reading began: how far through the file the agency is. */
  bytesRead = 0;
  size = 0;

  constructor(
    /** The file's path, as the config gives it. */
    readonly name: string,
    private readonly onInvalid: (row: InvalidRow) => void,
  ) {}

  /** The valid bets of the file, in file order, a chunk's worth at a time. */
  async *blocks(): AsyncGenerator<BetBlock> {
    // Closed before the first read (a stop during start-up): nothing to open, so nothing to leak.
    if (this.closed) return;
    let fd: number;
    try {
      fd = openSync(this.name, "r");
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === "ENOENT" ? new Error(`bets file ${this.name} does not exist`) : error;
    }
    this.fd = fd;
    this.size = fstatSync(fd).size;
    const parser = new CsvParser();
    const chunk = new Uint8Array(READ_BYTES);
    let block = this.nextBlock();
    const onRecord = (record: CsvRecord) => {
      const error = record.error ? `malformed CSV: ${record.error}` : this.rowError(record);
      if (error) this.onInvalid({ line: record.line, error });
      else block.append(record.bytes, record.ranges);
    };
    try {
      for (;;) {
        // Closed while the last block was out (a stop): its descriptor may already be another file's.
        if (this.closed) break;
        const bytesRead = readSync(fd, chunk, 0, READ_BYTES, null);
        if (bytesRead === 0) break;
        this.bytesRead += bytesRead;
        // The parser copies whatever it keeps past the call, so the buffer can be read into again.
        parser.push(chunk.subarray(0, bytesRead), onRecord);
        if (block.count > 0) {
          yield block;
          block = this.nextBlock();
        }
      }
      if (!this.closed) parser.finish(onRecord);
      if (block.count > 0) yield block;
    } finally {
      this.close();
    }
  }

  /**
   * Takes back a block whose bets are no longer needed: reusing its memory spares the allocation and
   * the page faults of a new one for every chunk of the file.
   */
  recycle(block: BetBlock): void {
    if (this.spare.length >= MAX_SPARE_BLOCKS) return;
    block.clear();
    this.spare.push(block);
  }

  /** Stops reading and releases the file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Nothing is left to read from it: a failed close loses nothing.
    }
  }

  private nextBlock(): BetBlock {
    return this.spare.pop() ?? new BetBlock(BLOCK_BYTES);
  }

  private rowError(record: CsvRecord): string | undefined {
    if (record.fieldCount !== BET_FIELD_COUNT) return `expected ${BET_FIELD_COUNT} fields, got ${record.fieldCount}`;
    return betFieldsError(record.bytes, record.ranges, 0, record.fieldsAreUtf8);
  }
}
