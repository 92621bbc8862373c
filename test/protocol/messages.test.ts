// Messages on the wire: byte layouts, encode/decode round trips of every type, and malformed payloads
// refused with ProtocolError.
import { describe, expect, test } from "bun:test";
import {
  BATCH_FRAME_BYTES,
  decodeMessage,
  encodeMessage,
  FrameDecoder,
  FrameWriter,
  HEADER_BYTES,
  MessageType,
  messageName,
  ProtocolError,
  writeMessage,
  type Message,
} from "../../lib/protocol/index.ts";
import type { BetFields } from "../../lib/bet/bet.ts";
import { BetBlock } from "../../lib/bet/bet-block.ts";

/** Payload fields: u32 BE byte length | UTF-8 bytes. */
function fields(...values: string[]): Buffer {
  return Buffer.concat(
    values.map((value) => {
      const bytes = Buffer.from(value, "utf8");
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
}

/** Decodes a whole encoded frame, checking its header on the way. */
function decodeFrame(frame: Buffer): Message {
  expect(frame.readUInt32BE(0)).toBe(frame.length - HEADER_BYTES);
  return decodeMessage(frame[4]!, frame.subarray(HEADER_BYTES));
}

/** Echo payloads may come back as a Buffer, bets as blocks of another capacity: compare their contents. */
function normalize(message: Message): unknown {
  if (message.type === MessageType.Bets) return { ...message, bets: message.bets.toFields() };
  return message.type === MessageType.Echo ? { ...message, payload: [...message.payload] } : message;
}

const BET: BetFields = { firstName: "Santiago Lionel", lastName: "Lorca", document: "30904465", birthdate: "1999-03-17", number: "7574" };
const TRICKY: BetFields = { firstName: "José María", lastName: "Ñandú 😀", document: "1", birthdate: "2000-02-29", number: "0" };
const EMPTY: BetFields = { firstName: "", lastName: "", document: "", birthdate: "", number: "" };

const ROUND_TRIPS: [string, Message][] = [
  ["Hello", { type: MessageType.Hello, agency: 1 }],
  ["Hello with the largest u32 agency", { type: MessageType.Hello, agency: 0xffffffff }],
  ["Welcome", { type: MessageType.Welcome, stored: 26_936 }],
  ["Welcome of zero", { type: MessageType.Welcome, stored: 0 }],
  ["Bets, one bet", { type: MessageType.Bets, agency: 5, bets: BetBlock.of([BET]) }],
  ["Bets, many with UTF-8 and empty fields", { type: MessageType.Bets, agency: 2, bets: BetBlock.of([BET, TRICKY, EMPTY, BET]) }],
  ["Ok", { type: MessageType.Ok, count: 128 }],
  ["Error", { type: MessageType.Error, reason: "bet 3 (document 123): birthdate must be a past date — ñ 🎲" }],
  ["Error with an empty reason", { type: MessageType.Error, reason: "" }],
  ["End", { type: MessageType.End, agency: 4 }],
  ["WinnersQuery", { type: MessageType.WinnersQuery, agency: 3 }],
  ["Winners", { type: MessageType.Winners, documents: ["30904465", "2", "😀ñ", ""] }],
  ["Winners, none", { type: MessageType.Winners, documents: [] }],
  ["Echo", { type: MessageType.Echo, payload: new Uint8Array([0, 1, 2, 0xff, 0x0a]) }],
  ["Echo, empty", { type: MessageType.Echo, payload: new Uint8Array(0) }],
];

describe("encode/decode round trip", () => {
  for (const [name, message] of ROUND_TRIPS) {
    test(name, () => {
      expect(normalize(decodeFrame(encodeMessage(message)))).toEqual(normalize(message));
    });
  }

  test("every message type is covered", () => {
    const numeric = Object.values(MessageType).filter((value): value is number => typeof value === "number");
    const covered = new Set(ROUND_TRIPS.map(([, message]) => message.type as number));
    expect(numeric.filter((type) => !covered.has(type))).toEqual([]);
  });

  test("several messages written into one writer decode back in order through the decoder", () => {
    const writer = new FrameWriter(16); // small, so it has to grow
    for (const [, message] of ROUND_TRIPS) writeMessage(writer, message);
    const stream = writer.flush();
    const decoded: unknown[] = [];
    new FrameDecoder(64 * 1024).push(stream, (type, payload) => decoded.push(normalize(decodeMessage(type, payload))));
    expect(decoded).toEqual(ROUND_TRIPS.map(([, message]) => normalize(message)));
  });

  test("a decoded Echo payload is a copy that outlives the decoder's buffer", () => {
    // The decoder reuses its buffer for the next cut frame; the echo must not change under the caller.
    const first = encodeMessage({ type: MessageType.Echo, payload: Buffer.from("hello echo") });
    const second = encodeMessage({ type: MessageType.Echo, payload: Buffer.from("XXXXXXXXXX") });
    const decoder = new FrameDecoder(1024);
    const echoes: Message[] = [];
    const onFrame = (type: number, payload: Buffer) => echoes.push(decodeMessage(type, payload));
    decoder.push(first.subarray(0, 7), onFrame);
    decoder.push(first.subarray(7), onFrame);
    decoder.push(second.subarray(0, 7), onFrame);
    decoder.push(second.subarray(7), onFrame);
    expect(echoes.map((m) => Buffer.from((m as { payload: Uint8Array }).payload).toString())).toEqual([
      "hello echo",
      "XXXXXXXXXX",
    ]);
  });
});

describe("byte layouts", () => {
  test("Ok: size | '0' | count as a decimal field", () => {
    expect(encodeMessage({ type: MessageType.Ok, count: 42 }).toString("hex")).toBe(
      "00000006" + "30" + "00000002" + Buffer.from("42").toString("hex"),
    );
  });

  test("Bets: size | 'B' | agency field | five fields per bet, lengths in UTF-8 bytes", () => {
    const bet: BetFields = { firstName: "Ñ", lastName: "😀", document: "1", birthdate: "2000-01-01", number: "7" };
    const frame = encodeMessage({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet]) });
    const payload = fields("1", "Ñ", "😀", "1", "2000-01-01", "7");
    expect(frame[4]).toBe("B".charCodeAt(0));
    expect(frame.readUInt32BE(0)).toBe(payload.length);
    expect(frame.subarray(HEADER_BYTES).equals(payload)).toBe(true);
    // Ñ is 2 bytes, the emoji 4: the length prefix counts bytes, not characters.
    expect(payload.readUInt32BE(5)).toBe(2);
    expect(payload.readUInt32BE(5 + 4 + 2)).toBe(4);
  });

  test("Echo: the payload goes raw, not as a field, so netcat can check it", () => {
    const frame = encodeMessage({ type: MessageType.Echo, payload: Buffer.from("ping") });
    expect(frame.toString("hex")).toBe("00000004" + "50" + Buffer.from("ping").toString("hex"));
  });

  test("type letters", () => {
    const letters = Object.fromEntries(
      ROUND_TRIPS.map(([, m]) => [messageName(m.type), String.fromCharCode(encodeMessage(m)[4]!)]),
    );
    expect(letters).toEqual({ Hello: "H", Welcome: "A", Bets: "B", Ok: "0", Error: "E", End: "F", WinnersQuery: "Q", Winners: "W", Echo: "P" });
  });

  test("a batch frame of kilobytes declares exactly its payload size", () => {
    const bets = BetBlock.of(Array.from({ length: 100 }, () => TRICKY));
    const frame = encodeMessage({ type: MessageType.Bets, agency: 1, bets });
    expect(frame.length).toBeGreaterThan(BATCH_FRAME_BYTES / 2); // well past the writer's first buffer
    expect(frame.readUInt32BE(0)).toBe(frame.length - HEADER_BYTES);
    expect(normalize(decodeFrame(frame))).toEqual(normalize({ type: MessageType.Bets, agency: 1, bets }));
  });
});

describe("decodeMessage refuses malformed input", () => {
  const refuses = (type: number, payload: Buffer, message?: RegExp) => {
    let error: unknown;
    try {
      decodeMessage(type, payload);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    if (message) expect((error as Error).message).toMatch(message);
  };

  test("unknown type, named in the error", () => {
    refuses(0x5a, fields("1"), /unknown message type 0x5a/);
    refuses(0x00, Buffer.alloc(0), /unknown/);
  });

  test("a field length running past the end of the payload", () => {
    const payload = fields("12");
    payload.writeUInt32BE(3, 0);
    refuses(MessageType.Hello, payload, /past the end/);
    refuses(MessageType.Error, Buffer.from([0, 0, 0, 9, 0x61]), /past the end/);
  });

  test("a field length cut short", () => {
    refuses(MessageType.Ok, Buffer.from([0, 0]), /truncated/);
    refuses(MessageType.End, Buffer.alloc(0), /truncated/);
  });

  test("trailing bytes after the last field", () => {
    refuses(MessageType.Hello, Buffer.concat([fields("1"), Buffer.from([0])]), /after the last field/);
    refuses(MessageType.Ok, fields("1", "2"), /after the last field/);
    refuses(MessageType.Error, fields("reason", ""), /after the last field/);
    refuses(MessageType.WinnersQuery, fields("1", "x"));
  });

  test("a bets frame without bets", () => {
    refuses(MessageType.Bets, fields("1"), /at least one bet/);
  });

  test("a bets frame whose last bet lacks fields", () => {
    const { firstName, lastName, document, birthdate, number } = BET;
    refuses(MessageType.Bets, fields("1", firstName, lastName, document, birthdate, number, "Ana", "Pérez"));
    refuses(MessageType.Bets, Buffer.concat([fields("1", firstName, lastName, document, birthdate, number), Buffer.from([0, 0, 0])]));
  });

  test("integer fields that are not non-negative u32 integers", () => {
    for (const bad of ["abc", "-1", "1.5", "", " 1", "1e3", "0x10", "4294967296", "12345678901", "١"]) {
      refuses(MessageType.Hello, fields(bad), /agency must be a non-negative integer/);
      refuses(MessageType.Bets, fields(bad, ...Object.values(BET)), /agency/);
      refuses(MessageType.Ok, fields(bad), /count/);
      refuses(MessageType.Welcome, fields(bad), /stored/);
    }
  });
});

describe("FrameWriter", () => {
  test("discard drops only the unfinished frame", () => {
    const writer = new FrameWriter(8);
    writeMessage(writer, { type: MessageType.Ok, count: 1 });
    writer.start(MessageType.Ok).field("2");
    writer.discard();
    const frames = writer.flush();
    expect(frames.equals(encodeMessage({ type: MessageType.Ok, count: 1 }))).toBe(true);
  });

  test("misuse is refused rather than producing a broken frame", () => {
    const writer = new FrameWriter();
    expect(() => writer.finish()).toThrow();
    writer.start(MessageType.Ok);
    expect(() => writer.start(MessageType.Ok)).toThrow();
    expect(() => writer.flush()).toThrow();
  });

  test("flush returns a copy and empties the writer", () => {
    const writer = new FrameWriter();
    const first = writeMessage(writer, { type: MessageType.Ok, count: 1 }).flush();
    const second = writeMessage(writer, { type: MessageType.Ok, count: 2 }).flush();
    expect(decodeFrame(first)).toEqual({ type: MessageType.Ok, count: 1 });
    expect(decodeFrame(second)).toEqual({ type: MessageType.Ok, count: 2 });
  });
});
