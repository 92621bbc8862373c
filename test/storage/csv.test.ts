// CSV: rows written the way Python's csv module writes them, and the streaming RFC 4180 parser the
// agencies read their files with (BOM, CRLF/LF, quoted fields, line numbers, any chunking).
import { describe, expect, test } from "bun:test";
import { type CsvRecord, fieldText, recordFields } from "../../lib/storage/csv-record.ts";
import { CsvParser } from "../../lib/storage/csv-reader.ts";
import { MAX_RECORD_BYTES } from "../../lib/storage/csv-scan.ts";
import { csvRow, CsvWriter } from "../../lib/storage/csv-writer.ts";
import { isUtf8 } from "../../lib/util/utf8.ts";

/** A record as text: the parser's record object is reused, so the callbacks copy it out as this. */
interface Row {
  /** The fields, or undefined when the record is malformed (see `error`). */
  fields: string[] | undefined;
  error?: string;
  line: number;
}

function row(record: CsvRecord): Row {
  if (record.error) return { fields: undefined, error: record.error, line: record.line };
  return { fields: recordFields(record), line: record.line };
}

interface Parsed {
  records: Row[];
  parser: CsvParser;
}

/** Feeds the chunks, then finishes the stream. */
function parseChunks(chunks: Uint8Array[], finish = true): Parsed {
  const parser = new CsvParser();
  const records: Row[] = [];
  for (const chunk of chunks) parser.push(chunk, (record) => records.push(row(record)));
  if (finish) parser.finish((record) => records.push(row(record)));
  return { records, parser };
}

/** The input cut into chunks of `size` bytes. */
function chunked(input: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size));
  return chunks;
}

function bytes(text: string): Buffer {
  return Buffer.from(text, "utf8");
}

/** Builds a stream from parts and the records it must yield. */
function stream(parts: [text: string | Buffer, record?: Row][]): { input: Buffer; expected: Row[] } {
  const buffers = parts.map(([text]) => (typeof text === "string" ? bytes(text) : text));
  const expected = parts.flatMap(([, record]) => (record ? [record] : []));
  return { input: Buffer.concat(buffers), expected };
}

