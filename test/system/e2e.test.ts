// End to end with real processes: a central on an ephemeral port with its own storage file, agencies
// as `bun run agency.ts` processes, and bare protocol clients over real sockets. Every check here is
// something an operator or an agency relies on: bets stored once and whole, the draw barrier, winners
// per agency, refusals, resilience to garbage, graceful SIGTERM, the log line format and the
// connection capacity.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BetFields } from "../../lib/bet/bet.ts";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { encodeMessage, MessageType, messageName, type Message } from "../../lib/protocol/index.ts";
import { echo, RawClient, fields, rawFrame, seededBytes } from "../support/raw-client.ts";
import {
  actionLines,
  expectedWinners,
  makeDataset,
  readCsv,
  Scope,
  waitForLine,
  waitForLines,
  type RunningProcess,
} from "../support/system.ts";

// A seed whose sizes below give agencies with several winners, one winner and none ([2, 1, 0, 1, 0]).
const SEED = 229;
// Each test passes its own timeout (30 s): bun reads no test timeout from bunfig.toml, so the default would
// be 5 s, short for real processes on a loaded 2-core machine. It only turns a hang into a failure.
const WINNING_NUMBER = "7574";

// ---------------------------------------------------------------------------------------------------------------
// Per-test resources: every process, socket and directory a test opens is released after it, pass or fail.

