// The central in-process, over real sockets, where a test needs to hold its storage: what it does with
// the bytes of a frame once the frame's handler has returned.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { BetBlock } from "../lib/bet-block.ts";
import { loadCentralConfig } from "../lib/central/config.ts";
import { CentralServer } from "../lib/central/server.ts";
import { Logger } from "../lib/log.ts";
import { encodeMessage, MessageType } from "../lib/protocol/index.ts";
import { echo } from "./support/raw-client.ts";
import { readCsv, Scope } from "./support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

test("a bet stored after a slow sync is logged as itself, though its frame came in pieces", async () => {
  const storage = join(scope.dir("lottery-server-"), "bets.csv");
  const config = await loadCentralConfig({ SERVER_PORT: "0", LOTTERY_AGENCIES: "1", STORAGE_FILEPATH: storage });
  const lines: string[] = [];
  // Syncs wait until released: the first batch is still being stored when the second frame arrives.
  const held: PromiseWithResolvers<void>[] = [];
  const heldSync = () => {
    const sync = Promise.withResolvers<void>();
    held.push(sync);
    return sync.promise;
  };
  const server = await CentralServer.start(config, new Logger("INFO", (line) => lines.push(line)), () => {}, heldSync);
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
