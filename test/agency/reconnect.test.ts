// How an agency gets back to its central: refusals that pass (a central at its connection limit, or
// stopping) are retried and the run resumes exactly once; the central's name is resolved again on each
// attempt, so a central that came back elsewhere is found; and an attempt to an address that never
// answers is given up after a bounded time, so the backoff goes on.
import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoppedError } from "../../lib/agency/errors.ts";
import { CONNECT_TIMEOUT_MS } from "../../lib/transport/central-connection.ts";
import { forEachLine, ROOT, type RunningProcess } from "../../lib/tooling/processes.ts";
import { MessageType, SHUTTING_DOWN_REASON, tooManyConnectionsReason } from "../../lib/protocol/index.ts";
import { blackhole, type Blackhole } from "../support/blackhole.ts";
import { MemoryCentral, scriptedCentral, type ScriptedSession } from "../support/scripted-central.ts";
import { inProcessAgency } from "../support/in-process.ts";
import { makeDataset, readCsv, Scope, waitForLine } from "../support/system.ts";

const scope = new Scope();
const listeners: TCPSocketListener<unknown>[] = [];
const holes: Blackhole[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) listener.stop(true);
  for (const hole of holes.splice(0)) hole.close();
  await scope.cleanup();
});

function listen(...args: Parameters<typeof scriptedCentral>) {
  const listener = scriptedCentral(...args);
  listeners.push(listener);
  return listener;
}

function documentsOf(file: string): string[] {
  return readCsv(file).map((row) => row[2]!);
}

/** A refusal as the central sends it when it turns a connection away: the E frame, then the close. */
function refuse(session: ScriptedSession, reason: string): void {
  session.send({ type: MessageType.Error, reason });
  session.end();
}

/** An agency run in this process, so that its resolver can be replaced; its log lines are kept. */
/** Agency 1 in this process, reading `file`, with its own name lookup. */
const agencyOf = (file: string, address: string, resolve: (host: string) => Promise<string[]>) =>
  inProcessAgency({ CLI_ID: "1", CLI_SERVER_ADDRESS: address, CLI_DATA_FILE: file, CLI_RECONNECT_TIMEOUTSECONDS: "60" }, resolve, "DEBUG");

test("a central at its connection limit is retried, and the run completes once a slot frees", async () => {
  const dir = scope.dir("lottery-busy-");
  const [file] = await makeDataset(dir, [2000]);
  const storage = join(dir, "bets.csv");
  const central = await scope.central(storage, { LOTTERY_AGENCIES: "1", SERVER_MAX_CONNECTIONS: "1" });
  // Holds the one slot: its echo answered, the central has counted it.
  const holder = await scope.client(central.port);
  expect((await holder.request({ type: MessageType.Echo, payload: new Uint8Array([1]) })).type).toBe(MessageType.Echo);

  const agency = scope.agency(1, central.port, file!, { CLI_RECONNECT_TIMEOUTSECONDS: "60" });
  await waitForLine(agency, /action: conexion_perdida \| result: fail \| error: the central refused for now: too many connections \(1\)/);
  holder.close();
  expect(await agency.done).toBe(0);
  expect(readCsv(storage).map((row) => row[3]!)).toEqual(documentsOf(file!));
});

test("a central shutting down is retried like a dropped session, and the run resumes exactly once", async () => {
  const [file] = await makeDataset(scope.dir("lottery-busy-"), [3000]);
  const memory = new MemoryCentral();
  let batches = 0;
  const central = listen({
    // The first session is dropped after 5 batches; the next two find the central stopping.
    open: (session) => {
      if (session.number === 2 || session.number === 3) refuse(session, SHUTTING_DOWN_REASON);
    },
    request: (message, session) => {
      if (session.number === 2 || session.number === 3) return;
      if (session.number === 1 && message.type === MessageType.Bets && ++batches > 5) return session.drop();
      memory.answer(message, session);
    },
  });
  const agency = scope.agency(1, central.port, file!, { CLI_RECONNECT_TIMEOUTSECONDS: "60" });
  expect(await agency.done).toBe(0);
  const output = agency.lines.join("\n");
  expect(output.split(`the central refused for now: ${SHUTTING_DOWN_REASON}`)).toHaveLength(3);
  expect(output).toContain("action: reanudar | result: success | stored: 640");
  expect(memory.documents).toEqual(documentsOf(file!));
});

