// A central whose storage fails stops at once: it logs the failure, drops every connection without an
// answer (agencies retry against a restarted central) and asks its process to end (exit 1). Each test
// fails on what it asserts, at once, even when the storage skips its syncs (then the batch whose sync
// was to fail is answered: that answer is raced against the failure the test waits for).
import { afterEach, expect, test } from "bun:test";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { MessageType } from "../../lib/protocol/index.ts";
import { StorageFailedError } from "../../lib/storage/store.ts";
import { before, heldSyncs } from "../support/held-sync.ts";
import { startInProcess } from "../support/in-process.ts";
import { readCsv, Scope } from "../support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

const bet = (document: string) => ({ firstName: "Ana", lastName: "Peña", document, birthdate: "1990-01-01", number: "1" });
const CRITICAL = /CRITICAL +action: storage \| result: fail/;
const eio = () => Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });

test("a failed sync ends the central: CRITICAL log line, connections dropped unanswered, nothing more stored", async () => {
  let syncs = 0;
  const failingSecondSync = async () => {
    if (++syncs === 2) throw eio();
  };
  const central = await startInProcess(scope, {}, { syncFile: failingSecondSync });

  const client = await scope.client(central.server.port);
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(await client.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("1")]) })).toEqual({ type: MessageType.Ok, count: 1 });
  expect(syncs).toBe(1);
  client.send({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("2"), bet("3")]) });

  const fatal = await before(central.fatal, { "the batch whose sync failed was answered": client.arrival(3) });
  expect(fatal).toBeInstanceOf(StorageFailedError);
  await client.closed;
  // No answer at all for the failed batch: not an OK, and not an error that would stop the agency.
  expect(client.received).toHaveLength(2);
  expect(central.count(CRITICAL)).toBe(1);
  expect(readCsv(central.storage)).toEqual([["1", "Ana", "Peña", "1", "1990-01-01", "1"]]);
});

test("a sync that fails during a graceful stop still ends the central as failed, with no OK", async () => {
  const syncs = heldSyncs();
  const central = await startInProcess(scope, {}, { syncs });

  const client = await scope.client(central.server.port);
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  client.send({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("1")]) });
  const sync = await before(syncs.next(0), { "the batch was answered without a sync": client.arrival(2) });
  const stopped = central.server.shutdown("SIGTERM");
  sync.reject(eio());

  expect(await central.fatal).toBeInstanceOf(StorageFailedError);
  await stopped.catch(() => undefined);
  expect(central.count(CRITICAL)).toBe(1);
  expect(client.received.filter((message) => message.type === MessageType.Ok)).toEqual([]);
});
