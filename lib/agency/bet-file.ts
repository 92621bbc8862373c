import { InvalidBetError, validateBet, type Bet } from "../bet.ts";
import { CsvParser, type CsvRecord } from "../csv.ts";

export interface InvalidRow {
  line: number;
  error: string;
}

const FIELDS_PER_ROW = 5;

/**
 * Streams an agency's bets file (first_name,last_name,document,birthdate,number; RFC 4180, UTF-8 with or
 * without BOM, CRLF or LF), validating each row with the rules the central applies. It is never read
 * whole: valid bets come out chunk by chunk; invalid rows go to `onInvalid` with their line.
 */
export class BetFile {
  private reader: { cancel(): Promise<void> } | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly agency: number,
    private readonly onInvalid: (row: InvalidRow) => void,
  ) {}

  /** The valid bets of the file, in file order, a chunk's worth at a time. */
  async *batches(): AsyncGenerator<Bet[]> {
    const file = Bun.file(this.path);
    if (!(await file.exists())) throw new Error(`bets file ${this.path} does not exist`);
    const parser = new CsvParser();
    const reader = file.stream().getReader();
    this.reader = reader;
    let bets: Bet[] = [];
    const onRecord = (record: CsvRecord) => {
      const bet = this.validate(record);
      if (bet) bets.push(bet);
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.closed) break;
        parser.push(value, onRecord);
        if (bets.length > 0) {
          yield bets;
          bets = [];
        }
      }
      if (!this.closed) parser.finish(onRecord);
      if (bets.length > 0) yield bets;
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

  private validate(record: CsvRecord): Bet | undefined {
    const { fields, line } = record;
    if (!fields) {
      this.onInvalid({ line, error: `malformed CSV: ${record.error}` });
      return undefined;
    }
    if (fields.length !== FIELDS_PER_ROW) {
      this.onInvalid({ line, error: `expected ${FIELDS_PER_ROW} fields, got ${fields.length}` });
      return undefined;
    }
    try {
      return validateBet(this.agency, {
        firstName: fields[0]!,
        lastName: fields[1]!,
        document: fields[2]!,
        birthdate: fields[3]!,
        number: fields[4]!,
      });
    } catch (error) {
      if (!(error instanceof InvalidBetError)) throw error;
      this.onInvalid({ line, error: error.message });
      return undefined;
    }
  }
}