test("every bet the central acknowledged is confirmed once, in file order, those whose OK a dropped session lost included", async () => {
  const [file] = await makeDataset(scope.dir("lottery-confirm-"), [2000]);
  const memory = new MemoryCentral();
  let batches = 0;
  const central = listen({
    request: (message, session) => {
      // The first session answers 3 batches, stores the next 2 without answering them, and drops.
      if (session.number === 1 && message.type === MessageType.Bets && ++batches > 3) {
        if (batches > 5) return;
        for (const bet of message.bets.toFields()) memory.documents.push(bet.document);
        if (batches === 5) session.drop();
        return;
      }
      memory.answer(message, session);
    },
  });
  const agency = scope.agency(1, central.port, file!, { CLI_RECONNECT_TIMEOUTSECONDS: "60" });
  expect(await agency.done).toBe(0);
  expect(agency.lines.join("\n")).toContain("action: reanudar | result: success | stored: 640");
  const confirmed = agency.lines.flatMap((line) => line.match(/ INFO    action: apuesta_enviada \| result: success \| dni: (\d+) \| numero: \d+$/)?.[1] ?? []);
  expect(confirmed).toEqual(documentsOf(file!));
});

test("refusals that do not pass end within reconnect.timeoutSeconds, naming the last reason, with no bet sent", async () => {
  const [file] = await makeDataset(scope.dir("lottery-busy-"), [100]);
  let requests = 0;
  const central = listen({
    open: (session) => refuse(session, tooManyConnectionsReason(3)),
    request: (message) => {
      if (message.type !== MessageType.Hello) requests++;
    },
  });
  const agency = scope.agency(1, central.port, file!, { CLI_RECONNECT_TIMEOUTSECONDS: "1" });
  expect(await agency.done).toBe(1);
  const output = agency.lines.join("\n");
  expect(output).toContain(`cannot reach the central at 127.0.0.1:${central.port} after`);
  expect(output).toContain("(last: the central refused for now: too many connections (3))");
  expect(output.split("action: connect | result: success").length).toBeGreaterThan(2);
  expect(requests).toBe(0);
});

test("any other refusal of the hello stops the agency at once", async () => {
  const [file] = await makeDataset(scope.dir("lottery-busy-"), [100]);
  let sessions = 0;
  const central = listen({
    open: () => sessions++,
    request: (message, session) => {
      if (message.type === MessageType.Hello) session.send({ type: MessageType.Error, reason: "agency 1 is not one of 1..0" });
    },
  });
  const agency = scope.agency(1, central.port, file!, { CLI_RECONNECT_TIMEOUTSECONDS: "60" });
  expect(await agency.done).toBe(1);
  expect(agency.lines.join("\n")).toContain("the central refused: agency 1 is not one of 1..0");
  expect(sessions).toBe(1);
});

/**
 * A central that moved: the old address keeps answering as a stopping central does (so no failed
 * connection would make a cached lookup go away), the new one serves. `moved()` is called when the
 * first session is dropped, after 3 batches.
 */
function movingCentral(oldHost: string, newHost: string, moved: () => void) {
  const memory = new MemoryCentral();
  let gone = false;
  let batches = 0;
  const old = listen(
    {
      open: (session) => {
        if (gone) refuse(session, SHUTTING_DOWN_REASON);
      },
      request: (message, session) => {
        if (gone) return;
        if (message.type === MessageType.Bets && ++batches > 3) {
          gone = true;
          moved();
          return session.drop();
        }
        memory.answer(message, session);
      },
    },
    { hostname: oldHost },
  );
  let newSessions = 0;
  listen({ open: () => newSessions++, request: (message, session) => memory.answer(message, session) }, { hostname: newHost, port: old.port });
  return { port: old.port, memory, newSessions: () => newSessions };
}

test("the central's name is resolved again on every attempt: a central that moved is found", async () => {
  const [file] = await makeDataset(scope.dir("lottery-dns-"), [2000]);
  let address = "127.0.0.1";
  const central = movingCentral("127.0.0.1", "127.0.0.2", () => (address = "127.0.0.2"));
  const asked: string[] = [];
  const agency = await agencyOf(file!, `lotterycentral:${central.port}`, async (host) => {
    asked.push(host);
    return [address];
  });
  await agency.run();
  expect(central.memory.documents).toEqual(documentsOf(file!));
  expect(central.newSessions()).toBe(1);
  expect(new Set(asked)).toEqual(new Set(["lotterycentral"]));
  expect(asked.length).toBeGreaterThanOrEqual(2);
});

