// The central in-process, over real sockets, where a test needs to hold its storage: what it does with
// the bytes of a frame once the frame's handler has returned, what waits for durability (the draw, a
// welcome), the limits it applies and whose bets a connection may store.
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { loadCentralConfig } from "../../lib/central/config.ts";
import { CentralServer } from "../../lib/central/server.ts";
import { Logger } from "../../lib/log.ts";
import { encodeMessage, MessageType, type Message } from "../../lib/protocol/index.ts";
import { StorageFailedError } from "../../lib/storage/store.ts";
import { awayFromMidnight, dayFromToday } from "../support/dates.ts";
import { before, heldSyncs } from "../support/held-sync.ts";
import { startInProcess } from "../support/in-process.ts";
import { echo, rawFrame, type RawClient } from "../support/raw-client.ts";
import { readCsv, Scope } from "../support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

test("a bet stored after a slow sync is logged as itself, though its frame came in pieces", async () => {
  const storage = join(scope.dir("lottery-server-"), "bets.csv");
  const config = await loadCentralConfig({ SERVER_PORT: "0", LOTTERY_AGENCIES: "1", STORAGE_FILEPATH: storage });
  const lines: string[] = [];
  // Syncs wait until released: the first batch is still being stored when the second frame arrives.
  const syncs = heldSyncs();
  const held = syncs.calls;
  const server = await CentralServer.start(config, new Logger("INFO", (line) => lines.push(line)), () => {}, syncs.sync);
  try {
    await storeTwoCutFrames(server.port, held);
  } finally {
    for (const sync of held) sync.resolve();
    await server.shutdown("SIGTERM");
  }
  const logged = lines.filter((line) => line.includes("action: apuesta_almacenada")).map((line) => line.match(/dni: (\d+)/)?.[1]);
  expect(logged).toEqual(["11111111", "22222222"]);
  expect(readCsv(storage).map((row) => row[3])).toEqual(["11111111", "22222222"]);
});

async function storeTwoCutFrames(port: number, held: PromiseWithResolvers<void>[]): Promise<void> {
  const client = await scope.client(port);
  const other = await scope.client(port);
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  const bet = (document: string) => ({ firstName: "Ana", lastName: "Peña", document, birthdate: "1990-01-01", number: "1" });
  for (const document of ["11111111", "22222222"]) {
    // Each single-bet frame in two writes, with round trips of another client between them, so that the
    // central gathers it in its decoder's buffer, which the next cut frame reuses.
    const frame = encodeMessage({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet(document)]) });
    client.sendBytes(frame.subarray(0, 10));
    await other.request(echo("turn"));
    client.sendBytes(frame.subarray(10));
    await other.request(echo("turn"));
  }
  for (const sync of held) sync.resolve();
  expect(await client.next()).toEqual({ type: MessageType.Ok, count: 1 });
  for (const sync of held) sync.resolve();
  expect(await client.next()).toEqual({ type: MessageType.Ok, count: 1 });
}

// ---------------------------------------------------------------------------------------------------
// The draw waits for the last END to be durable

const SORTEO = /action: sorteo \| result: success/;
const bet = (document: string, birthdate = "1990-01-01") => ({ firstName: "Ana", lastName: "Peña", document, birthdate, number: "1" });
const reasonOf = (message: Message | undefined) => (message?.type === MessageType.Error ? message.reason : `not an error: ${JSON.stringify(message)}`);

/**
 * Echo round trips on fresh connections: by their end the central has gone round its event loop many
 * times, so what it would have done with bytes already sent to it (or answers already due) is done.
 * Fresh ones, since a connection may itself be paused once the store is full.
 */
async function roundTrips(port: number, count = 10): Promise<void> {
  for (let i = 0; i < count; i++) {
    const probe = await scope.client(port);
    expect(await probe.request(echo(`probe ${i}`))).toEqual(echo(`probe ${i}`));
    probe.close();
  }
}

/**
 * Two agencies, each on its own connection: agency 1 has ended durably and its winners query is held;
 * agency 2's END is written and its sync held.
 */
