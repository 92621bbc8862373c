// Fuzzing the protocol (issue 4), bounded in count: random and mutated frames, split anywhere, go to
// the shared decoder in-process and to a live central next to a well-behaved agency. Only protocol
// errors may come out of the decoder; the central never crashes, answers every request in order,
// stores exactly the batches it acknowledged, and its memory stays bounded. Seeds are printed.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { betFieldsError, InvalidBetError, newFieldRanges, validateBet } from "../../lib/bet/bet.ts";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { csvRow } from "../../lib/storage/csv-writer.ts";
import {
  decodeMessage,
  DEFAULT_MAX_FRAME_BYTES,
  encodeMessage,
  FrameDecoder,
  FrameTooLargeError,
  HEADER_BYTES,
  MessageType,
  messageName,
  ProtocolError,
  type Message,
} from "../../lib/protocol/index.ts";
import { betRow } from "../support/rows.ts";
import { deathOf, exactlyOnceProblems, kill, reportedWinners, rssMiB, Random, testSeed } from "../support/crash-kit.ts";
import {
  betsFields,
  flipBits,
  frameOf,
  invalidBet,
  mutateStream,
  randomChunks,
  randomMessage,
  randomText,
  splitFrames,
  validBet,
  withHeader,
} from "../support/fuzz-kit.ts";
import { expectedWinners, makeDataset, readCsv, Scope, waitForLine } from "../support/system.ts";

const FILE = "test/system/fuzz.test.ts";
const scope = new Scope();
afterEach(() => scope.cleanup());

/** Messages compared by content: an echo payload may come back as a Buffer or a plain Uint8Array. */
function sameMessage(a: Message, b: Message): boolean {
  if (a.type === MessageType.Echo && b.type === MessageType.Echo) return Buffer.from(a.payload).equals(Buffer.from(b.payload));
  if (a.type === MessageType.Bets && b.type === MessageType.Bets) {
    return a.agency === b.agency && Buffer.from(a.bets.bytes()).equals(Buffer.from(b.bets.bytes()));
  }
  return Bun.deepEquals(a, b);
}

function show(message: Message): string {
  if (message.type === MessageType.Bets) return JSON.stringify({ ...message, bets: message.bets.toFields() });
  return message.type === MessageType.Echo ? `Echo(${message.payload.length} bytes)` : JSON.stringify(message);
}

// ---------------------------------------------------------------------------------------------------
// In-process: FrameDecoder + decodeMessage

const DECODER_STREAMS = 3_000;