/** Records as comparable values: a malformed record's error, else its fields, with its line. */
function summary(records: Row[]): unknown[] {
  return records.map((r) => [r.fields ?? r.error, r.line]);
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

// A file with every feature at once; the numbers are the lines each record starts on.
const TRICKY = stream([
  [BOM],
  ["Ana,Pérez,1,2000-01-01,7\r\n", { fields: ["Ana", "Pérez", "1", "2000-01-01", "7"], line: 1 }],
  ["\r\n"], // blank line 2
  ['"Lorca, Santiago","say ""hi""",2\n', { fields: ["Lorca, Santiago", 'say "hi"', "2"], line: 3 }],
  ['"multi\r\nline",x\r\n', { fields: ["multi\r\nline", "x"], line: 4 }],
  ["\n"], // blank line 6
  ['"a\nb\nc",😀\r\n', { fields: ["a\nb\nc", "😀"], line: 7 }],
  ['"",trailing,\r\n', { fields: ["", "trailing", ""], line: 10 }],
  ["\r\n\r\n"], // blank lines 11 and 12
  ['"q""",end,"x"\n', { fields: ['q"', "end", "x"], line: 13 }],
  ["last,row", { fields: ["last", "row"], line: 14 }], // no terminator: only finish() hands it out
]);

describe("csvRow writes what Python's csv writer writes", () => {
  test("minimal quoting, doubled quotes, CRLF terminator", () => {
    // Reference: csv.writer(f).writerow(...) under CPython 3.
    expect(csvRow(["1", "a,b", 'say "hi"', "x\r\ny", "Péña", "😀", "", " sp", "tab\there"])).toBe(
      '1,"a,b","say ""hi""","x\r\ny",Péña,😀,, sp,tab\there\r\n',
    );
    expect(csvRow(["a\rb", "c\nd"])).toBe('"a\rb","c\nd"\r\n');
  });

  test("a field is quoted only when it needs to be", () => {
    expect(csvRow(["plain text"])).toBe("plain text\r\n");
    expect(csvRow(["", ""])).toBe(",\r\n");
    expect(csvRow(['"'])).toBe('""""\r\n');
    expect(csvRow(["a,b"])).toBe('"a,b"\r\n');
  });

  test("what csvRow writes, the parser reads back unchanged", () => {
    const rows = [
      ["1", "a,b", 'say "hi"', "x\r\ny", "Péña", "😀"],
      ["", "", ""],
      ['"', '""', ",", "\r", "\n", "\r\n"],
      ["trailing space ", " leading", "ünïcödé"],
    ];
    const { records } = parseChunks([bytes(rows.map(csvRow).join(""))]);
    expect(records.map((r) => r.fields)).toEqual(rows);
  });
});

describe("CsvParser", () => {
  test("the tricky file in one chunk", () => {
    const { records, parser } = parseChunks([TRICKY.input]);
    expect(summary(records)).toEqual(summary(TRICKY.expected));
    expect(parser.consumed).toBe(TRICKY.input.length);
    expect(parser.unterminated).toBe(0);
  });

  test("a last row without terminator waits for finish()", () => {
    const { records, parser } = parseChunks([TRICKY.input], false);
    expect(summary(records)).toEqual(summary(TRICKY.expected.slice(0, -1)));
    expect(parser.unterminated).toBe(bytes("last,row").length);
    // consumed: just past the last whole record, where a torn write would be cut.
    expect(parser.consumed).toBe(TRICKY.input.length - bytes("last,row").length);
  });

  test("split into two chunks at every byte offset", () => {
    for (let split = 0; split <= TRICKY.input.length; split++) {
      const { records } = parseChunks([TRICKY.input.subarray(0, split), TRICKY.input.subarray(split)]);
      expect({ split, records: summary(records) }).toEqual({ split, records: summary(TRICKY.expected) });
    }
  });

  test("one byte at a time", () => {
    const chunks = [...TRICKY.input].map((byte) => Uint8Array.of(byte));
    const { records, parser } = parseChunks(chunks);
    expect(summary(records)).toEqual(summary(TRICKY.expected));
    expect(parser.consumed).toBe(TRICKY.input.length);
  });

  test("records are handed out as soon as their terminator arrives", () => {
    const parser = new CsvParser();
    const seen: string[][] = [];
    const push = (text: string) => parser.push(bytes(text), (r) => seen.push(recordFields(r)));
    push("a,b\r");
    expect(seen).toEqual([]); // an LF may still follow the CR
    push("\nc,");
    expect(seen).toEqual([["a", "b"]]);
    push("d\n");
    expect(seen).toEqual([["a", "b"], ["c", "d"]]);
  });

  test("a chunk that is a subarray of a larger buffer is read within its bounds", () => {
    const backing = bytes("XXXXa,b\nYYYY");
    const { records } = parseChunks([backing.subarray(4, 8)]);
    expect(records.map((r) => r.fields)).toEqual([["a", "b"]]);
  });

  test("a BOM only at the very start is dropped; the same character later is data, however the bytes are split", () => {
    // Files concatenated with `cat` carry a BOM mid-file; Python's utf-8-sig keeps it there as data.
    const input = Buffer.concat([BOM, bytes("a\n"), BOM, bytes("b\n")]);
    for (let split = 0; split <= input.length; split++) {
      const { records } = parseChunks([input.subarray(0, split), input.subarray(split)]);
      expect({ split, fields: records.map((r) => r.fields) }).toEqual({ split, fields: [["a"], ["\uFEFFb"]] });
    }
  });

  test("first bytes that begin like a BOM but are not one are data, however the bytes are split", () => {
    // U+FEC0 is EF BB 80: it shares the BOM's first two bytes.
    const input = bytes("\uFEC0a,b\nc\n");
    for (let split = 0; split <= input.length; split++) {
      const { records } = parseChunks([input.subarray(0, split), input.subarray(split)]);
      expect({ split, fields: records.map((r) => r.fields) }).toEqual({ split, fields: [["\uFEC0a", "b"], ["c"]] });
    }
  });

  test("a file that is only a BOM, or empty, has no records", () => {
    expect(parseChunks([BOM]).records).toEqual([]);
    expect(parseChunks([BOM.subarray(0, 2), BOM.subarray(2)]).records).toEqual([]);
    expect(parseChunks([]).records).toEqual([]);
    expect(parseChunks([bytes("\r\n\n\r\n")]).records).toEqual([]);
  });

  test("LF, CRLF and mixed line ends give the same records", () => {
    const rows = [["Ana", "Pérez"], ["Juan", "Díaz"], ["Sofía", "López"]];
    for (const input of ["Ana,Pérez\nJuan,Díaz\nSofía,López\n", "Ana,Pérez\r\nJuan,Díaz\r\nSofía,López\r\n", "Ana,Pérez\r\nJuan,Díaz\nSofía,López\r\n"]) {
      const { records } = parseChunks([bytes(input)]);
      expect(records.map((r) => [r.fields, r.line])).toEqual(rows.map((row, i) => [row, i + 1]));
    }
  });

  test("a trailing comma at the end of the stream is an empty last field", () => {
    expect(parseChunks([bytes("a,")]).records.map((r) => r.fields)).toEqual([["a", ""]]);
    expect(parseChunks([bytes("a,"), bytes("")]).records.map((r) => r.fields)).toEqual([["a", ""]]);
  });

  test("records without quotes point into the chunk, records with quotes into a scratch buffer; the record is reused", () => {
    const chunk = bytes('ab,c\n"x,""y""",z\n');
    const parser = new CsvParser();
    const seen: { record: CsvRecord; inChunk: boolean; ranges: number[]; fields: string[] }[] = [];
    parser.push(chunk, (record) =>
      seen.push({
        record,
        inChunk: record.bytes === chunk,
        ranges: [...record.ranges.subarray(0, 2 * record.fieldCount)],
        fields: recordFields(record),
      }),
    );
    expect(seen.map(({ inChunk, fields }) => [inChunk, fields])).toEqual([
      [true, ["ab", "c"]],
      [false, ['x,"y"', "z"]],
    ]);
    expect(seen[0]!.ranges).toEqual([0, 2, 3, 4]);
    expect(seen[1]!.record).toBe(seen[0]!.record);
  });

  test("fieldText decodes one field", () => {
    const parser = new CsvParser();
    const texts: string[] = [];
    parser.push(bytes('Sofía,"Núñez, 😀"\n'), (record) => texts.push(fieldText(record, 1), fieldText(record, 0)));
    expect(texts).toEqual(["Núñez, 😀", "Sofía"]);
  });

  test("a record cut between chunks is copied: the caller may reuse its chunk", () => {
    const parser = new CsvParser();
    const seen: string[][] = [];
    const buffer = new Uint8Array(8);
    const push = (text: string) => {
      const data = bytes(text);
      buffer.fill(0x7a); // a reader reusing its buffer overwrites the previous chunk
      buffer.set(data);
      parser.push(buffer.subarray(0, data.length), (r) => seen.push(recordFields(r)));
    };
    push("a,bc");
    push('d\n"e,');
    push('f",g\nh');
    push("\n");
    expect(seen).toEqual([["a", "bcd"], ["e,f", "g"], ["h"]]);
  });

  test("multi-byte characters cut between chunks come out whole", () => {
    const input = bytes('😀é,€\n"😀,é",x€\n𝄞\n');
    const expected = [["😀é", "€"], ["😀,é", "x€"], ["𝄞"]];
    for (let split = 0; split <= input.length; split++) {
      const { records } = parseChunks([input.subarray(0, split), input.subarray(split)]);
      expect({ split, fields: records.map((r) => r.fields) }).toEqual({ split, fields: expected });
    }
    expect(parseChunks(chunked(input, 1)).records.map((r) => r.fields)).toEqual(expected);
  });

  test("records with many fields, with and without quotes, at every chunk size", () => {
    const many = Array.from({ length: 100 }, (_, i) => `f${i}`);
    const quoted = many.map((field, i) => (i % 10 === 0 ? `${field},"q"` : field));
    const input = bytes(csvRow(many) + csvRow(quoted) + csvRow(many));
    for (const size of [1, 3, 64, input.length]) {
      expect(parseChunks(chunked(input, size)).records.map((r) => r.fields)).toEqual([many, quoted, many]);
    }
  });
});

describe("CsvParser says when a record's fields are known UTF-8", () => {
  // Mostly ASCII and whole characters, sometimes a byte that breaks or splits one.
  const PIECES = [..."aab, \"\r\n\n\n", "é", "€", "😀"].map((c) => [...Buffer.from(c)]);
  const STRAY = [0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xff];
  const randomBytes = (pieces: number) =>
    Uint8Array.from(
      Array.from({ length: pieces }, () =>
        Math.random() < 0.03 ? [STRAY[Math.floor(Math.random() * STRAY.length)]!] : PIECES[Math.floor(Math.random() * PIECES.length)]!,
      ).flat(),
    );
  const known = (bytes: Uint8Array, cuts: number[]) => {
    const parser = new CsvParser();
    const seen: { fields: boolean[]; known: boolean }[] = [];
    const onRecord = (record: CsvRecord) => {
      const fields = Array.from({ length: record.fieldCount }, (_, i) => isUtf8(record.bytes, record.ranges[2 * i]!, record.ranges[2 * i + 1]!));
      seen.push({ fields, known: record.fieldsAreUtf8 });
    };
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      parser.push(bytes.subarray(from, cut), onRecord);
      from = cut;
    }
    parser.finish(onRecord);
    return seen;
  };

  test("lines valid as a whole are known; a broken line, a record cut between chunks or one with quotes is not", () => {
    const text = Buffer.from("José,Peña\nAna,Zoë\n");
    expect(known(text, []).map((r) => r.known)).toEqual([true, true]);
    // Cut inside "é": the record cut between the chunks is not known (the rules read it), the next line is.
    expect(known(text, [4]).map((r) => r.known)).toEqual([false, true]);
    const broken = Buffer.concat([Buffer.from("Ana,Li\nB"), Buffer.from([0xc3]), Buffer.from(",x\n")]);
    expect(known(broken, []).map((r) => r.known)).toEqual([false, false]);
    expect(known(Buffer.from('"José",Peña\nAna,Li\n'), []).map((r) => r.known)).toEqual([false, true]);
  });

  test("a record said to be known has every field valid UTF-8 on its own, for random bytes cut at random", () => {
    let knownRecords = 0;
    for (let n = 0; n < 3000; n++) {
      const bytes = randomBytes(1 + Math.floor(Math.random() * 60));
      const cuts = Array.from({ length: Math.floor(Math.random() * 3) }, () => Math.floor(Math.random() * bytes.length)).sort((a, b) => a - b);
      for (const record of known(bytes, cuts)) {
        if (!record.known) continue;
        knownRecords++;
        expect(record.fields.every(Boolean)).toBe(true);
      }
    }
    // The test means something only if many records were known.
    expect(knownRecords).toBeGreaterThan(1000);
  });
});