async function lastEndHeld() {
  const syncs = heldSyncs();
  const central = await startInProcess(scope, { LOTTERY_AGENCIES: "2" }, { syncs });
  const port = central.server.port;
  const waiting = await scope.client(port);
  expect(await waiting.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  waiting.send({ type: MessageType.End, agency: 1 });
  (await before(syncs.next(0), { "agency 1's END was answered without a sync": waiting.arrival(2) })).resolve();
  // Behind its END, which is the barrier: neither is answered before the draw.
  waiting.send({ type: MessageType.WinnersQuery, agency: 1 });
  const agencies = await scope.client(port);
  expect(await agencies.request({ type: MessageType.Hello, agency: 2 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  agencies.send({ type: MessageType.End, agency: 2 });
  const endSync = await before(syncs.next(1), {
    "agency 2's END was answered without a sync": agencies.arrival(2),
    "agency 1's END was answered before the draw": waiting.arrival(2),
  });
  // Agency 2's END is written and not yet durable: no draw yet, nobody answered.
  await roundTrips(port);
  expect(central.count(SORTEO)).toBe(0);
  expect({ waiting: waiting.received.length, agencies: agencies.received.length }).toEqual({ waiting: 1, agencies: 1 });
  expect(readFileSync(`${central.storage}.ends`, "utf8")).toBe("1\n2\n");
  return { central, agencies, waiting, endSync };
}

test("the last END counts toward the draw only once it is durable: no draw, no END answered and no winners before its sync", async () => {
  const { central, agencies, waiting, endSync } = await lastEndHeld();
  endSync.resolve();
  expect(await waiting.next()).toEqual({ type: MessageType.Ok, count: 0 });
  expect(await waiting.next()).toEqual({ type: MessageType.Winners, documents: [] });
  expect(await agencies.next()).toEqual({ type: MessageType.Ok, count: 0 });
  expect(central.count(SORTEO)).toBe(1);
  // The draw is logged before any END is answered: the agencies' winners lines come after it.
  const lines = central.lines.join("\n");
  expect(lines.indexOf("action: sorteo")).toBeLessThan(lines.indexOf("action: ganadores_enviados"));
});

test("if the last END's sync fails there is no draw: the ENDs and the winners query waiting for it are dropped unanswered", async () => {
  const { central, agencies, waiting, endSync } = await lastEndHeld();
  endSync.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
  expect(await central.fatal).toBeInstanceOf(StorageFailedError);
  await Promise.all([waiting.closed, agencies.closed]);
  // Nothing after each welcome: no OK for either END, no winners.
  expect(waiting.received).toHaveLength(1);
  expect(agencies.received).toHaveLength(1);
  expect(central.count(SORTEO)).toBe(0);
});

// ---------------------------------------------------------------------------------------------------
// Limits and identity

test("server.max_frame_bytes is the limit applied: a payload one byte over it is refused, one at it is answered", async () => {
  // Far from the default (65,536).
  const central = await startInProcess(scope, { SERVER_MAX_FRAME_BYTES: "100" });
  const client = await scope.client(central.server.port);
  const payload = (size: number): Message => ({ type: MessageType.Echo, payload: new Uint8Array(size).fill(0x61) });
  expect(await client.request(payload(100))).toEqual(payload(100));
  expect(await client.request(payload(101))).toEqual({ type: MessageType.Error, reason: "frame of 101 bytes exceeds the limit of 100 bytes" });
  await client.closed;
});

test("a connection whose hello named agency 1 cannot store bets for agency 2: refused, and nothing stored", async () => {
  const central = await startInProcess(scope, { LOTTERY_AGENCIES: "2" });
  const port = central.server.port;
  const client = await scope.client(port);
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  const reply = await client.request({ type: MessageType.Bets, agency: 2, bets: BetBlock.of([bet("1"), bet("2")]) });
  expect(reasonOf(reply)).toBe("this connection belongs to agency 1, not 2");
  const other = await scope.client(port);
  expect(await other.request({ type: MessageType.Hello, agency: 2 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(readCsv(central.storage)).toEqual([]);
});

test("a birthdate of today (UTC) is stored and one of tomorrow is refused, over the wire", async () => {
  await awayFromMidnight();
  const central = await startInProcess(scope);
  const client = await scope.client(central.server.port);
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  const today = dayFromToday(0);
  const tomorrow = dayFromToday(1);
  expect(await client.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("1", today)]) })).toEqual({ type: MessageType.Ok, count: 1 });
  const refused = await client.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("2", tomorrow)]) });
  expect(reasonOf(refused)).toBe(`bet 1 of 1 (document "2"): birthdate must be a past date as YYYY-MM-DD, got "${tomorrow}"`);
  expect(readCsv(central.storage)).toEqual([["1", "Ana", "Peña", "1", today, "1"]]);
}, 90_000);

// ---------------------------------------------------------------------------------------------------
// The limit on bets waiting for the store, across connections

/** The README's limit on bets received and not yet durable, across all connections. */
const MAX_PENDING_BETS = 16 * 1024;
const BETS_PER_FRAME = 1000;

