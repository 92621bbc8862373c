// CSV: rows written the way Python's csv module writes them, and the streaming RFC 4180 parser the
// agencies read their files with (BOM, CRLF/LF, quoted fields, line numbers, any chunking).
import { describe, expect, test } from "bun:test";
import { CsvParser, csvField, csvRow, MAX_RECORD_BYTES, type CsvRecord } from "../lib/csv.ts";

interface Parsed {
  records: CsvRecord[];
  parser: CsvParser;
}

/** Feeds the chunks, then finishes the stream. */
function parseChunks(chunks: Uint8Array[], finish = true): Parsed {
  const parser = new CsvParser();
  const records: CsvRecord[] = [];
  for (const chunk of chunks) parser.push(chunk, (record) => records.push(record));
  if (finish) parser.finish((record) => records.push(record));
  return { records, parser };
}

function bytes(text: string): Buffer {
  return Buffer.from(text, "utf8");
}

/** Builds a stream from parts and the records it must yield. */
function stream(parts: [text: string | Buffer, record?: CsvRecord][]): { input: Buffer; expected: CsvRecord[] } {
  const buffers = parts.map(([text]) => (typeof text === "string" ? bytes(text) : text));
  const expected = parts.flatMap(([, record]) => (record ? [record] : []));
  return { input: Buffer.concat(buffers), expected };
}

/** Records as comparable values: a malformed record's error, else its fields, with its line. */
function summary(records: CsvRecord[]): unknown[] {
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

describe("csvField and csvRow write what Python's csv writer writes", () => {
  test("minimal quoting, doubled quotes, CRLF terminator", () => {
    // Reference: csv.writer(f).writerow(...) under CPython 3.
    expect(csvRow(["1", "a,b", 'say "hi"', "x\r\ny", "Péña", "😀", "", " sp", "tab\there"])).toBe(
      '1,"a,b","say ""hi""","x\r\ny",Péña,😀,, sp,tab\there\r\n',
    );
    expect(csvRow(["a\rb", "c\nd"])).toBe('"a\rb","c\nd"\r\n');
  });

  test("csvField quotes only when needed", () => {
    expect(csvField("plain text")).toBe("plain text");
    expect(csvField("")).toBe("");
    expect(csvField('"')).toBe('""""');
    expect(csvField("a,b")).toBe('"a,b"');
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
    const push = (text: string) => parser.push(bytes(text), (r) => seen.push(r.fields!));
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
    const records: CsvRecord[] = [];
    parser.push(bytes('ok,1\n\n"never closed,2\nmore'), (r) => records.push(r));
    expect(records.map((r) => r.fields)).toEqual([["ok", "1"]]);
    parser.finish((r) => records.push(r));
    expect(records.map((r) => [r.fields, r.error, r.line])).toEqual([
      [["ok", "1"], undefined, 1],
      [undefined, "unterminated quoted field", 3],
    ]);
  });

  test("after an overlong record opened by an unclosed quote, lines and consumed stay true", () => {
    // The unclosed quote swallows its line's LF; the junk that follows has none for too long.
    const parser = new CsvParser();
    const records: CsvRecord[] = [];
    const input = [bytes('ok,1\n"abc\n'), bytes("x".repeat(MAX_RECORD_BYTES + 10)), bytes("\nnext,2\n")];
    let pushed = 0;
    for (const chunk of input) {
      parser.push(chunk, (r) => records.push(r));
      pushed += chunk.length;
      expect(parser.consumed).toBeLessThanOrEqual(pushed);
    }
    parser.finish((r) => records.push(r));
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
    const records: CsvRecord[] = [];
    const chunk = bytes("x".repeat(4096));
    let peak = 0;
    parser.push(bytes("first,1\n"), (r) => records.push(r));
    for (let i = 0; i < (3 * MAX_RECORD_BYTES) / chunk.length; i++) {
      parser.push(chunk, (r) => records.push(r));
      peak = Math.max(peak, parser.unterminated);
    }
    parser.push(bytes("\nafter,2\n"), (r) => records.push(r));
    parser.finish((r) => records.push(r));
    expect(peak).toBeLessThanOrEqual(MAX_RECORD_BYTES + chunk.length);
    expect(records.map((r) => [r.fields, r.error, r.line])).toEqual([
      [["first", "1"], undefined, 1],
      [undefined, `record longer than ${MAX_RECORD_BYTES} bytes`, 2],
      [["after", "2"], undefined, 3],
    ]);
  });
});
