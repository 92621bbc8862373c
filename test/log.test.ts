// Log lines: the one grep-able form `action: X | result: success|fail|in_progress | key: value ...`
// that tests and tools rely on, values that cannot break it, and level filtering.
import { describe, expect, test } from "bun:test";
import { formatLine, LOG_LEVELS, Logger, parseLogLevel, type LogLevel } from "../lib/log.ts";
import { parseLogLine } from "./support/log-line.ts";

// The form every line holding `action:` must have; a quoted value is a JSON string.
const LINE = /^action: [^\s|]+ \| result: (success|fail|in_progress)( \| [^\s|:]+: ("(?:[^"\\]|\\.)*"|[^\s|](?:[^|\r\n]*[^\s|])?))*$/;

describe("formatLine", () => {
  test("action and result, then each key in order", () => {
    expect(formatLine("apuesta_almacenada", "success", { dni: "30904465", numero: 7574 })).toBe(
      "action: apuesta_almacenada | result: success | dni: 30904465 | numero: 7574",
    );
    expect(formatLine("sorteo", "success")).toBe("action: sorteo | result: success");
    expect(formatLine("apuesta_recibida", "fail", { cantidad: 3, ok: false })).toBe(
      "action: apuesta_recibida | result: fail | cantidad: 3 | ok: false",
    );
    expect(formatLine("shutdown", "in_progress", { signal: "SIGTERM" })).toMatch(LINE);
  });

  test("plain values with spaces, accents and colons stay unquoted", () => {
    const line = formatLine("apuesta_invalida", "fail", { line: 12, error: "birthdate must be a past date: 2999-01-01", name: "José Ñúñez" });
    expect(line).toBe("action: apuesta_invalida | result: fail | line: 12 | error: birthdate must be a past date: 2999-01-01 | name: José Ñúñez");
    expect(line).toMatch(LINE);
  });

  test("values that could break the line are quoted, so it stays one line of the same form", () => {
    const nasty = [
      "a | b",
      "|",
      "line\nbreak",
      "carriage\rreturn",
      "crlf\r\n| result: fail",
      "",
      " leading",
      "trailing ",
      'quote " inside | pipe',
      "back\\slash | pipe",
      "emoji 😀 | pipe",
    ];
    for (const value of nasty) {
      const line = formatLine("frame", "fail", { error: value, peer: "127.0.0.1:5000" });
      expect({ value, oneLine: !/[\r\n]/.test(line), form: LINE.test(line) }).toEqual({ value, oneLine: true, form: true });
      // Split on every "|" as the course's parser does, it keeps its fields, and the value reads back unchanged.
      const fields = parseLogLine(line).fields;
      expect([...fields.keys()]).toEqual(["action", "result", "error", "peer"]);
      const error = fields.get("error")!;
      expect(error.startsWith('"') ? JSON.parse(error) : error).toBe(value);
    }
  });
});

describe("Logger", () => {
  function capture(level: LogLevel) {
    const lines: string[] = [];
    return { logger: new Logger(level, (line) => lines.push(line)), lines };
  }

  test("a line is timestamp, level and the formatted fields, ending in one newline", () => {
    const { logger, lines } = capture("INFO");
    logger.info("config", "success", { port: 12345, storage: "./bets.csv" });
    expect(lines.length).toBe(1);
    const match = /^(\S+) (INFO) +(action: .*)\n$/.exec(lines[0]!);
    expect(match).not.toBeNull();
    expect(new Date(match![1]!).toISOString()).toBe(match![1]!);
    expect(match![3]).toBe("action: config | result: success | port: 12345 | storage: ./bets.csv");
  });

  test("levels below the threshold are dropped", () => {
    const { logger, lines } = capture("WARNING");
    logger.debug("a", "success");
    logger.info("b", "success");
    logger.warning("c", "fail");
    logger.error("d", "fail");
    logger.log("CRITICAL", "e", "fail");
    expect(lines.map((line) => /action: (\w+)/.exec(line)![1])).toEqual(["c", "d", "e"]);
    expect(logger.enabled("INFO")).toBe(false);
    expect(logger.enabled("ERROR")).toBe(true);
  });

  test("DEBUG lets everything through", () => {
    const { logger, lines } = capture("DEBUG");
    for (const level of LOG_LEVELS) logger.log(level, "x", "success");
    expect(lines.length).toBe(LOG_LEVELS.length);
    expect(lines.every((line) => line.endsWith("action: x | result: success\n"))).toBe(true);
  });

  test("a multi-line value still gives exactly one output line", () => {
    const { logger, lines } = capture("INFO");
    logger.error("frame", "fail", { error: "bad\nframe\r\n| result: success" });
    expect(lines.length).toBe(1);
    expect(lines[0]!.indexOf("\n")).toBe(lines[0]!.length - 1);
    expect(lines[0]!.slice(lines[0]!.indexOf("action: "), -1)).toMatch(LINE);
  });
});