let scope: Scope;
const raw = (port: number) => scope.client(port);
beforeEach(() => {
  scope = new Scope();
});
afterEach(async () => {
  await scope.cleanup();
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** The README's log line: time, level, `action: X | result: R` and `key: value` pairs (values quoted as JSON when they hold a separator). */
const LOG_LINE =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) +action: [a-z_]+ \| result: (success|fail|in_progress)( \| [a-z_]+: ("(?:[^"\\]|\\.)*"|[^|\s](?:[^|]*[^|\s])?))*$/;

/**
 * Issue item "log lines": every line holding `action:` of every process of the test has the log format.
 * Each test ends with this check over all the processes it ran.
 */
function expectWellFormedLogs(processes: readonly RunningProcess[]): void {
  const actionLinesSeen = processes.flatMap((running) => running.lines.filter((line) => line.includes("action:")));
  const malformed = actionLinesSeen.filter((line) => !LOG_LINE.test(line));
  expect(malformed).toEqual([]);
  // Guards against a vacuous pass: each process did log.
  for (const running of processes) expect(running.lines.some((line) => line.includes("action:"))).toBe(true);
}


/** The stored rows of each agency, without the agency column, in file order. */
async function storedByAgency(storage: string): Promise<Map<number, string[][]>> {
  const byAgency = new Map<number, string[][]>();
  for (const row of readCsv(storage)) {
    expect(row).toHaveLength(6);
    const agency = Number(row[0]);
    const list = byAgency.get(agency) ?? [];
    list.push(row.slice(1));
    byAgency.set(agency, list);
  }
  return byAgency;
}

/** The storage file holds only whole rows: it is empty or ends with the CRLF that closes its last row. */
async function expectWholeRows(storage: string): Promise<void> {
  const text = await Bun.file(storage).text();
  if (text.length > 0) expect(text.endsWith("\r\n")).toBe(true);
  readCsv(storage);
}

async function winnerDocuments(file: string): Promise<string[]> {
  return (readCsv(file)).filter((row) => row[4] === WINNING_NUMBER).map((row) => row[2]!);
}

/** A central's SIGTERM logs: in progress, listener, one close_connection per client, store, success last. */
function expectClosingLogs(central: RunningProcess, connections: number): void {
  const logged = central.lines.filter((line) => line.includes("action: "));
  const from = logged.findIndex((line) => /action: shutdown \| result: in_progress/.test(line));
  expect(from).toBeGreaterThanOrEqual(0);
  const closing = logged.slice(from).map((line) => /action: (\w+) \| result: (\w+)/.exec(line)!.slice(1).join(" "));
  expect(closing).toEqual([
    "shutdown in_progress",
    "close_listener success",
    ...Array.from({ length: connections }, () => "close_connection success"),
    "close_store success",
    "shutdown success",
  ]);
}

function indexOfLine(running: RunningProcess, pattern: RegExp): number {
  return running.lines.findIndex((line) => pattern.test(line));
}

/** Sends SIGTERM and returns the exit code. */
async function terminate(running: RunningProcess): Promise<number> {
  running.process.kill("SIGTERM");
  return running.done;
}

const SORTEO = /action: sorteo \| result: success/;
const FIRST_BATCH_STORED = /action: apuesta_recibida \| result: success/;
/** The reason of an error frame; any other reply fails the test. */
function reasonOf(reply: Message): string {
  if (reply.type !== MessageType.Error) throw new Error(`expected an error frame, got ${messageName(reply.type)}`);
  return reply.reason;
}


// ---------------------------------------------------------------------------------------------------------------
// 1. The whole run

test("central and 5 agencies: every bet stored once, each agency gets its own winners, one draw, all exit 0", async () => {
  const dir = scope.dir("lottery-e2e-");
  const sizes = [3000, 2500, 1600, 900, 99];
  const files = await makeDataset(dir, sizes, SEED);
  const winners = await Promise.all(files.map(expectedWinners));
  // The dataset must cover both an agency with winners and one without.
  expect(winners.some((n) => n > 0) && winners.some((n) => n === 0)).toBe(true);

  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "5" });
  const agencies = files.map((file, i) => scope.agency(i + 1, central.port, file));
  expect(await Promise.all(agencies.map((agency) => agency.done))).toEqual([0, 0, 0, 0, 0]);

  for (const [i, agency] of agencies.entries()) {
    const reported = actionLines(agency, "consulta_ganadores").map((line) => line.replace(/^.*?action: /, "action: "));
    expect(reported).toEqual([`action: consulta_ganadores | result: success | cant_ganadores: ${winners[i]}`]);
  }
  expect(actionLines(central, "sorteo")).toHaveLength(1);
  expect(await terminate(central)).toBe(0);

  const stored = await storedByAgency(central.storage);
  expect([...stored.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
  for (const [i, file] of files.entries()) {
    // Same rows in the same order: nothing lost, nothing duplicated.
    expect(stored.get(i + 1)).toEqual(readCsv(file));
  }
  // Documents repeat in the data (as in real data), so the equality above shows none was deduplicated.
  const documents = (readCsv(files[0]!)).map((row) => row[2]);
  expect(new Set(documents).size).toBeLessThan(documents.length);
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 2. The draw barrier

test("a winners query sent before the draw is held and answered only after the last agency's END", async () => {
  const dir = scope.dir("lottery-e2e-");
  const files = await makeDataset(dir, [3000], SEED);
  const expected = await winnerDocuments(files[0]!);
  expect(expected.length).toBeGreaterThan(0);

  // Agency 2 is a bare client that asks before it has even ended; agency 1 is a real agency.
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "2" });
  const early = await raw(central.port);
  expect(await early.request({ type: MessageType.Hello, agency: 2 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  early.send({ type: MessageType.WinnersQuery, agency: 2 });
  await early.flushed();

  const agency1 = scope.agency(1, central.port, files[0]!);
  await waitForLine(central, /action: fin_apuestas \| result: success \| agency: 1 \|/);
  // The central is demonstrably serving (an echo round trip after agency 1's END), yet nobody has an answer.
  const probe = await raw(central.port);
  expect(await probe.request(echo("ping"))).toEqual(echo("ping"));
  expect(early.received).toHaveLength(1);
  expect(actionLines(agency1, "consulta_ganadores")).toEqual([]);
  expect(actionLines(central, "sorteo")).toEqual([]);

  // Agency 2's END is the last: the draw answers both held queries, each with its own agency's winners
  // (answers keep request order: the query's comes before the END's OK).
  early.send({ type: MessageType.End, agency: 2 });
  expect(await early.next()).toEqual({ type: MessageType.Winners, documents: [] });
  expect(await early.next()).toEqual({ type: MessageType.Ok, count: 0 });
  expect(await agency1.done).toBe(0);
  expect(actionLines(agency1, "consulta_ganadores").map((line) => line.replace(/^.*?action: /, "action: "))).toEqual([
    `action: consulta_ganadores | result: success | cant_ganadores: ${expected.length}`,
  ]);
  expect(await terminate(central)).toBe(0);

  // Every winners answer left after the single draw: the central logs each answer before sending it.
  expect(actionLines(central, "sorteo")).toHaveLength(1);
  const draw = indexOfLine(central, SORTEO);
  const answers = central.lines.flatMap((line, i) => (line.includes("action: ganadores_enviados |") ? [i] : []));
  expect(answers).toHaveLength(2); // the early query and agency 1's own
  for (const index of answers) expect(index).toBeGreaterThan(draw);
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 3. Garbage next to a real agency

test("garbage from other clients gets error frames and does not disturb a concurrent agency", async () => {
  const dir = scope.dir("lottery-e2e-");
  const files = await makeDataset(dir, [20_000, 500], SEED);
  // Two agencies expected: agency 1's connection stays open (sending, then waiting for the draw) for as
  // long as the garbage goes on; agency 2 starts only afterwards and its END brings the draw.
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "2" });
  const agency = scope.agency(1, central.port, files[0]!);
  await waitForLine(central, FIRST_BATCH_STORED);

  const expectError = async (client: RawClient, reason: RegExp) => {
    expect(reasonOf(await client.next())).toMatch(reason);
  };

  const garbage = [
    // Random bytes: their first four read as a size far past the limit; refused, then hung up on.
    (async () => {
      const bytes = seededBytes(4096, 12345);
      expect(bytes.readUInt32BE(0)).toBeGreaterThan(64 * 1024);
      const client = await raw(central.port);
      client.sendBytes(bytes);
      await expectError(client, /exceeds the limit/);
      await client.closed;
    })(),
    // A header announcing 4 GiB: refused from the header alone, then hung up on.
    (async () => {
      const client = await raw(central.port);
      client.sendBytes(rawFrame("B", new Uint8Array(0), 0xffff_fff0));
      await expectError(client, /exceeds the limit/);
      await client.closed;
    })(),
    // Unknown types and malformed payloads: each refused, and the connection keeps serving.
    (async () => {
      const client = await raw(central.port);
      client.sendBytes(rawFrame("Z"));
      await expectError(client, /unknown message type/);
      client.sendBytes(rawFrame("B", fields("1", "Ana", "Gómez")));
      await expectError(client, /truncated field length/);
      client.sendBytes(rawFrame("B", Buffer.concat([fields("1"), Buffer.from([0, 0, 3, 232]), Buffer.from("Ana")])));
      await expectError(client, /runs past the end/);
      client.sendBytes(rawFrame("B", fields("uno", "Ana", "Gómez", "30111222", "1990-01-01", "1")));
      await expectError(client, /agency must be a non-negative integer/);
      // Well framed but an invalid bet (for agency 2, which has sent nothing yet): refused, nothing stored.
      expect(await client.request({ type: MessageType.Hello, agency: 2 })).toEqual({ type: MessageType.Welcome, stored: 0 });
      client.sendBytes(rawFrame("B", fields("2", "Ana", "Gómez", "12ab", "1990-01-01", "1")));
      await expectError(client, /bet 1 of 1 \(document "12ab"\): document must be/);
      client.sendBytes(rawFrame("H", fields("1", "2")));
      await expectError(client, /unexpected bytes after the last field/);
      expect(await client.request(echo("still here"))).toEqual(echo("still here"));
      client.close();
    })(),
    // A frame cut off mid-way, then the client vanishes: the central notes it and drops the bytes.
    (async () => {
      const client = await raw(central.port);
      client.sendBytes(rawFrame("B", fields("1", "Ana"), 1000));
      await client.flushed();
      client.close();
      await waitForLine(central, /action: frame \| result: fail \| .*connection closed in the middle of a frame/);
    })(),
  ];
  await Promise.all(garbage);
  // Agency 1 could not have finished: the draw needs agency 2.
  expect(agency.process.exitCode).toBeNull();

  const agency2 = scope.agency(2, central.port, files[1]!);
  expect(await agency.done).toBe(0);
  expect(await agency2.done).toBe(0);
  for (const [i, running] of [agency, agency2].entries()) {
    expect(actionLines(running, "consulta_ganadores")).toHaveLength(1);
    expect(actionLines(running, "consulta_ganadores")[0]).toEndWith(`cant_ganadores: ${await expectedWinners(files[i]!)}`);
  }
  const after = await raw(central.port);
  expect(await after.request(echo("alive"))).toEqual(echo("alive"));
  expect(await terminate(central)).toBe(0);

  // Only the agencies' bets are stored, each once: the refused bets frame left nothing behind.
  const stored = await storedByAgency(central.storage);
  expect([...stored.keys()].sort()).toEqual([1, 2]);
  for (const [i, file] of files.entries()) expect(stored.get(i + 1)).toEqual(readCsv(file));
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 4. SIGTERM to the central mid-run

test("SIGTERM to the central mid-run: exit 0, closing logs, every acknowledged bet stored in whole rows", async () => {
  const dir = scope.dir("lottery-e2e-");
  const files = await makeDataset(dir, [60_000, 60_000, 60_000], SEED);
  // Five agencies expected, three running: no draw can end the run before the signal.
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "5" });
  // No reconnection: once the central is gone each agency reports what it had acknowledged and stops.
  const agencies = files.map((file, i) => scope.agency(i + 1, central.port, file, { CLI_RECONNECT_TIMEOUTSECONDS: "0" }));
  for (const id of [1, 2, 3]) await waitForLine(central, new RegExp(`action: agencia_conectada \\| result: success \\| agency: ${id} \\|`));
  // Well into the run (all three are streaming), yet far from its end (about 1,500 batches in all).
  await waitForLines(central, FIRST_BATCH_STORED, 60);

  expect(await terminate(central)).toBe(0);
  const codes = await Promise.all(agencies.map((agency) => agency.done));
  // The central vanished before the draw: each agency says it failed.
  for (const code of codes) expect(code).not.toBe(0);

  const closing = [
    /action: shutdown \| result: in_progress \| signal: SIGTERM$/,
    /action: close_listener \| result: success/,
    /action: close_connection \| result: success \| .*agency: 1$/,
    /action: close_connection \| result: success \| .*agency: 2$/,
    /action: close_connection \| result: success \| .*agency: 3$/,
    /action: close_store \| result: success/,
    /action: shutdown \| result: success \| signal: SIGTERM$/,
  ];
  const positions = closing.map((pattern) => indexOfLine(central, pattern));
  for (const position of positions) expect(position).toBeGreaterThanOrEqual(0);
  const [start, listener, c1, c2, c3, store, end] = positions as [number, number, number, number, number, number, number];
  expect(start).toBeLessThan(listener);
  for (const connection of [c1, c2, c3]) {
    expect(connection).toBeGreaterThan(listener);
    expect(connection).toBeLessThan(store);
  }
  // Nothing is logged after the last closing line.
  expect(central.lines.filter((line) => line.length > 0).at(-1)).toMatch(closing[6]!);
  expect(end).toBeGreaterThan(store);

  await expectWholeRows(central.storage);
  const stored = await storedByAgency(central.storage);
  let total = 0;
  for (const [i, agency] of agencies.entries()) {
    const lost = actionLines(agency, "conexion_perdida");
    expect(lost).toHaveLength(1);
    const acknowledged = Number(/acknowledged: (\d+)/.exec(lost[0]!)?.[1]);
    const rows = stored.get(i + 1) ?? [];
    // Every bet the agency heard acknowledged is stored, and what is stored is the start of its file,
    // in order, nothing repeated. (Batches answered just before the close may be stored without the
    // agency having read their OK: a later run resumes from the central's count, so that costs nothing.)
    expect(rows.length).toBeGreaterThanOrEqual(acknowledged);
    expect(rows).toEqual(readCsv(files[i]!).slice(0, rows.length));
    total += rows.length;
  }
  // Everything stored was logged as stored: no write happened behind the logs' back.
  const logged = actionLines(central, "apuesta_recibida")
    .filter((line) => line.includes("result: success"))
    .reduce((sum, line) => sum + Number(/cantidad: (\d+)/.exec(line)?.[1]), 0);
  expect(total).toBe(logged);
  expect(total).toBeGreaterThan(0);
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 5. SIGTERM to an agency mid-run

test("SIGTERM to an agency mid-run: exit 0 with its closing logs; the central keeps whole rows", async () => {
  const dir = scope.dir("lottery-e2e-");
  const [file] = await makeDataset(dir, [60_000], SEED);
  // Two agencies expected, one running: the agency cannot finish before the signal.
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "2" });
  const agency = scope.agency(1, central.port, file!);
  await waitForLine(central, FIRST_BATCH_STORED);

  expect(await terminate(agency)).toBe(0);
  const closing = [
    /action: shutdown \| result: in_progress \| signal: SIGTERM$/,
    /action: close_socket \| result: success/,
    /action: close_file \| result: success/,
    /action: shutdown \| result: success \| signal: SIGTERM$/,
  ].map((pattern) => indexOfLine(agency, pattern));
  for (const position of closing) expect(position).toBeGreaterThanOrEqual(0);
  expect(closing).toEqual([...closing].sort((a, b) => a - b));
  expect(actionLines(agency, "consulta_ganadores")).toEqual([]);

  // The central noticed nothing wrong and still serves.
  const client = await raw(central.port);
  expect(await client.request(echo("after agency stop"))).toEqual(echo("after agency stop"));
  expect(await terminate(central)).toBe(0);
  await expectWholeRows(central.storage);
  const rows = (await storedByAgency(central.storage)).get(1) ?? [];
  expect(rows.length).toBeGreaterThan(0);
  expect(rows).toEqual((readCsv(file!)).slice(0, rows.length));
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 7. Invalid rows in an agency's file

test("invalid rows are logged with their line and skipped; valid rows, tricky names included, are stored exactly", async () => {
  const dir = scope.dir("lottery-e2e-");
  // Agency 1: UTF-8 with BOM, CRLF.
  const crlf = join(dir, "crlf.csv");
  writeFileSync(
    crlf,
    "\uFEFF" +
      [
        "Juan,Pérez,30111222,1990-05-17,7574", // 1: valid (first row right after the BOM), a winner
        "Ana,Gómez,12ab,1985-01-01,100", // 2: bad document
        "Luis,Suárez,30111223,1985-02-30,200", // 3: no such date
        "Sofía,Núñez,30111224,1985-02-03", // 4: a field missing
        '"Pérez, Juan Carlos",O\'Brien,30111225,1979-12-31,9999', // 5: valid, comma in a quoted name
        '"María ""la Chiqui""",Ibáñez,30111226,2000-02-29,0', // 6: valid, quotes in a name, leap day
        "", // 7: blank, skipped but counted
        ",Díaz,30111227,1990-01-01,5", // 8: empty first name
        "Zoë,Ångström 😀,30111228,1990-01-01,7574", // 9: valid, 4-byte UTF-8, a winner
      ].join("\r\n") +
      "\r\n",
  );
  // Agency 2: no BOM, LF, a line break inside a quoted name, no newline after the last row.
  const lf = join(dir, "lf.csv");
  writeFileSync(
    lf,
    [
      "Tomás,Acuña,40111222,1991-03-04,1234", // 1: valid
      '"Ana\nMaría",López,40111223,1992-04-05,4321', // 2-3: valid, one record over two lines
      "Bautista,Ruiz,40111224,1993-13-01,1", // 4: month 13
      'Iñaki,"Domínguez, Jr.",40111225,1994-05-06,7574', // 5: valid, a winner
      "Renata,Sosa,123456789012,1995-06-07,10", // 6: document too long
      "Lautaro,Peña,40111226,1996-07-08,10000", // 7: number out of range
      'Zoe,"Herrera"x,40111227,1997-08-09,11', // 8: text after a closing quote
      "Abril,Castro,40111228,1998-09-10,12", // 9: valid, unterminated last line
    ].join("\n"),
  );

  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "2" });
  const agency1 = scope.agency(1, central.port, crlf);
  // Agency 1's rows are all durable once its END is logged: agency 2's rows follow them in the file.
  await waitForLine(central, /action: fin_apuestas \| result: success \| agency: 1 \|/);
  const agency2 = scope.agency(2, central.port, lf);
  // Exit 3: the run completed but rows were left out.
  expect(await agency1.done).toBe(3);
  expect(await agency2.done).toBe(3);

  const invalidLines = (agency: RunningProcess) =>
    actionLines(agency, "apuesta_invalida").map((line) => Number(/\| result: fail \| line: (\d+) \| error: \S/.exec(line)?.[1]));
  expect(invalidLines(agency1)).toEqual([2, 3, 4, 8]);
  expect(invalidLines(agency2)).toEqual([4, 6, 7, 8]);
  const invalid = actionLines(agency1, "apuesta_invalida").concat(actionLines(agency2, "apuesta_invalida"));
  expect(invalid[0]).toMatch(/document/);
  expect(invalid[1]).toMatch(/birthdate/);
  expect(invalid[2]).toMatch(/expected 5 fields, got 4/);
  expect(invalid[3]).toMatch(/first_name/);
  expect(invalid[4]).toMatch(/birthdate/);
  expect(invalid[5]).toMatch(/document/);
  expect(invalid[6]).toMatch(/number/);
  expect(invalid[7]).toMatch(/malformed CSV/);
  expect(agency1.lines.join("\n")).toContain("4 invalid rows");
  expect(actionLines(agency1, "consulta_ganadores")[0]).toEndWith("cant_ganadores: 2");
  expect(actionLines(agency2, "consulta_ganadores")[0]).toEndWith("cant_ganadores: 1");
  expect(await terminate(central)).toBe(0);

  // Byte for byte as Python's csv writer quotes: only fields with a comma, quote or line break.
  expect(await Bun.file(central.storage).text()).toBe(
    [
      "1,Juan,Pérez,30111222,1990-05-17,7574",
      '1,"Pérez, Juan Carlos",O\'Brien,30111225,1979-12-31,9999',
      '1,"María ""la Chiqui""",Ibáñez,30111226,2000-02-29,0',
      "1,Zoë,Ångström 😀,30111228,1990-01-01,7574",
      "2,Tomás,Acuña,40111222,1991-03-04,1234",
      '2,"Ana\nMaría",López,40111223,1992-04-05,4321',
      '2,Iñaki,"Domínguez, Jr.",40111225,1994-05-06,7574',
      "2,Abril,Castro,40111228,1998-09-10,12",
    ].join("\r\n") + "\r\n",
  );
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 8. Exercise 5

test("exercise 5: a single bet from NOMBRE..NUMERO is stored and confirmed on both sides, then the draw and its winner", async () => {
  const dir = scope.dir("lottery-e2e-");
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "1" });
  const agency = scope.agency(1, central.port, join(dir, "absent.csv"), {
    NOMBRE: "Santiago Lionel",
    APELLIDO: "Lorca",
    DOCUMENTO: "30904465",
    NACIMIENTO: "1999-03-17",
    NUMERO: "7574",
  });
  expect(await agency.done).toBe(0);
  expect(actionLines(agency, "apuesta_enviada")).toHaveLength(1);
  expect(actionLines(agency, "apuesta_enviada")[0]).toMatch(
    / INFO +action: apuesta_enviada \| result: success \| dni: 30904465 \| numero: 7574$/,
  );
  // The single bet is the agency's run like a file of one: END, the draw, and its one winner (7574).
  expect(actionLines(agency, "consulta_ganadores")).toEqual([expect.stringMatching(/cant_ganadores: 1$/)]);
  expect(await terminate(central)).toBe(0);
  // The central logs the stored bet before its OK leaves, so the line is in its output by now.
  expect(actionLines(central, "apuesta_almacenada")).toHaveLength(1);
  expect(actionLines(central, "apuesta_almacenada")[0]).toMatch(
    / INFO +action: apuesta_almacenada \| result: success \| dni: 30904465 \| numero: 7574$/,
  );
  expect(await Bun.file(central.storage).text()).toBe("1,Santiago Lionel,Lorca,30904465,1999-03-17,7574\r\n");
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 9. The lottery's rules over the wire

test("unknown agencies are refused, a repeated END counts once, bets after END or after the draw are refused", async () => {
  const dir = scope.dir("lottery-e2e-");
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "2" });
  const client = await raw(central.port);
  const bet = (document: string, number: string) => betFields(document, number, "Gómez");
  const refused = async (message: Message, reason: RegExp) => {
    expect(reasonOf(await client.request(message))).toMatch(reason);
  };

  // Agencies outside 1..2 are refused at the hello; a connection without one may do nothing else.
  await refused({ type: MessageType.Hello, agency: 0 }, /agency 0 is not one of 1\.\.2/);
  await refused({ type: MessageType.Hello, agency: 3 }, /agency 3 is not one of 1\.\.2/);
  await refused({ type: MessageType.Bets, agency: 3, bets: BetBlock.of([bet("1", "1")]) }, /has not said hello yet/);
  await refused({ type: MessageType.End, agency: 3 }, /has not said hello yet/);
  await refused({ type: MessageType.WinnersQuery, agency: 0 }, /has not said hello yet/);

  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(await client.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("111", "7574")]) })).toEqual({
    type: MessageType.Ok,
    count: 1,
  });
  // END is the draw's barrier: agency 1's two ENDs, and the batch it sends after them, are answered (in
  // order) only at the draw; the batch was refused as it came.
  await client.send({ type: MessageType.End, agency: 1 });
  await client.send({ type: MessageType.End, agency: 1 });
  await client.send({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("112", "1")]) });
  // Two ENDs from agency 1 did not make two agencies: agency 2 may still bet, so there was no draw.
  const second = await raw(central.port);
  expect(await second.request({ type: MessageType.Hello, agency: 2 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(await second.request({ type: MessageType.Bets, agency: 2, bets: BetBlock.of([bet("222", "1")]) })).toEqual({
    type: MessageType.Ok,
    count: 1,
  });
  expect(actionLines(central, "sorteo")).toEqual([]);
  expect(client.received.length).toBe(7);

  expect(await second.request({ type: MessageType.End, agency: 2 })).toEqual({ type: MessageType.Ok, count: 1 });
  await waitForLine(central, SORTEO);
  expect(await client.next()).toEqual({ type: MessageType.Ok, count: 1 });
  expect(await client.next()).toEqual({ type: MessageType.Ok, count: 1 });
  expect(reasonOf(await client.next())).toMatch(/agency 1 has already sent END/);
  expect(reasonOf(await second.request({ type: MessageType.Bets, agency: 2, bets: BetBlock.of([bet("223", "1")]) }))).toMatch(
    /draw has already taken place/,
  );
  // Agency 1's session had a batch refused: a fresh one sees the draw's refusal.
  const third = await raw(central.port);
  expect(await third.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 1 });
  expect(reasonOf(await third.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("113", "1")]) }))).toMatch(
    /draw has already taken place/,
  );
  expect(await third.request({ type: MessageType.WinnersQuery, agency: 1 })).toEqual({
    type: MessageType.Winners,
    documents: ["111"],
  });
  expect(await second.request({ type: MessageType.WinnersQuery, agency: 2 })).toEqual({
    type: MessageType.Winners,
    documents: [],
  });

  expect(await terminate(central)).toBe(0);
  expect(actionLines(central, "sorteo")).toHaveLength(1);
  expect(await Bun.file(central.storage).text()).toBe(
    "1,Ana,Gómez,111,1990-01-01,7574\r\n2,Ana,Gómez,222,1990-01-01,1\r\n",
  );
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 10. Capacity