describe("CsvParser malformed rows", () => {
  test("a quote inside an unquoted field is reported with its line, and parsing goes on", () => {
    const { records } = parseChunks([bytes('ok,1\r\nsay "hi",2\r\nnext,3\r\n')]);
    expect(records.map((r) => [r.fields, r.error, r.line])).toEqual([
      [["ok", "1"], undefined, 1],
      [undefined, "quote inside an unquoted field", 2],
      [["next", "3"], undefined, 3],
    ]);
  });

  test("text after a closing quote is reported", () => {
    const { records } = parseChunks([bytes('"a"b,1\nnext,2\n')]);
    expect(records.map((r) => [r.fields, r.error, r.line])).toEqual([
      [undefined, "text after a closing quote", 1],
      [["next", "2"], undefined, 2],
    ]);
  });

  test("lines after a malformed multi-line record keep their numbers", () => {
    const { records } = parseChunks([bytes('"a\r\nb\nc"x,1\nnext,2\n')]);
    expect(records.map((r) => [r.error, r.line])).toEqual([
      ["text after a closing quote", 1],
      [undefined, 4],
    ]);
  });

  test("malformed rows are reported on the same lines at every split point", () => {
    const input = bytes('ok,1\r\nsay "hi",2\n"a\r\nb"x,3\n\nnext,4\r\n"never closed\nrest');
    const expected = [
      [["ok", "1"], 1],
      ["quote inside an unquoted field", 2],
      ["text after a closing quote", 3],
      [["next", "4"], 6],
      ["unterminated quoted field", 7],
    ];
    for (let split = 0; split <= input.length; split++) {
      const { records } = parseChunks([input.subarray(0, split), input.subarray(split)]);
      expect({ split, records: summary(records) }).toEqual({ split, records: expected });
    }
  });

  test("an unterminated quote at the end of the stream is reported by finish()", () => {
    const parser = new CsvParser();
    const records: Row[] = [];
    parser.push(bytes('ok,1\n\n"never closed,2\nmore'), (r) => records.push(row(r)));
    expect(records.map((r) => r.fields)).toEqual([["ok", "1"]]);
    parser.finish((r) => records.push(row(r)));
    expect(records.map((r) => [r.fields, r.error, r.line])).toEqual([
      [["ok", "1"], undefined, 1],
      [undefined, "unterminated quoted field", 3],
    ]);
  });

  test("after an overlong record opened by an unclosed quote, lines and consumed stay true", () => {
    // The unclosed quote swallows its line's LF; the junk that follows has none for too long.
    const parser = new CsvParser();
    const records: Row[] = [];
    const input = [bytes('ok,1\n"abc\n'), bytes("x".repeat(MAX_RECORD_BYTES + 10)), bytes("\nnext,2\n")];
    let pushed = 0;
    for (const chunk of input) {
      parser.push(chunk, (r) => records.push(row(r)));
      pushed += chunk.length;
      expect(parser.consumed).toBeLessThanOrEqual(pushed);
    }
    parser.finish((r) => records.push(row(r)));
    expect(parser.consumed).toBe(pushed);
    // Lines: 1 ok,1 | 2 "abc | 3 the junk | 4 next,2
    expect(summary(records)).toEqual([
      [["ok", "1"], 1],
      [`record longer than ${MAX_RECORD_BYTES} bytes`, 2],
      [["next", "2"], 4],
    ]);
  });

  test("an overlong record is reported once and does not buffer the rest of the stream", () => {
    const parser = new CsvParser();
    const records: Row[] = [];
    const chunk = bytes("x".repeat(4096));
    let peak = 0;
    parser.push(bytes("first,1\n"), (r) => records.push(row(r)));
    for (let i = 0; i < (3 * MAX_RECORD_BYTES) / chunk.length; i++) {
      parser.push(chunk, (r) => records.push(row(r)));
      peak = Math.max(peak, parser.unterminated);
    }
    parser.push(bytes("\nafter,2\n"), (r) => records.push(row(r)));
    parser.finish((r) => records.push(row(r)));
    expect(peak).toBeLessThanOrEqual(MAX_RECORD_BYTES + chunk.length);
    expect(records.map((r) => [r.fields, r.error, r.line])).toEqual([
      [["first", "1"], undefined, 1],
      [undefined, `record longer than ${MAX_RECORD_BYTES} bytes`, 2],
      [["after", "2"], undefined, 3],
    ]);
  });

  test("a line longer than the limit is reported however the bytes are split, one of the limit's length is not", () => {
    const overlong = "x".repeat(MAX_RECORD_BYTES + 1);
    const longest = "y".repeat(MAX_RECORD_BYTES);
    const input = bytes(`a,1\r\n${overlong}\r\n${longest}\nb,2\n`);
    for (const size of [input.length, 65536, 4096, 1000, 7]) {
      const { records, parser } = parseChunks(chunked(input, size));
      expect({ size, records: summary(records) }).toEqual({
        size,
        records: [
          [["a", "1"], 1],
          [`record longer than ${MAX_RECORD_BYTES} bytes`, 2],
          [[longest], 3],
          [["b", "2"], 4],
        ],
      });
      expect(parser.consumed).toBe(input.length);
    }
  });

  test("a quote never closed is reported once its lines pass the limit, and the lines it took in are read again", () => {
    // The stray quote on line 2 would swallow the rest of the file; only its own line is lost.
    const rows = Array.from({ length: 20_000 }, (_, i) => ["row", String(i)]);
    const input = bytes(`ok,1\n"stray,2\n${rows.map(csvRow).join("")}end,3\n`);
    const expected = [
      [["ok", "1"], 1],
      [`record longer than ${MAX_RECORD_BYTES} bytes`, 2],
      ...rows.map((row, i) => [row, i + 3]),
      [["end", "3"], rows.length + 3],
    ];
    for (const size of [input.length, 65536, 4096, 1000, 7]) {
      const { records, parser } = parseChunks(chunked(input, size));
      expect({ size, records: summary(records) }).toEqual({ size, records: expected });
      expect(parser.consumed).toBe(input.length);
    }
  });

  test("a quoted field spanning more lines than the limit allows is reported however the bytes are split", () => {
    const input = bytes(`"${"z\n".repeat(MAX_RECORD_BYTES / 2)}",1\nend,2\n`);
    const lines = MAX_RECORD_BYTES / 2;
    const expected = [
      [`record longer than ${MAX_RECORD_BYTES} bytes`, 1],
      ...Array.from({ length: lines - 1 }, (_, i) => [["z"], i + 2]),
      // The field's closing quote now opens one, which the end of the stream leaves unterminated.
      ["unterminated quoted field", lines + 1],
    ];
    for (const size of [input.length, 65536, 4096, 7]) {
      const { records } = parseChunks(chunked(input, size));
      expect({ size, records: summary(records) }).toEqual({ size, records: expected });
    }
  });
});

