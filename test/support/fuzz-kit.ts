// Building blocks for the protocol fuzz tests: a plain reference reading of a byte stream into frames
// (what the FrameDecoder must agree with, however the stream is split), random messages and bets, and
// mutations of well-formed frames.
import type { BetFields } from "../../lib/bet/bet.ts";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { encodeMessage, HEADER_BYTES, MessageType, SIZE_BYTES, type Message } from "../../lib/protocol/index.ts";
import type { Random } from "./crash-kit.ts";

export interface SplitFrame {
  type: number;
  payload: Buffer;
  /** Offset of the frame's header in the stream. */
  start: number;
}

export interface Split {
  frames: SplitFrame[];
  /** Offset of a header that declares more than the maximum, if one does (nothing after it is read). */
  tooLargeAt: number | undefined;
  /** Bytes after the last whole frame, when no oversized header came first. */
  rest: number;
}

/**
 * The frames of a byte stream read the obvious way, all bytes at hand: header, then payload. A header
 * is judged once its 5 bytes are there, as the decoder does.
 */
export function splitFrames(bytes: Buffer, maxPayload: number): Split {
  const frames: SplitFrame[] = [];
  let offset = 0;
  while (bytes.length - offset >= HEADER_BYTES) {
    const size = bytes.readUInt32BE(offset);
    if (size > maxPayload) return { frames, tooLargeAt: offset, rest: 0 };
    const end = offset + HEADER_BYTES + size;
    if (end > bytes.length) break;
    frames.push({ type: bytes[offset + SIZE_BYTES]!, payload: bytes.subarray(offset + HEADER_BYTES, end), start: offset });
    offset = end;
  }
  return { frames, tooLargeAt: undefined, rest: bytes.length - offset };
}

/** Cuts `bytes` into chunks: whole, byte by byte, at random points, or around frame boundaries. */
export function randomChunks(random: Random, bytes: Buffer, boundaries: readonly number[] = []): Buffer[] {
  const cuts = new Set<number>();
  switch (random.int(0, 3)) {
    case 0:
      break;
    case 1:
      // One byte at a time is costly on long streams: only on short ones.
      if (bytes.length <= 2048) for (let i = 1; i < bytes.length; i++) cuts.add(i);
      break;
    case 2:
      for (let i = random.int(1, 32); i > 0; i--) cuts.add(random.int(1, Math.max(1, bytes.length - 1)));
      break;
    default:
      // Just before, at and just after frame starts: the edges a decoder gets wrong.
      for (const boundary of boundaries) cuts.add(boundary + random.int(-1, HEADER_BYTES));
  }
  const sorted = [...cuts].filter((cut) => cut > 0 && cut < bytes.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of sorted) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  chunks.push(bytes.subarray(from));
  return chunks.filter((chunk) => chunk.length > 0);
}

const ALPHABET = ["a", "Z", "ñ", "é", "Ü", " ", ",", '"', "\r", "\n", "\r\n", "😀", "中", "0", "9", "|", "\u0000", "-"];

/** A random string of up to `max` pieces, empty ones, separators and 4-byte UTF-8 included. */
export function randomText(random: Random, max = 12): string {
  let text = "";
  for (let i = random.int(0, max); i > 0; i--) text += random.pick(ALPHABET);
  return text;
}

const FIRST_NAMES = ["Ana", "Juan Carlos", "María José", "Iñaki", "Zoë", "Pérez, Juan", 'Ana "la Chiqui"', "Ana\r\nMaría", "Tomás"];
const LAST_NAMES = ["Gómez", "O'Brien", "Ångström 😀", "Núñez", "Domínguez, Jr.", "Acuña"];

/** A bet that passes every rule; about one in ten wins. */
export function validBet(random: Random): BetFields {
  const month = random.int(1, 12);
  return {
    firstName: random.pick(FIRST_NAMES),
    lastName: random.pick(LAST_NAMES),
    document: String(random.int(1, 9_999_999_999)),
    birthdate: `${random.int(1930, 2005)}-${String(month).padStart(2, "0")}-${String(random.int(1, 28)).padStart(2, "0")}`,
    number: random.chance(0.1) ? "7574" : String(random.int(0, 9999)),
  };
}

/** Field values that break a rule, by field. */
const INVALID: Record<keyof BetFields, string[]> = {
  firstName: ["", "   ", "\r\n", "x".repeat(101)],
  lastName: ["", "\t", "ñ".repeat(101)],
  document: ["", "12a", "12345678901", "-5", " 123", "1.5", "١٢٣"],
  birthdate: ["", "2001-02-30", "1899-12-31", "2999-01-01", "2000-1-01", "2000-13-01", "01/02/2000", "2000-02-29x"],
  number: ["", "10000", "-1", "7574 ", "abc", "12345", "1e3"],
};

