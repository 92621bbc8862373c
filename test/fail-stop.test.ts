// A central whose storage fails stops at once: it logs the failure, drops every connection without an
// answer (agencies retry against a restarted central) and asks its process to end (exit 1).
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { BetBlock } from "../lib/bet-block.ts";
import { loadCentralConfig } from "../lib/central/config.ts";
import { CentralServer } from "../lib/central/server.ts";
import { Logger } from "../lib/log.ts";
import { MessageType } from "../lib/protocol/index.ts";
import { StorageFailedError } from "../lib/store.ts";
import { readCsv, Scope } from "./support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

const bet = (document: string) => ({ firstName: "Ana", lastName: "Peña", document, birthdate: "1990-01-01", number: "1" });

test("a failed sync ends the central: CRITICAL log line, connections dropped unanswered, nothing more stored", async () => {
  const storage = join(scope.dir("lottery-failstop-"), "bets.csv");
  const config = await loadCentralConfig({ SERVER_PORT: "0", LOTTERY_AGENCIES: "1", STORAGE_FILEPATH: storage });
  const lines: string[] = [];
  const fatal = Promise.withResolvers<Error>();
  let syncs = 0;
  const failingSecondSync = async () => {
    if (++syncs === 2) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
  };
  const server = await CentralServer.start(config, new Logger("INFO", (line) => lines.push(line)), fatal.resolve, failingSecondSync);

  const client = await scope.client(server.port);
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(await client.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("1")]) })).toEqual({ type: MessageType.Ok, count: 1 });
  client.send({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("2"), bet("3")]) });

  expect(await fatal.promise).toBeInstanceOf(StorageFailedError);
  await client.closed;
  // No answer at all for the failed batch: not an OK, and not an error that would stop the agency.
  expect(client.received).toHaveLength(2);
  expect(lines.filter((line) => line.includes("CRITICAL") && line.includes("action: storage | result: fail"))).toHaveLength(1);
  expect(readCsv(storage)).toEqual([["1", "Ana", "Peña", "1", "1990-01-01", "1"]]);
});

test("a sync that fails during a graceful stop still ends the central as failed, with no OK", async () => {
  const storage = join(scope.dir("lottery-failstop-"), "bets.csv");
  const config = await loadCentralConfig({ SERVER_PORT: "0", LOTTERY_AGENCIES: "1", STORAGE_FILEPATH: storage });
  const lines: string[] = [];
  const fatal = Promise.withResolvers<Error>();
  const held = Promise.withResolvers<void>();
  const syncStarted = Promise.withResolvers<void>();
  const heldSync = () => {
    syncStarted.resolve();
    return held.promise;
  };
  const server = await CentralServer.start(config, new Logger("INFO", (line) => lines.push(line)), fatal.resolve, heldSync);

  const client = await scope.client(server.port);
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  client.send({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("1")]) });
  await syncStarted.promise;
  const stopped = server.shutdown("SIGTERM");
  held.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));

  expect(await fatal.promise).toBeInstanceOf(StorageFailedError);
  await stopped.catch(() => undefined);
  expect(lines.filter((line) => line.includes("CRITICAL") && line.includes("action: storage | result: fail"))).toHaveLength(1);
  expect(client.received.filter((message) => message.type === MessageType.Ok)).toEqual([]);
});