test("an attempt to an address that never answers is given up, and the next attempt goes on", async () => {
  const [file] = await makeDataset(scope.dir("lottery-dns-"), [500]);
  const memory = new MemoryCentral();
  const central = listen({ request: (message, session) => memory.answer(message, session) });
  holes.push(await blackhole("127.0.0.3", central.port));
  let calls = 0;
  // The first answer is the black hole; a SYN there waits for the kernel's retries, about two minutes.
  const agency = await agencyOf(file!, `lotterycentral:${central.port}`, async () => [++calls === 1 ? "127.0.0.3" : "127.0.0.1"]);
  await agency.run();
  expect(memory.documents).toEqual(documentsOf(file!));
  expect(agency.lines.join("\n")).toContain(
    `action: connect | result: in_progress | server: lotterycentral:${central.port} | attempt: 1 | error: no connection within ${CONNECT_TIMEOUT_MS} ms`,
  );
});

test("a stop while a connection attempt is under way starts no session: no connect success, no bet sent", async () => {
  const [file] = await makeDataset(scope.dir("lottery-dns-"), [50]);
  const memory = new MemoryCentral();
  const central = listen({ request: (message, session) => memory.answer(message, session) });
  const asked = Promise.withResolvers<void>();
  const answer = Promise.withResolvers<string[]>();
  const agency = await agencyOf(file!, `lotterycentral:${central.port}`, () => {
    asked.resolve();
    return answer.promise;
  });
  const running = agency.run();
  // The attempt is looking the name up when SIGTERM comes; the address comes after.
  await asked.promise;
  await agency.stop("SIGTERM");
  answer.resolve(["127.0.0.1"]);
  await expect(running).rejects.toBeInstanceOf(StoppedError);
  expect(agency.lines.join("")).not.toContain("action: connect | result: success");
  expect(memory.documents).toEqual([]);
});

test("attempts go round a name's addresses: a dead first address is not tried for ever", async () => {
  const [file] = await makeDataset(scope.dir("lottery-dns-"), [500]);
  const memory = new MemoryCentral();
  const central = listen({ request: (message, session) => memory.answer(message, session) });
  holes.push(await blackhole("127.0.0.3", central.port));
  // The same answer every time, the black hole first: only going round the addresses reaches the central.
  const agency = await agencyOf(file!, `lotterycentral:${central.port}`, async () => ["127.0.0.3", "127.0.0.1"]);
  await agency.run();
  expect(memory.documents).toEqual(documentsOf(file!));
  expect(agency.lines.join("\n")).toContain(
    `action: connect | result: in_progress | server: lotterycentral:${central.port} | attempt: 1 | error: no connection within ${CONNECT_TIMEOUT_MS} ms`,
  );
});

/** Runs `command`, keeping its output lines as startBun does for bun processes. */
function spawnCommand(name: string, command: string[], env: Record<string, string | undefined>): RunningProcess {
  const process = Bun.spawn(command, { env, cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const running: RunningProcess = { name, process, lines: [], listeners: new Set(), done: Promise.resolve(0) };
  const collect = (line: string) => {
    running.lines.push(line);
    for (const listener of running.listeners) listener(line);
  };
  running.done = Promise.all([forEachLine(process.stdout, collect), forEachLine(process.stderr, collect)]).then(() => process.exited);
  scope.processes.push(running);
  return running;
}

test("a real agency process resolves the name afresh: a changed hosts entry is seen without waiting for a cache", async () => {
  const dir = scope.dir("lottery-dns-");
  const [file] = await makeDataset(dir, [2000]);
  // The agency runs with its own view of /etc/hosts (a private mount namespace): this file, changed below.
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, "127.0.0.1 lotterycentral\n");
  // In place, so that the bind mount sees it; Bun.connect's own cache would keep 127.0.0.1 for 30 s.
  const central = movingCentral("127.0.0.1", "127.0.0.2", () => writeFileSync(hosts, "127.0.0.2 lotterycentral\n"));
  const agency = spawnCommand(
    "client1",
    ["unshare", "--mount", "--map-root-user", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$1" run agency.ts', hosts, process.execPath],
    { ...process.env, CLI_ID: "1", CLI_SERVER_ADDRESS: `lotterycentral:${central.port}`, CLI_DATA_FILE: file!, CLI_RECONNECT_TIMEOUTSECONDS: "60" },
  );
  expect(await agency.done).toBe(0);
  expect(central.memory.documents).toEqual(documentsOf(file!));
  expect(central.newSessions()).toBe(1);
});