/** The bet with one field replaced by a value the rules refuse. */
export function invalidBet(random: Random): BetFields {
  const bet = validBet(random);
  const field = random.pick(Object.keys(INVALID) as (keyof BetFields)[]);
  return { ...bet, [field]: random.pick(INVALID[field]) };
}

/** Any message of the protocol with random content (valid framing, not necessarily valid meaning). */
export function randomMessage(random: Random): Message {
  const agency = random.chance(0.8) ? random.int(0, 10) : random.int(0, 0xffffffff);
  switch (random.int(0, 8)) {
    case 0:
      return { type: MessageType.Hello, agency };
    case 1:
      return { type: MessageType.Welcome, stored: random.int(0, 1_000_000) };
    case 2:
      return { type: MessageType.Ok, count: random.int(0, 100_000) };
    case 3:
      return { type: MessageType.Error, reason: randomText(random, 40) };
    case 4:
      return { type: MessageType.End, agency };
    case 5:
      return { type: MessageType.WinnersQuery, agency };
    case 6:
      return { type: MessageType.Winners, documents: Array.from({ length: random.int(0, 6) }, () => randomText(random, 10)) };
    case 7:
      return {
        type: MessageType.Echo,
        payload: Uint8Array.from({ length: random.int(0, 300) }, () => random.int(0, 255)),
      };
    default:
      return {
        type: MessageType.Bets,
        agency,
        bets: BetBlock.of(
          Array.from({ length: random.int(1, 8) }, () =>
            random.chance(0.5)
              ? validBet(random)
              : { firstName: randomText(random), lastName: randomText(random), document: randomText(random), birthdate: randomText(random), number: randomText(random) },
          ),
        ),
      };
  }
}

/** A frame from a type byte and raw fields, each preceded by its length. */
export function frameOf(type: number, fields: readonly (string | Uint8Array)[]): Buffer {
  const payload = Buffer.concat(
    fields.map((field) => {
      const bytes = typeof field === "string" ? Buffer.from(field) : Buffer.from(field);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
  return withHeader(type, payload);
}

export function withHeader(type: number, payload: Uint8Array, declaredSize = payload.length): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(declaredSize >>> 0);
  header[SIZE_BYTES] = type;
  return Buffer.concat([header, payload]);
}

/** The fields of a bets frame: agency, then five per bet. */
export function betsFields(agency: string, bets: readonly BetFields[]): string[] {
  return [agency, ...bets.flatMap((bet) => [bet.firstName, bet.lastName, bet.document, bet.birthdate, bet.number])];
}

/** A bets frame as the agencies build it. */
export function betsFrame(agency: number, bets: readonly BetFields[]): Buffer {
  return encodeMessage({ type: MessageType.Bets, agency, bets: BetBlock.of(bets) });
}

/** Flips `count` random bits of `bytes` from `from` on (a copy). */
export function flipBits(random: Random, bytes: Buffer, count: number, from = 0): Buffer {
  const copy = Buffer.from(bytes);
  if (copy.length <= from) return copy;
  for (let i = 0; i < count; i++) {
    const at = random.int(from, copy.length - 1);
    copy[at] = copy[at]! ^ (1 << random.int(0, 7));
  }
  return copy;
}

/** Random damage to a byte stream: flips, overwrites, insertions, deletions, cut-offs, bad sizes. */
export function mutateStream(random: Random, bytes: Buffer, frameStarts: readonly number[]): Buffer {
  let out: Buffer = Buffer.from(bytes);
  for (let i = random.int(1, 4); i > 0; i--) {
    const at = random.int(0, Math.max(0, out.length - 1));
    switch (random.int(0, 7)) {
      case 0:
        out = flipBits(random, out, 1);
        break;
      case 1:
        if (out.length > 0) out[at] = random.int(0, 255);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: random.int(1, 8) }, () => random.int(0, 255))), out.subarray(at)]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + random.int(1, 16)))]);
        break;
      case 4:
        out = out.subarray(0, at);
        break;
      case 5: {
        // A header's size replaced: zero, off by a little, the limit's edges, or anything.
        const start = frameStarts.length > 0 ? random.pick(frameStarts) : 0;
        if (start + 4 > out.length) break;
        const size = out.readUInt32BE(start);
        const sizes = [0, size + 1, Math.max(0, size - 1), 64, 65, 1024, 1025, 65_536, 65_537, 0xffffffff, random.int(0, 0xffffffff)];
        out.writeUInt32BE(random.pick(sizes) >>> 0, start);
        break;
      }
      case 6: {
        // A field length inside a payload replaced (any 4 bytes after a header will do).
        if (out.length < 9) break;
        out.writeUInt32BE(random.pick([0, 1, 0xffffffff, random.int(0, 70_000)]), random.int(5, out.length - 4));
        break;
      }
      default:
        out = Buffer.concat([out, Buffer.from(Array.from({ length: random.int(1, 64) }, () => random.int(0, 255)))]);
    }
  }
  return out;
}