test("fuzz: the decoder reads any split of any byte stream exactly as a plain reading does; garbage raises only protocol errors", () => {
  const random = testSeed("the decoder reads any split", FILE);
  const problems: string[] = [];
  const stats = { frames: 0, decoded: 0, refused: 0, tooLarge: 0, chunks: 0 };

  for (let n = 0; n < DECODER_STREAMS && problems.length < 10; n++) {
    const max = random.pick([16, 300, 1024, DEFAULT_MAX_FRAME_BYTES]);
    const messages = Array.from({ length: random.int(0, 12) }, () => randomMessage(random));
    const encoded = messages.map(encodeMessage);
    const starts: number[] = [];
    encoded.reduce((offset, frame) => (starts.push(offset), offset + frame.length), 0);
    const mutated = random.chance(0.75);
    const stream = mutated ? mutateStream(random, Buffer.concat(encoded), starts) : Buffer.concat(encoded);
    const where = `stream ${n} (${mutated ? "mutated" : "intact"}, max ${max}, ${stream.length} bytes)`;

    const reference = splitFrames(stream, max);
    const decoder = new FrameDecoder(max);
    const frames: { type: number; payload: Buffer }[] = [];
    const decoded: Message[] = [];
    let thrown: unknown;
    const chunks = randomChunks(random, stream, starts);
    stats.chunks += chunks.length;
    for (const chunk of chunks) {
      try {
        decoder.push(chunk, (type, payload) => {
          // The payload is a view that lives only as long as this call: copy it, decode it here.
          frames.push({ type, payload: Buffer.from(payload) });
          try {
            const message = decodeMessage(type, payload);
            // Bets are read in place, valid only during this call too: kept as a block of their own.
            decoded.push(message.type === MessageType.Bets ? { ...message, bets: BetBlock.of(message.bets.toFields()) } : message);
            // Whatever decodes must encode back into a frame that decodes the same.
            const again = encodeMessage(message);
            const round = decodeMessage(again[4]!, again.subarray(HEADER_BYTES));
            if (!sameMessage(round, message)) problems.push(`${where}: ${show(message)} re-encodes as ${show(round)}`);
          } catch (error) {
            if (error instanceof ProtocolError) stats.refused++;
            else problems.push(`${where}: decodeMessage(${messageName(type)}) threw ${String(error)}`);
          }
        });
      } catch (error) {
        thrown = error;
        break;
      }
      if (decoder.buffered > max + HEADER_BYTES) {
        problems.push(`${where}: ${decoder.buffered} bytes buffered, more than one frame of ${max}`);
      }
    }
    stats.frames += frames.length;
    stats.decoded += decoded.length;

    const same =
      frames.length === reference.frames.length &&
      frames.every((frame, i) => frame.type === reference.frames[i]!.type && frame.payload.equals(reference.frames[i]!.payload));
    if (!same) problems.push(`${where}: decoder gave ${frames.length} frames, the plain reading ${reference.frames.length} (or other bytes)`);
    if (reference.tooLargeAt !== undefined) {
      stats.tooLarge++;
      if (!(thrown instanceof FrameTooLargeError)) problems.push(`${where}: oversized header not refused: ${String(thrown)}`);
      else if (decoder.buffered !== 0) problems.push(`${where}: ${decoder.buffered} bytes kept after refusing a frame`);
    } else if (thrown !== undefined) {
      problems.push(`${where}: push threw ${String(thrown)}`);
    } else if (decoder.buffered !== reference.rest) {
      problems.push(`${where}: ${decoder.buffered} bytes buffered, ${reference.rest} left after the last frame`);
    }
    // Untouched streams give back the very messages that were encoded, up to a frame too large.
    if (!mutated && !decoded.every((message, i) => sameMessage(message, messages[i]!))) {
      problems.push(`${where}: round trip changed a message`);
    }
  }

  console.log(`  ${DECODER_STREAMS} streams: ${JSON.stringify(stats)}`);
  expect(problems).toEqual([]);
  // The run reached every outcome it is meant to check.
  expect(stats.decoded).toBeGreaterThan(0);
  expect(stats.refused).toBeGreaterThan(0);
  expect(stats.tooLarge).toBeGreaterThan(0);
});

// ---------------------------------------------------------------------------------------------------
// Against a live central

/**
 * Agency 1 is a real agency process; each fuzzing connection says hello as an agency of its own (2, 3, ...),
 * since a newer connection of an agency replaces the older one, and bets for it (now and then for another).
 */
const FUZZ_CONNECTIONS = 32;
const FUZZ_AGENCIES = Array.from({ length: FUZZ_CONNECTIONS }, (_, i) => i + 2);
const FUZZ_PARALLEL = 8;
const FRAMES_PER_CONNECTION = 40;
const RSS_LIMIT_MIB = 300;

/** What the central must answer to one frame. */
type Expected =
  | { kind: "welcome" }
  | { kind: "ok"; agency: number; rows: string[] }
  | { kind: "error"; why: string }
  | { kind: "echo"; payload: Buffer };

interface Plan {
  expected: Expected[];
  /** A frame the test must not send: it would say hello again, end an agency or hold a query. */
  forbidden: string | undefined;
  tooLargeAt: number | undefined;
  frameStarts: number[];
}

/**
 * What the central will make of a byte stream that opens with a hello as `own`, read with the plain
 * splitter and the shared message and bet rules: one answer per frame, in order, then an error for an
 * oversized header. Once a bets frame is refused, the session's later ones are too.
 */