describe("Logger.rangeLines", () => {
  /** Items given as text fields, packed the way rangeLines reads them: bytes, and per item a start and an end per field. */
  function pack(items: string[][]) {
    const encoder = new TextEncoder();
    const parts: number[] = [];
    const ranges: number[] = [];
    for (const fields of items) {
      for (const field of fields) {
        ranges.push(parts.length);
        parts.push(...encoder.encode(field));
        ranges.push(parts.length);
      }
    }
    return { bytes: new Uint8Array(parts), ranges, stride: 2 * items[0]!.length };
  }

  test("each item's line is what log() writes for the same values, in order, and only for items from..to", () => {
    const items = [
      ["x", "30904465", "7574"],
      ["y", "00000001", "0042"],
      ["z", "José Ñúñez", "a|b"],
      ["w", " lead", ""],
      ["v", "tab\tinside", "line\nbreak"],
    ];
    const { bytes, ranges, stride } = pack(items);
    const { logger, lines } = (() => {
      const lines: string[] = [];
      return { logger: new Logger("INFO", (line) => lines.push(line)), lines };
    })();
    // Fields 1 and 2 of each item, as dni and numero.
    logger.rangeLines("INFO", "apuesta_enviada", "success", { keys: ["dni", "numero"], offsets: [2, 4], bytes, ranges, stride }, 1, 5);
    expect(lines.map((line) => line.slice(line.indexOf("action: ")))).toEqual(
      items.slice(1).map(([, dni, numero]) => `${formatLine("apuesta_enviada", "success", { dni: dni!, numero: numero! })}\n`),
    );
    expect(lines.every((line) => /^\S+ INFO    action: /.test(line))).toBe(true);
    // Plain values only: the lines are made from the bytes themselves, still exactly as log() writes them.
    const plain = pack([["a", "30904465", "7574"], ["b", "00000001", "0042"], ["c", "9", "0"]]);
    lines.length = 0;
    logger.rangeLines("INFO", "apuesta_enviada", "success", { keys: ["dni", "numero"], offsets: [2, 4], ...plain }, 0, 3);
    expect(lines.map((line) => line.slice(line.indexOf("action: ")))).toEqual([
      "action: apuesta_enviada | result: success | dni: 30904465 | numero: 7574\n",
      "action: apuesta_enviada | result: success | dni: 00000001 | numero: 0042\n",
      "action: apuesta_enviada | result: success | dni: 9 | numero: 0\n",
    ]);
    logger.rangeLines("DEBUG", "apuesta_enviada", "success", { keys: ["dni"], offsets: [2], bytes, ranges, stride }, 0, 5);
    logger.rangeLines("INFO", "apuesta_enviada", "success", { keys: ["dni"], offsets: [2], bytes, ranges, stride }, 3, 3);
    expect(lines).toHaveLength(3);
  });
});

describe("parseLogLevel", () => {
  test("names in any case, and WARN for WARNING", () => {
    expect(parseLogLevel("debug")).toBe("DEBUG");
    expect(parseLogLevel(" Info ")).toBe("INFO");
    expect(parseLogLevel("warn")).toBe("WARNING");
    expect(parseLogLevel("WARNING")).toBe("WARNING");
    expect(parseLogLevel("critical")).toBe("CRITICAL");
  });

  test("anything else is unknown", () => {
    for (const text of ["", "verbose", "TRACE", "10", "INFO!"]) expect(parseLogLevel(text)).toBeUndefined();
  });
});

describe("the default sink, stdout", () => {
  // A real process: lines are gathered per event-loop turn (and written at once past 64 KiB), so the
  // point is that none is lost or reordered when the process exits right after logging.
  const script = (exit: string) => `
    import { Logger } from ${JSON.stringify(new URL("../lib/log.ts", import.meta.url).pathname)};
    const log = new Logger("INFO");
    // Lines of text and lines of bytes (rangeLines) alternate in one turn's write.
    const digits = (n) => new TextEncoder().encode(String(n));
    for (let i = 0; i < 5000; i++) {
      if (i % 2 === 0) log.info("linea", "success", { n: i });
      else log.rangeLines("INFO", "linea", "success", { keys: ["n"], offsets: [0], bytes: digits(i), ranges: [0, String(i).length], stride: 2 }, 0, 1);
    }
    // And one call of many lines, past the turn's bound by itself.
    const many = new TextEncoder().encode(Array.from({ length: 5000 }, (_, i) => String(5000 + i)).join(""));
    const ranges = [];
    for (let i = 0, at = 0; i < 5000; i++) ranges.push(at, (at += String(5000 + i).length));
    log.rangeLines("INFO", "linea", "success", { keys: ["n"], offsets: [0], bytes: many, ranges, stride: 2 }, 0, 5000);
    setImmediate(() => {
      log.info("linea", "success", { n: 10000 });
      ${exit}
    });`;

  for (const [name, exit] of [
    ["process.exit() right after the last line", "process.exit(0);"],
    ["an uncaught error right after the last line", "throw new Error('boom');"],
  ] as const) {
    test(`every line of a turn past its bound and of the next reaches stdout, in order, on ${name}`, async () => {
      const child = Bun.spawn([process.execPath, "-e", script(exit)], { stdout: "pipe", stderr: "ignore" });
      const out = await new Response(child.stdout).text();
      await child.exited;
      const numbers = out
        .split("\n")
        .filter((line) => line.includes("action: linea"))
        .map((line) => Number(/n: (\d+)$/.exec(line)![1]));
      expect(numbers).toEqual(Array.from({ length: 10001 }, (_, i) => i));
    });
  }
});
