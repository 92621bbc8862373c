// The request handlers alone, with fake connections: no socket is opened. What they answer, which
// session they hang up, and what they store.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { BetBlock } from "../lib/bet-block.ts";
import { RequestHandlers } from "../lib/central/handlers.ts";
import { Lottery, type AdmittedBatch } from "../lib/central/lottery.ts";
import { Backlog, type ConnectionLink } from "../lib/central/session.ts";
import { Logger } from "../lib/log.ts";
import { MessageType, type Message } from "../lib/protocol/index.ts";
import { BetStore, StorageFailedError } from "../lib/store.ts";
import { readCsv, scratchDir } from "./support/system.ts";

const bet = (document: string, number = "1") => ({ firstName: "Ana", lastName: "Peña", document, birthdate: "1990-01-01", number });

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A connection the handlers can only hang up: it records why. */
function fakeLink(peer: string, identity?: string): ConnectionLink & { hungUp: string[] } {
  const hungUp: string[] = [];
  return { peer, identity, hungUp, hangUp: (reason) => hungUp.push(reason) };
}

async function handlers(agencies: number, syncFile?: (fd: number) => Promise<void>, backlogLimit = 1000) {
  const dir = scratchDir("lottery-handlers-");
  cleanups.push(dir.cleanup);
  const storage = join(dir.path, "bets.csv");
  const lines: string[] = [];
  const log = new Logger("INFO", (line) => lines.push(line));
  const lottery = new Lottery(agencies, log);
  const store = new BetStore<AdmittedBatch>(storage, "always", (batch) => lottery.recordCommitted(batch), syncFile);
  await store.open((stored) => lottery.recordStored(stored));
  cleanups.push(() => void store.close());
  const failures: StorageFailedError[] = [];
  const backlog = new Backlog(backlogLimit);
  return { handlers: new RequestHandlers(lottery, store, backlog, log, (error) => failures.push(error)), storage, lines, failures, backlog };
}

const hello = (agency: number): Message => ({ type: MessageType.Hello, agency });
const bets = (agency: number, ...documents: string[]): Message => ({ type: MessageType.Bets, agency, bets: BetBlock.of(documents.map((d) => bet(d))) });

test("a hello answers the agency's stored count and hangs up the agency's older session", async () => {
  const { handlers: h } = await handlers(2);
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
  const { handlers: h } = await handlers(1);
  const first = fakeLink("a:1");
  const session = h.open(first);
  await session.handle(hello(1));
  session.closed();
  await h.open(fakeLink("b:2")).handle(hello(1));
  expect(first.hungUp).toEqual([]);
});

test("bets for another agency than the hello's are refused, and so is every later batch of that session", async () => {
  const { handlers: h, storage } = await handlers(2);
  const session = h.open(fakeLink("a:1"));
  await session.handle(hello(1));
  expect(await session.handle(bets(2, "20"))).toEqual({ type: MessageType.Error, reason: "this connection belongs to agency 1, not 2" });
  expect(await session.handle(bets(1, "10"))).toEqual({ type: MessageType.Error, reason: "an earlier batch of this session was refused" });
  expect(readCsv(storage)).toEqual([]);
});

test("END answers the agency's count once durable, and a repeated END counts once", async () => {
  const { handlers: h, lines } = await handlers(1);
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
  const { handlers: h, failures } = await handlers(1, async () => {
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
  const { handlers: h, backlog } = await handlers(1, () => held.promise, 3);
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
  const { handlers: h, lines } = await handlers(3);
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
  const { handlers: h, storage } = await handlers(1);
  const session = h.open(fakeLink("a:1"));
  await session.handle(hello(1));
  session.malformed(MessageType.Echo);
  expect(await session.handle(bets(1, "10"))).toEqual({ type: MessageType.Ok, count: 1 });
  session.malformed(MessageType.Bets);
  expect(await session.handle(bets(1, "11"))).toEqual({ type: MessageType.Error, reason: "an earlier batch of this session was refused" });
  expect(readCsv(storage).map((row) => row[3])).toEqual(["10"]);
  expect(h.stats.batchesRefused).toBe(2);
});
