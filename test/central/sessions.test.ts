// The central's sessions alone, with fake connections: no socket is opened. What they answer, which
// session they hang up, and what they store.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { AgencySessions } from "../../lib/central/sessions.ts";
import { Lottery, type AdmittedBatch } from "../../lib/central/lottery.ts";
import { CentralStats } from "../../lib/central/stats.ts";
import { Backlog } from "../../lib/transport/backlog.ts";
import type { ConnectionLink } from "../../lib/transport/session.ts";
import { Logger, type LogLevel } from "../../lib/log.ts";
import { MessageType, type Message } from "../../lib/protocol/index.ts";
import { BetStore, StorageFailedError } from "../../lib/storage/store.ts";
import { readCsv, scratchDir } from "../support/system.ts";

const bet = (document: string, number = "1") => ({ firstName: "Ana", lastName: "Peña", document, birthdate: "1990-01-01", number });

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A connection the sessions can only hang up: it records why. */
function fakeLink(peer: string, identity?: string): ConnectionLink & { hungUp: string[] } {
  const hungUp: string[] = [];
  return { peer, ip: peer.split(":")[0]!, identity, hungUp, hangUp: (reason) => hungUp.push(reason) };
}

async function sessions(agencies: number, syncFile?: (fd: number) => Promise<void>, backlogLimit = 1000, level: LogLevel = "INFO") {
  const dir = scratchDir("lottery-sessions-");
  cleanups.push(dir.cleanup);
  const storage = join(dir.path, "bets.csv");
  const lines: string[] = [];
  const log = new Logger(level, (line) => lines.push(line));
  const lottery = new Lottery(agencies, log);
  const store = new BetStore<AdmittedBatch>(storage, "always", (batch) => lottery.recordCommitted(batch), syncFile);
  await store.open((stored) => lottery.recordStored(stored));
  cleanups.push(() => void store.close());
  const failures: StorageFailedError[] = [];
  const backlog = new Backlog(backlogLimit, 128);
  const stats = new CentralStats();
  const context = { lottery, store, backlog, log, stats, onStorageFailed: (error: StorageFailedError) => failures.push(error) };
  return { sessions: new AgencySessions(context), storage, lines, failures, backlog, stats };
}

const hello = (agency: number): Message => ({ type: MessageType.Hello, agency });
const bets = (agency: number, ...documents: string[]): Message => ({ type: MessageType.Bets, agency, bets: BetBlock.of(documents.map((d) => bet(d))) });

test("a hello answers the agency's stored count and hangs up the agency's older session", async () => {
  const { sessions: h } = await sessions(2);
  const first = fakeLink("a:1");
  const second = fakeLink("b:2");
  const older = h.open(first);
  expect(await older.handle(hello(1))).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(await older.handle(bets(1, "10", "11"))).toEqual({ type: MessageType.Ok, count: 2 });
  const newer = h.open(second);
  expect(await newer.handle(hello(1))).toEqual({ type: MessageType.Welcome, stored: 2 });
  expect(first.hungUp).toEqual(["replaced by a newer connection of this agency"]);
  expect(second.hungUp).toEqual([]);
  // Another agency's hello replaces nobody.
  expect(await h.open(fakeLink("c:3")).handle(hello(2))).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(second.hungUp).toEqual([]);
});

test("a closed session is forgotten: the next hello of its agency hangs nobody up", async () => {
  const { sessions: h } = await sessions(1);
  const first = fakeLink("a:1");
  const session = h.open(first);
  await session.handle(hello(1));
  session.closed();
  await h.open(fakeLink("b:2")).handle(hello(1));
  expect(first.hungUp).toEqual([]);
});

test("bets for another agency than the hello's are refused, and so is every later batch of that session", async () => {
  const { sessions: h, storage } = await sessions(2);
  const session = h.open(fakeLink("a:1"));
  await session.handle(hello(1));
  expect(await session.handle(bets(2, "20"))).toEqual({ type: MessageType.Error, reason: "this connection belongs to agency 1, not 2" });
  expect(await session.handle(bets(1, "10"))).toEqual({ type: MessageType.Error, reason: "an earlier batch of this session was refused" });
  expect(readCsv(storage)).toEqual([]);
});

test("END answers the agency's count once durable, and a repeated END counts once", async () => {
  const { sessions: h, lines } = await sessions(1);
  const session = h.open(fakeLink("a:1"));
  await session.handle(hello(1));
  await session.handle(bets(1, "10", "11", "12"));
  expect(await session.handle({ type: MessageType.End, agency: 1 })).toEqual({ type: MessageType.Ok, count: 3 });
  expect(await session.handle({ type: MessageType.End, agency: 1 })).toEqual({ type: MessageType.Ok, count: 3 });
  expect(lines.filter((line) => line.includes("action: fin_apuestas |"))).toHaveLength(1);
  expect(lines.filter((line) => line.includes("action: sorteo |"))).toHaveLength(1);
  expect(await session.handle({ type: MessageType.WinnersQuery, agency: 1 })).toEqual({ type: MessageType.Winners, documents: [] });
});

test("a failed storage is reported once per failing request and gets no answer", async () => {
  const { sessions: h, failures } = await sessions(1, async () => {
    throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
  });
  const session = h.open(fakeLink("a:1"));
  await session.handle(hello(1));
  expect(await session.handle(bets(1, "10"))).toBeUndefined();
  expect(failures).toHaveLength(1);
  expect(failures[0]).toBeInstanceOf(StorageFailedError);
});