function plan(stream: Buffer, own: number): Plan {
  const split = splitFrames(stream, DEFAULT_MAX_FRAME_BYTES);
  const expected: Expected[] = [];
  let forbidden: string | undefined;
  let batchRefused = false;
  const refuseBatch = (why: string) => {
    expected.push({ kind: "error", why });
    batchRefused = true;
  };
  for (const [index, frame] of split.frames.entries()) {
    let message: Message;
    try {
      message = decodeMessage(frame.type, frame.payload);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // A bets frame that does not decode is a refused batch like any other.
      if (frame.type === MessageType.Bets) refuseBatch(error.message);
      else expected.push({ kind: "error", why: error.message });
      continue;
    }
    switch (message.type) {
      case MessageType.Bets: {
        if (batchRefused) {
          expected.push({ kind: "error", why: "an earlier batch was refused" });
          break;
        }
        if (message.agency !== own) {
          refuseBatch(`agency ${message.agency} on agency ${own}'s connection`);
          break;
        }
        try {
          const rows = Array.from({ length: message.bets.count }, (_, i) => {
            // The rules read bytes: a name that is not valid UTF-8 is refused, not decoded into U+FFFD.
            const ranges = newFieldRanges();
            const error = betFieldsError(message.bets.fields(i, ranges), ranges);
            if (error) throw new InvalidBetError(error);
            return betRow(validateBet(message.agency, message.bets.text(i)));
          });
          expected.push({ kind: "ok", agency: message.agency, rows });
        } catch (error) {
          if (!(error instanceof InvalidBetError)) throw error;
          refuseBatch(error.message);
        }
        break;
      }
      case MessageType.Echo:
        expected.push({ kind: "echo", payload: Buffer.from(message.payload) });
        break;
      case MessageType.Hello:
        if (index === 0 && message.agency === own) expected.push({ kind: "welcome" });
        else forbidden ??= messageName(message.type);
        break;
      case MessageType.End:
      case MessageType.WinnersQuery:
        forbidden ??= messageName(message.type);
        break;
      default:
        expected.push({ kind: "error", why: `unexpected ${messageName(message.type)}` });
    }
  }
  if (split.tooLargeAt !== undefined) expected.push({ kind: "error", why: "frame too large" });
  return { expected, forbidden, tooLargeAt: split.tooLargeAt, frameStarts: split.frames.map((frame) => frame.start) };
}

/** One frame for the fuzzing connections: valid bets most often, else one of many ways of being wrong. */
function fuzzFrame(random: Random, own: number): Buffer {
  // Now and then bets for another agency, agency 1 (the real one) included: refused, nothing stored.
  const agency = random.chance(0.05) ? random.pick([1, ...FUZZ_AGENCIES]) : own;
  const bets = Array.from({ length: random.int(1, 25) }, () => validBet(random));
  const fields = betsFields(String(agency), bets);
  const roll = random.next();
  if (roll < 0.35) return frameOf(MessageType.Bets, fields);
  if (roll < 0.5) {
    // Invalid bets mixed in among valid ones.
    for (let i = random.int(1, 3); i > 0; i--) bets[random.int(0, bets.length - 1)] = invalidBet(random);
    return frameOf(MessageType.Bets, betsFields(String(agency), bets));
  }
  if (roll < 0.6) {
    // Wrong field count: some fields dropped or added.
    const changed = [...fields];
    if (random.chance(0.5)) changed.splice(random.int(1, changed.length - 1), random.int(1, 4));
    else changed.splice(random.int(1, changed.length), 0, ...Array.from({ length: random.int(1, 4) }, () => randomText(random)));
    return frameOf(MessageType.Bets, changed);
  }
  if (roll < 0.72) {
    // Flipped bits anywhere in the payload: in field lengths, names, digits, dates.
    return flipBits(random, frameOf(MessageType.Bets, fields), random.int(1, 6), HEADER_BYTES);
  }
  if (roll < 0.78) {
    // The payload cut short, the header telling the truth about it.
    const whole = frameOf(MessageType.Bets, fields).subarray(HEADER_BYTES);
    return withHeader(MessageType.Bets, whole.subarray(0, random.int(0, whole.length - 1)));
  }
  if (roll < 0.84) {
    const agencyText = random.pick(["0", "4", "99", "", "-2", "2a", "٢", "99999999999", " 2"]);
    return frameOf(MessageType.Bets, [agencyText, ...fields.slice(1)]);
  }
  if (roll < 0.89) {
    // Another type byte on a bets payload.
    return withHeader(random.int(0, 255), frameOf(MessageType.Bets, fields).subarray(HEADER_BYTES));
  }
  if (roll < 0.94) return encodeMessage({ type: MessageType.Echo, payload: Buffer.from(randomText(random, 60)) });
  if (roll < 0.985) {
    // Garbage, mostly behind a header that tells its length: without one the stream slips, and the
    // connection soon ends on a size read from garbage.
    const garbage = Buffer.from(Array.from({ length: random.int(1, 200) }, () => random.int(0, 255)));
    return random.chance(0.9) ? withHeader(random.int(0, 255), garbage) : garbage;
  }
  // A size header that lies: a little (the stream slips), or wildly (past the limit).
  const frame = frameOf(MessageType.Bets, fields);
  const size = frame.readUInt32BE(0);
  frame.writeUInt32BE(random.chance(0.5) ? Math.max(0, size + random.int(-20, 20)) : random.int(DEFAULT_MAX_FRAME_BYTES + 1, 0xffffffff), 0);
  return frame;
}

