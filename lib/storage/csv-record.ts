// A CSV record as the reader hands it out: its fields are byte ranges, decoded only where text is needed.
import { rangeText } from "../util/utf8.ts";

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

