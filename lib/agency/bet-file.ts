import { BET_FIELD_COUNT, betFieldsError } from "../bet.ts";
import { BetBlock } from "../bet-block.ts";
import { CsvParser, type CsvRecord } from "../csv.ts";

export interface InvalidRow {
  line: number;
  error: string;
}

/**
 * Streams an agency's bets file (first_name,last_name,document,birthdate,number; RFC 4180, UTF-8 with or
 * without BOM, CRLF or LF), validating each row with the rules the central applies. It is never read
 * whole: valid bets come out chunk by chunk, already encoded as blocks; invalid rows go to `onInvalid`
 * with their line.
 */
export class BetFile {
  private reader: { cancel(): Promise<void> } | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly onInvalid: (row: InvalidRow) => void,
  ) {}

  /** The valid bets of the file, in file order, a chunk's worth at a time. */
  async *blocks(): AsyncGenerator<BetBlock> {
    const file = Bun.file(this.path);
    if (!(await file.exists())) throw new Error(`bets file ${this.path} does not exist`);
    const parser = new CsvParser();
    const reader = file.stream().getReader();
    this.reader = reader;
    let block = new BetBlock();
    const onRecord = (record: CsvRecord) => {
      const error = record.error ? `malformed CSV: ${record.error}` : this.rowError(record);
      if (error) this.onInvalid({ line: record.line, error });
      else block.append(record.bytes, record.ranges);
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.closed) break;
        parser.push(value, onRecord);
        if (block.count > 0) {
          yield block;
          block = new BetBlock();
        }
      }
      if (!this.closed) parser.finish(onRecord);
      if (block.count > 0) yield block;
    } finally {
      await this.close();
    }
  }

  /** Stops reading and releases the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.reader?.cancel().catch(() => undefined);
  }

  private rowError(record: CsvRecord): string | undefined {
    if (record.fieldCount !== BET_FIELD_COUNT) return `expected ${BET_FIELD_COUNT} fields, got ${record.fieldCount}`;
    return betFieldsError(record.bytes, record.ranges);
  }
}