/** A connection's byte stream, built frame by frame, leaving out any frame that would be forbidden. */
function fuzzStream(random: Random, own: number): { stream: Buffer; plan: Plan } {
  let stream = encodeMessage({ type: MessageType.Hello, agency: own });
  let current = plan(stream, own);
  for (let frame = 0; frame < FRAMES_PER_CONNECTION && current.tooLargeAt === undefined; frame++) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const candidate = Buffer.concat([stream, fuzzFrame(random, own)]);
      const next = plan(candidate, own);
      if (next.forbidden) continue;
      stream = candidate;
      current = next;
      break;
    }
  }
  // Past an oversized header the central reads nothing more: the rest need not be sent.
  if (current.tooLargeAt !== undefined) stream = stream.subarray(0, current.tooLargeAt + HEADER_BYTES);
  return { stream, plan: current };
}

interface ConnectionOutcome {
  accepted: { agency: number; rows: string[] }[];
  problems: string[];
  frames: number;
  ok: number;
  refused: number;
  hungUp: boolean;
}

async function fuzzConnection(port: number, random: Random, index: number): Promise<ConnectionOutcome> {
  const { stream, plan: expected } = fuzzStream(random, FUZZ_AGENCIES[index]!);
  const client = await scope.client(port);
  for (const chunk of randomChunks(random, stream, expected.frameStarts)) await client.write(chunk);
  for (let i = 0; i < expected.expected.length && client.isOpen; i++) await client.next().catch(() => undefined);
  // After an oversized header the central hangs up; otherwise we do, once every answer is in.
  if (expected.tooLargeAt === undefined) client.close();
  await client.closed;

  const outcome: ConnectionOutcome = { accepted: [], problems: [], frames: expected.expected.length, ok: 0, refused: 0, hungUp: false };
  const where = `connection ${index}`;
  if (client.badFrames.length > 0) outcome.problems.push(`${where}: undecodable replies ${client.badFrames.join("; ")}`);
  if (client.received.length !== expected.expected.length) {
    outcome.problems.push(`${where}: ${client.received.length} replies to ${expected.expected.length} frames`);
  }
  client.received.forEach((reply, i) => {
    const want = expected.expected[i];
    if (!want) return;
    // Its count may include the batches pipelined behind the hello: it is answered once they are queued.
    if (want.kind === "welcome" && reply.type === MessageType.Welcome) return;
    if (want.kind === "ok" && reply.type === MessageType.Ok && reply.count === want.rows.length) {
      outcome.ok++;
      outcome.accepted.push({ agency: want.agency, rows: want.rows });
    } else if (want.kind === "error" && reply.type === MessageType.Error) {
      outcome.refused++;
    } else if (!(want.kind === "echo" && reply.type === MessageType.Echo && want.payload.equals(Buffer.from(reply.payload)))) {
      outcome.problems.push(`${where}, frame ${i + 1}: expected ${want.kind}${want.kind === "error" ? ` (${want.why})` : ""}, got ${show(reply)}`);
    }
  });
  outcome.hungUp = expected.tooLargeAt !== undefined;
  return outcome;
}