test("connections that together pipeline past 16,384 bets waiting for the store are no longer read until it catches up", async () => {
  const syncs = heldSyncs();
  const central = await startInProcess(scope, { LOTTERY_AGENCIES: "3" }, { syncs });
  const port = central.server.port;
  const clients = await Promise.all([1, 2, 3].map(() => scope.client(port)));
  for (const [i, client] of clients.entries()) {
    expect(await client.request({ type: MessageType.Hello, agency: i + 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  }
  // A frame the central refuses (and logs) as soon as it reads it: shows how far it has read a connection.
  const marker = rawFrame("?");
  const markerLine = (client: RawClient) => new RegExp(`action: frame \\| result: fail \\| peer: ${client.peer} \\|`);
  const frames = [0, 0, 0];
  let documents = 0;
  const sendFrame = (index: number) => {
    const bets = BetBlock.of(Array.from({ length: BETS_PER_FRAME }, () => bet(String(++documents))));
    clients[index]!.sendBytes(Buffer.concat([encodeMessage({ type: MessageType.Bets, agency: index + 1, bets }), marker]));
    frames[index]!++;
  };
  const read = (index: number) => central.line(markerLine(clients[index]!), frames[index]);

  // The store is busy with a first bet: everything received from now on waits for it.
  clients[0]!.send({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet(String(++documents))]) });
  await before(syncs.next(0), { "the first bet was answered without a sync": clients[0]!.arrival(2) });
  // Frames from the three connections, each far below its own limit of requests in progress, up to
  // just under the limit of bets waiting for the store: all are read.
  for (let next = 0; documents + BETS_PER_FRAME < MAX_PENDING_BETS; next = (next + 1) % 3) sendFrame(next);
  await Promise.all([0, 1, 2].map(read));
  // This frame takes the waiting bets past the limit; the central reads no more from its connection.
  const crossing = frames.indexOf(Math.min(...frames));
  sendFrame(crossing);
  await read(crossing);
  expect(documents).toBeGreaterThanOrEqual(MAX_PENDING_BETS);
  sendFrame(crossing);
  await clients[crossing]!.flushed();
  await roundTrips(port);
  expect({ framesReadPastTheLimit: central.count(markerLine(clients[crossing]!)) - (frames[crossing]! - 1) }).toEqual({ framesReadPastTheLimit: 0 });
  expect(syncs.calls).toHaveLength(1);

  // Once the store has caught up, reading resumes and every bet is stored and acknowledged.
  syncs.releaseAll();
  await read(crossing);
  for (const [i, client] of clients.entries()) {
    const replies: Message[] = [];
    const expected = frames[i]! * 2 + (i === 0 ? 1 : 0);
    for (let n = 0; n < expected; n++) replies.push(await client.next());
    expect(replies.filter((message) => message.type === MessageType.Ok).length).toBe(frames[i]! + (i === 0 ? 1 : 0));
  }
  expect(readCsv(central.storage)).toHaveLength(documents);
}, 30_000);

// ---------------------------------------------------------------------------------------------------
// A newer connection of an agency

test("a newer connection of an agency replaces the older one and is welcomed only once the old one's batches are stored", async () => {
  const syncs = heldSyncs();
  const central = await startInProcess(scope, {}, { syncs });
  const port = central.server.port;
  const old = await scope.client(port);
  expect(await old.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  // A window of batches whose OKs the old connection will never read; the first one's sync is held.
  const batches = Array.from({ length: 20 }, (_, b) =>
    encodeMessage({ type: MessageType.Bets, agency: 1, bets: BetBlock.of(Array.from({ length: 50 }, (_, i) => bet(String(b * 50 + i)))) }),
  );
  old.sendBytes(Buffer.concat(batches));
  await before(syncs.next(0), { "a batch was answered without a sync": old.arrival(2) });

  // The same agency again, on a new connection (an agency restarted after a network cut).
  const fresh = await scope.client(port);
  fresh.send({ type: MessageType.Hello, agency: 1 });
  await central.line(/action: conexion_reemplazada \| result: success \| agency: 1 \|/);
  // Its welcome waits for the batches already taken from the old connection to be durable.
  await roundTrips(port);
  expect(fresh.received).toEqual([]);
  syncs.releaseAll();
  const welcome = await fresh.next();
  // Every batch the central took from the old connection is counted, none half: the count is a cursor.
  const stored = welcome.type === MessageType.Welcome ? welcome.stored : -1;
  expect(stored).toBeGreaterThan(0);
  expect(stored % 50).toBe(0);
  expect(readCsv(central.storage)).toHaveLength(stored);
  // The old connection is told and closed; nothing more is taken from it.
  await old.closed;
  expect(old.received.some((message) => message.type === MessageType.Error && /replaced by a newer connection/.test(message.reason))).toBe(true);
  expect(await fresh.request({ type: MessageType.End, agency: 1 })).toEqual({ type: MessageType.Ok, count: stored });
  expect(readCsv(central.storage)).toHaveLength(stored);
});