describe("CsvWriter", () => {
  const TRICKY_ROWS = [
    ["1", "a,b", 'say "hi"', "x\r\ny", "Péña", "😀", "", " sp", "tab\there"],
    ["", "", ""],
    ['"', '""', ",", "\r", "\n", "\r\n"],
    ["trailing space ", " leading", "ünïcödé", "𝄞 and 😀, quoted", '😀"'],
    ["only"],
  ];

  /** Writes each field from its own larger buffer, at an offset, as stored rows are written from records. */
  function writeRows(writer: CsvWriter, rows: string[][]): void {
    for (const row of rows) {
      for (const field of row) {
        const backing = bytes(`<<${field}>>`);
        writer.field(backing, 2, backing.length - 2);
      }
      writer.endRow();
    }
  }

  test("writes what csvRow writes, and the parser reads it back unchanged", () => {
    const writer = new CsvWriter();
    writeRows(writer, TRICKY_ROWS);
    const written = writer.take();
    expect(Buffer.from(written).equals(bytes(TRICKY_ROWS.map(csvRow).join("")))).toBe(true);
    expect(parseChunks([written]).records.map((r) => r.fields)).toEqual(TRICKY_ROWS);
  });

  test("fields given as a list of ranges are written as field() writes each, quoted where they need it", () => {
    for (const row of TRICKY_ROWS) {
      // All the fields in one buffer, apart, with bytes between them that are no field's.
      const parts = row.map((field) => `<<${field}>>`);
      const backing = bytes(parts.join(""));
      const ranges = new Int32Array(2 * row.length + 2);
      let offset = 0;
      row.forEach((field, i) => {
        ranges[2 + 2 * i] = offset + 2;
        ranges[3 + 2 * i] = offset + 2 + bytes(field).length;
        offset += bytes(parts[i]!).length;
      });
      const one = new CsvWriter();
      for (let i = 0; i < row.length; i++) one.field(backing, ranges[2 + 2 * i]!, ranges[3 + 2 * i]!);
      one.endRow();
      // From the ranges' second entry on, after an integer field, and twice in a row to pass the first buffer's end.
      const listed = new CsvWriter();
      for (let round = 0; round < 3000; round++) listed.fields(backing, ranges, 2, row.length).endRow();
      expect(Buffer.from(listed.take()).toString()).toBe(Buffer.from(one.take()).toString().repeat(3000));
      const after = new CsvWriter();
      after.integer(7).fields(backing, ranges, 2, row.length).fields(backing, ranges, 2, 0).endRow();
      expect(Buffer.from(after.take()).toString()).toBe(csvRow(["7", ...row]));
    }
  });

  test("digits are written as the integer they spell, without leading zeros; anything else is refused", () => {
    const writer = new CsvWriter();
    for (const text of ["0", "0000", "0042", "7574", "10", "9999999999"]) writer.digits(bytes(`x${text}x`), 1, text.length + 1);
    writer.endRow();
    expect(Buffer.from(writer.take()).toString()).toBe(csvRow(["0", "0", "42", "7574", "10", "9999999999"]));
    for (const text of ["", "12a", "-1", " 1", "1.5"]) {
      writer.integer(1);
      expect(() => writer.digits(bytes(text), 0, bytes(text).length)).toThrow(RangeError);
      writer.endRow();
    }
    // A refused field writes nothing.
    expect(Buffer.from(writer.take()).toString()).toBe("1\r\n".repeat(5));
  });

  test("integers are written as ASCII digits, beside fields", () => {
    const writer = new CsvWriter();
    writer.integer(0).integer(7).integer(1234567890).integer(Number.MAX_SAFE_INTEGER).endRow();
    writer.integer(42).field(bytes("a,b"), 0, 3).integer(10).endRow();
    expect(Buffer.from(writer.take()).toString()).toBe(
      csvRow(["0", "7", "1234567890", String(Number.MAX_SAFE_INTEGER)]) + csvRow(["42", "a,b", "10"]),
    );
    expect(() => writer.integer(-1)).toThrow(RangeError);
    expect(() => writer.integer(1.5)).toThrow(RangeError);
  });

  test("rewind drops a partly built row", () => {
    const writer = new CsvWriter();
    writer.integer(1).endRow();
    const mark = writer.length;
    writer.integer(2).field(bytes("torn"), 0, 4);
    writer.rewind(mark);
    writer.integer(3).endRow();
    expect(Buffer.from(writer.take()).toString()).toBe("1\r\n3\r\n");
    expect(() => writer.rewind(1)).toThrow(RangeError);
  });

  test("take hands out the rows written and empties the writer", () => {
    const writer = new CsvWriter();
    writer.integer(1).endRow().integer(3).endRow();
    expect(Buffer.from(writer.take()).toString()).toBe("1\r\n3\r\n");
    writer.integer(4).endRow();
    expect(Buffer.from(writer.take()).toString()).toBe("4\r\n");
  });

  test("grows past its first buffer without losing what was written", () => {
    const writer = new CsvWriter();
    const rows = Array.from({ length: 5000 }, (_, i) => [String(i), `name ${i}, "quoted"`, "é".repeat(i % 50)]);
    writeRows(writer, rows);
    expect(Buffer.from(writer.take()).equals(bytes(rows.map(csvRow).join("")))).toBe(true);
  });
});