test(
  "fuzz: a live central fed mutated frames on many connections beside a real agency never crashes, stores exactly what it acknowledged, keeps its memory bounded",
  async () => {
    const random = testSeed("a live central fed mutated frames", FILE);
    const dir = scope.dir();
    // About 160 batches: the agency is still streaming while the fuzzing connections do their worst.
    const [file] = await makeDataset(dir, [20_000], random.int(1, 1_000_000));
    const storage = join(dir, "bets.csv");
    const central = await scope.central(storage, { LOTTERY_AGENCIES: String(1 + FUZZ_AGENCIES.length) });
    const agency = scope.agency(1, central.port, file!);
    await waitForLine(central, /action: agencia_conectada \| result: success \| agency: 1 \|/);

    // Each connection gets a generator of its own, seeded from the test's, so the streams do not depend
    // on the order in which concurrent connections happen to run.
    const seeds = Array.from({ length: FUZZ_CONNECTIONS }, () => random.int(0, 0xffffffff));
    const outcomes: ConnectionOutcome[] = [];
    let peakMiB = 0;
    for (let first = 0; first < FUZZ_CONNECTIONS; first += FUZZ_PARALLEL) {
      const wave = seeds.slice(first, first + FUZZ_PARALLEL);
      outcomes.push(...(await Promise.all(wave.map((seed, i) => fuzzConnection(central.port, new Random(seed), first + i)))));
      // A crash is the first thing to report: everything after it would only fail obscurely.
      expect(await deathOf(central)).toBeUndefined();
      peakMiB = Math.max(peakMiB, rssMiB(central.process.pid));
    }

    const problems = outcomes.flatMap((outcome) => outcome.problems);
    const accepted = outcomes.flatMap((outcome) => outcome.accepted);
    const totals = {
      frames: outcomes.reduce((sum, outcome) => sum + outcome.frames, 0),
      ok: outcomes.reduce((sum, outcome) => sum + outcome.ok, 0),
      refused: outcomes.reduce((sum, outcome) => sum + outcome.refused, 0),
      hungUp: outcomes.filter((outcome) => outcome.hungUp).length,
      rows: accepted.reduce((sum, batch) => sum + batch.rows.length, 0),
    };
    console.log(`  ${FUZZ_CONNECTIONS} connections: ${JSON.stringify(totals)}; central peak RSS ${peakMiB.toFixed(0)} MiB`);
    expect(problems).toEqual([]);
    expect(totals.ok).toBeGreaterThan(0);
    expect(totals.refused).toBeGreaterThan(0);

    // Still alive and serving; its count for each fuzzed agency is what it acknowledged to us.
    const ender = await scope.client(central.port);
    await ender.send({ type: MessageType.Echo, payload: Buffer.from("still there") });
    expect(sameMessage(await ender.next(), { type: MessageType.Echo, payload: Buffer.from("still there") })).toBe(true);
    // Each END is answered at the draw, once every agency has sent its own.
    const ends: (() => Promise<void>)[] = [];
    for (const id of FUZZ_AGENCIES) {
      const count = accepted.filter((batch) => batch.agency === id).reduce((sum, batch) => sum + batch.rows.length, 0);
      const session = await scope.client(central.port);
      expect(await session.request({ type: MessageType.Hello, agency: id })).toEqual({ type: MessageType.Welcome, stored: count });
      await session.send({ type: MessageType.End, agency: id });
      ends.push(async () => {
        expect(await session.next()).toEqual({ type: MessageType.Ok, count });
        session.close();
      });
    }
    // The draw can now happen: the agency that streamed through all this gets its winners.
    expect(await agency.done).toBe(0);
    for (const end of ends) await end();
    expect(reportedWinners(agency)).toBe(await expectedWinners(file!));
    peakMiB = Math.max(peakMiB, rssMiB(central.process.pid));
    expect(peakMiB).toBeLessThan(RSS_LIMIT_MIB);

    // Agency 1's file exactly once and in order; for the fuzzed agencies exactly the acknowledged rows.
    const storedFuzz = readCsv(storage)
      .filter((fields) => fields[0] !== "1")
      .map((fields) => csvRow(fields))
      .sort();
    const acknowledged = accepted.flatMap((batch) => batch.rows).sort();
    expect(storedFuzz.length).toBe(acknowledged.length);
    expect(storedFuzz.filter((row, i) => row !== acknowledged[i]).slice(0, 3)).toEqual([]);
    expect(exactlyOnceProblems(storage, [file!]).filter((problem) => problem.startsWith("agency 1:"))).toEqual([]);
    // Nothing went wrong inside the central: no request ended in an internal error.
    expect(central.lines.filter((line) => / (ERROR|CRITICAL) /.test(line))).toEqual([]);
    expect(await kill(central, "SIGTERM")).toBe(0);
  },
  60_000,
);