test("1024 simultaneous connections are accepted and each is served while all are open", async () => {
  const dir = scope.dir("lottery-e2e-");
  const central = await scope.central(join(dir, "bets.csv"));
  const clients = await Promise.all(Array.from({ length: 1024 }, () => raw(central.port)));
  const replies = await Promise.all(clients.map((client, i) => client.request(echo(`client ${i}`))));
  expect(replies).toEqual(clients.map((_, i) => echo(`client ${i}`)));
  // None was turned away or dropped while the others were served.
  expect(clients.filter((client) => client.isClosed)).toEqual([]);
  expect(await terminate(central)).toBe(0);
  expect(actionLines(central, "conexion_rechazada")).toEqual([]);
  expectClosingLogs(central, 1024);
  expectWellFormedLogs(scope.processes);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// 11. Sessions: pipelining past a refusal (a newer connection of the same agency: server.test.ts, with the sync held)

/** A bet as it travels, with a given document (and the winning number or not). */
function betFields(document: string, number = "1", lastName = "Peña"): BetFields {
  return { firstName: "Ana", lastName, document, birthdate: "1990-01-01", number };
}

test("a refused batch in a pipelined session refuses the batches behind it: what is stored stays a prefix", async () => {
  const dir = scope.dir("lottery-e2e-");
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "1" });
  const client = await raw(central.port);
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });

  // Three batches in one write, as a window sends them: the middle one has a bad document.
  client.sendBytes(
    Buffer.concat([
      encodeMessage({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([betFields("1"), betFields("2")]) }),
      encodeMessage({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([betFields("3"), betFields("x4")]) }),
      encodeMessage({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([betFields("5")]) }),
    ]),
  );
  expect(await client.next()).toEqual({ type: MessageType.Ok, count: 2 });
  expect(reasonOf(await client.next())).toMatch(/bet 2 of 2 \(document "x4"\): document must be/);
  expect(reasonOf(await client.next())).toMatch(/an earlier batch of this session was refused/);
  expect(await Bun.file(central.storage).text()).toBe(
    "1,Ana,Peña,1,1990-01-01,1\r\n1,Ana,Peña,2,1990-01-01,1\r\n",
  );

  // A new session resumes from the stored prefix.
  const again = await raw(central.port);
  expect(await again.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 2 });
  expect(await again.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([betFields("3")]) })).toEqual({ type: MessageType.Ok, count: 1 });
  expect(await terminate(central)).toBe(0);
  expectWellFormedLogs(scope.processes);
}, 30_000);

test("SIGINT stops the central as SIGTERM does: closing logs, exit 0", async () => {
  const dir = scope.dir("lottery-e2e-");
  const central = await scope.central(join(dir, "bets.csv"));
  const client = await raw(central.port);
  expect(await client.request(echo("before"))).toEqual(echo("before"));
  central.process.kill("SIGINT");
  expect(await central.done).toBe(0);
  await client.closed;
  expect(indexOfLine(central, /action: shutdown \| result: in_progress \| signal: SIGINT$/)).toBeGreaterThanOrEqual(0);
  expect(central.lines.filter((line) => line.length > 0).at(-1)).toMatch(/action: shutdown \| result: success \| signal: SIGINT$/);
  expectWellFormedLogs(scope.processes);
}, 30_000);