test("bets count in the backlog until they are durable", async () => {
  const held = Promise.withResolvers<void>();
  const { sessions: h, backlog } = await sessions(1, () => held.promise, 3);
  let lowAgain = 0;
  backlog.onLow(() => lowAgain++);
  const session = h.open(fakeLink("a:1"));
  await session.handle(hello(1));
  const answer = session.handle(bets(1, "10", "11", "12"));
  expect(backlog.full).toBe(true);
  held.resolve();
  expect(await answer).toEqual({ type: MessageType.Ok, count: 3 });
  expect(backlog.full).toBe(false);
  expect(backlog.low).toBe(true);
  expect(lowAgain).toBe(1);
});

test("on TLS the certificate's CN is the identity: agency-2 may say hello only as agency 2, another CN not at all", async () => {
  const { sessions: h, lines } = await sessions(3);
  const certified = h.open(fakeLink("a:1", "agency-2"));
  expect(await certified.handle(hello(3))).toEqual({ type: MessageType.Error, reason: "this connection belongs to agency 2, not 3" });
  expect(await certified.handle(hello(2))).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(await certified.handle({ type: MessageType.End, agency: 3 })).toEqual({ type: MessageType.Error, reason: "this connection belongs to agency 2, not 3" });
  for (const cn of ["server", "agency-02", "agency-", "Agency-1", ""]) {
    const odd = h.open(fakeLink("b:2", cn));
    expect(await odd.handle(hello(1))).toEqual({ type: MessageType.Error, reason: `the certificate's CN ${JSON.stringify(cn)} names no agency (agency-N)` });
  }
  const denied = lines.filter((line) => line.includes("action: acceso_denegado |"));
  expect(denied[0]).toEndWith("| peer: a:1 | agency: 2 | claimed: 3\n");
  expect(denied).toHaveLength(7);
});

test("a bets frame that did not decode refuses the session's later batches, so what is stored stays a prefix", async () => {
  const { sessions: h, storage, stats } = await sessions(1);
  const session = h.open(fakeLink("a:1"));
  await session.handle(hello(1));
  session.malformed(MessageType.Echo);
  expect(await session.handle(bets(1, "10"))).toEqual({ type: MessageType.Ok, count: 1 });
  session.malformed(MessageType.Bets);
  expect(await session.handle(bets(1, "11"))).toEqual({ type: MessageType.Error, reason: "an earlier batch of this session was refused" });
  expect(readCsv(storage).map((row) => row[3])).toEqual(["10"]);
  expect(stats.batchesRefused).toBe(2);
});

/** One turn of the event loop: every promise that was going to settle by itself has. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

test("an echo goes back unchanged to anyone, hello or not, and is logged as the course's receive_message line", async () => {
  const { sessions: h, lines } = await sessions(1);
  const session = h.open(fakeLink("172.25.125.3:40000"));
  const echo = (text: string): Message => ({ type: MessageType.Echo, payload: new TextEncoder().encode(text) });
  expect(await session.handle(echo("[CLIENT 1] Message N°1"))).toEqual(echo("[CLIENT 1] Message N°1"));
  // The IP alone: the course's parser takes a key up to a value's last colon.
  expect(lines.at(-1)).toEndWith(" INFO    action: receive_message | result: success | ip: 172.25.125.3 | msg: [CLIENT 1] Message N°1\n");
  // A "|" cannot cut the line; a long payload is shown in part.
  await session.handle(echo("a|b"));
  expect(lines.at(-1)).toEndWith('| msg: "a\\u007cb"\n');
  await session.handle(echo("x".repeat(5000)));
  expect(lines.at(-1)).toEndWith(`| msg: ${"x".repeat(200)}… (5000 bytes)\n`);
});

test("a batch's stored bets are logged last bet first, at DEBUG; a batch of one at INFO", async () => {
  const { sessions: h, lines } = await sessions(1, undefined, 1000, "DEBUG");
  const session = h.open(fakeLink("a:1"));
  await session.handle(hello(1));
  await session.handle(bets(1, "10", "11", "12"));
  await session.handle(bets(1, "13"));
  const stored = lines.filter((line) => line.includes("action: apuesta_almacenada |"));
  expect(stored.map((line) => line.match(/ (DEBUG|INFO) .*dni: (\d+) \| numero: 1\n$/)?.slice(1))).toEqual([
    ["DEBUG", "12"],
    ["DEBUG", "11"],
    ["DEBUG", "10"],
    ["INFO", "13"],
  ]);
  // Each batch's lines come after its apuesta_recibida.
  const received = lines.findIndex((line) => line.includes("action: apuesta_recibida | result: success | cantidad: 3"));
  expect(received).toBeGreaterThanOrEqual(0);
  expect(received).toBeLessThan(lines.indexOf(stored[0]!));
});

test("END is the draw's barrier: a durable END is answered only once every agency's END is, then all at once", async () => {
  const { sessions: h, lines } = await sessions(2);
  const first = h.open(fakeLink("a:1"));
  await first.handle(hello(1));
  await first.handle(bets(1, "10"));
  let firstAnswered = false;
  const firstEnd = Promise.resolve(first.handle({ type: MessageType.End, agency: 1 })).then((answer) => {
    firstAnswered = true;
    return answer;
  });
  while (!lines.some((line) => line.includes("action: fin_apuestas | result: success | agency: 1 |"))) await turn();
  await turn();
  expect(firstAnswered).toBe(false);
  const second = h.open(fakeLink("b:2"));
  await second.handle(hello(2));
  expect(await second.handle({ type: MessageType.End, agency: 2 })).toEqual({ type: MessageType.Ok, count: 0 });
  expect(await firstEnd).toEqual({ type: MessageType.Ok, count: 1 });
  expect(lines.filter((line) => line.includes("action: sorteo |"))).toHaveLength(1);
  // A repeated END after the draw is answered at once.
  expect(await first.handle({ type: MessageType.End, agency: 1 })).toEqual({ type: MessageType.Ok, count: 1 });
});
