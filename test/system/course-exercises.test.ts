// The course's exercises 1-7 as its harness reads them, with real processes and no Docker: the config
// lines with the values as written in the course's files, the echo loop on both sides, paced mode (one
// batch at a time, a batch's stored lines last bet first, END answered at the draw), and SIGTERM at any
// moment. Every line goes through the course's own parsing rules (support/course-log.ts).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseCourseLine, type CourseLine } from "../support/course-log.ts";
import { actionLines, makeDataset, readCsv, Scope, waitForLines, type RunningProcess } from "../support/system.ts";

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.cleanup());

/** What the course's harness writes (tp0-tests utils/config.py), with open(path, "w"). */
const serverIni = ({ listenBacklog = 5, loggingLevel = "INFO" } = {}) =>
  `[DEFAULT]\nSERVER_PORT = 12345\nSERVER_IP = server\nSERVER_LISTEN_BACKLOG = ${listenBacklog}\nLOGGING_LEVEL = ${loggingLevel}`;
const clientYaml = ({ loopAmount = 3, loopPeriod = "50ms", logLevel = "INFO", maxAmount = 10 } = {}) =>
  `server:\n  address: "server:12345"\nloop:\n  amount: ${loopAmount}\n  period: "${loopPeriod}"\nlog:\n  level: "${logLevel}"\nbatch:\n  maxAmount: ${maxAmount}\n`;

/** The course's files in a scratch folder; the processes are pointed at them, and at this machine. */
function courseFiles(server: Parameters<typeof serverIni>[0] = {}, client: Parameters<typeof clientYaml>[0] = {}) {
  const dir = scope.dir("lottery-course-");
  writeFileSync(join(dir, "config.ini"), serverIni(server));
  writeFileSync(join(dir, "config.yaml"), clientYaml(client));
  return {
    dir,
    // The harness's SERVER_IP (the compose service's name) does not resolve here.
    central: { CENTRAL_CONFIG: join(dir, "config.ini"), SERVER_IP: "127.0.0.1" },
    agency: { AGENCY_CONFIG: join(dir, "config.yaml") },
  };
}

/** A process's lines as `docker compose logs` shows them ("client1  | …"), read by the course's rules. */
function courseLines(running: RunningProcess): CourseLine[] {
  return running.lines.map((line) => parseCourseLine(`${running.name.padEnd(8)}| ${line}`)).filter((line) => line !== undefined);
}

/** The course's rule for a run where nothing failed: no line says `result: fail`. */
function expectNoFail(...processes: RunningProcess[]): void {
  for (const running of processes) {
    expect(courseLines(running).filter((line) => line.result === "fail").map((line) => [running.name, line.action])).toEqual([]);
  }
}

const actionsOf = (running: RunningProcess, ...actions: string[]) => courseLines(running).filter((line) => actions.includes(line.action));

test("ej2: the config lines give the course's keys first, with the values as written in its files", async () => {
  const files = courseFiles({ listenBacklog: 8, loggingLevel: "DEBUG" }, { loopAmount: 5, loopPeriod: "100ms", logLevel: "DEBUG" });
  const [data] = await makeDataset(files.dir, [5]);
  const central = await scope.central(join(files.dir, "bets.csv"), { ...files.central, LOTTERY_AGENCIES: "1" });
  const agency = scope.agency(1, central.port, data!, files.agency);
  expect(await agency.done).toBe(0);
  const [serverConfig] = actionsOf(central, "config");
  expect(serverConfig!.source).toBe("server");
  // SERVER_PORT is set to 0 (a free port) by the test's environment: it overrides the file, and shows as written.
  expect([...serverConfig!.details].slice(0, 4)).toEqual([
    ["port", "0"],
    ["listen_backlog", "8"],
    ["logging_level", "DEBUG"],
    ["ip", "127.0.0.1"],
  ]);
  const [clientConfig] = actionsOf(agency, "config");
  expect(clientConfig!.source).toBe("client1");
  // server_address comes from CLI_SERVER_ADDRESS (this machine); the harness's parser cuts it at its last ":".
  expect([...clientConfig!.details].slice(0, 5)).toEqual([
    ["client_id", "1"],
    ["server_address: 127.0.0.1", String(central.port)],
    ["loop_amount", "5"],
    ["loop_period", "100ms"],
    ["log_level", "DEBUG"],
  ]);
  expect(clientConfig!.details.get("batch_max_amount")).toBe("10");
  expectNoFail(central, agency);
}, 30_000);

test("ej1: every agency echoes loop.amount messages through the central, logged on both sides, then loop_finished", async () => {
  const files = courseFiles({}, { loopAmount: 3, loopPeriod: "20ms" });
  const data = await makeDataset(files.dir, [40, 25]);
  const central = await scope.central(join(files.dir, "bets.csv"), { ...files.central, LOTTERY_AGENCIES: "2" });
  const agencies = data.map((file, i) => scope.agency(i + 1, central.port, file, files.agency));
  expect(await Promise.all(agencies.map((agency) => agency.done))).toEqual([0, 0]);
  for (const [i, agency] of agencies.entries()) {
    const id = i + 1;
    const loop = actionsOf(agency, "receive_message", "loop_finished", "apuesta_enviada", "consulta_ganadores");
    // The three messages in order, then loop_finished, and only then the bets.
    expect(loop.slice(0, 4).map((line) => [line.action, line.result, line.details.get("client_id"), line.details.get("msg")])).toEqual([
      ["receive_message", "success", String(id), `[CLIENT ${id}] Message N°1`],
      ["receive_message", "success", String(id), `[CLIENT ${id}] Message N°2`],
      ["receive_message", "success", String(id), `[CLIENT ${id}] Message N°3`],
      ["loop_finished", "success", String(id), undefined],
    ]);
    // The harness reads the message number after the last "°".
    expect(loop.slice(0, 3).map((line) => Number(line.details.get("msg")!.slice(line.details.get("msg")!.lastIndexOf("°") + 1)))).toEqual([1, 2, 3]);
    expect(loop.at(-1)!.action).toBe("consulta_ganadores");
  }
  const echoes = actionsOf(central, "receive_message");
  expect(echoes.map((line) => line.details.get("msg")).sort()).toEqual(
    [1, 2].flatMap((id) => [1, 2, 3].map((k) => `[CLIENT ${id}] Message N°${k}`)).sort(),
  );
  expect(new Set(echoes.map((line) => line.details.get("ip")))).toEqual(new Set(["127.0.0.1"]));
  expect(readCsv(central.storage)).toHaveLength(65);
  expectNoFail(central, ...agencies);
}, 30_000);

test("paced mode: one batch at a time, confirmed in file order; the central logs each batch's stored bets last first", async () => {
  const files = courseFiles({ loggingLevel: "DEBUG" }, { loopAmount: 1, loopPeriod: "10ms", logLevel: "DEBUG", maxAmount: 10 });
  const [data] = await makeDataset(files.dir, [35]);
  const documents = readCsv(data!).map((row) => row[2]!);
  const central = await scope.central(join(files.dir, "bets.csv"), { ...files.central, LOTTERY_AGENCIES: "1" });
  const agency = scope.agency(1, central.port, data!, files.agency);
  expect(await agency.done).toBe(0);

  // The agency: each batch is sent once the one before it was confirmed (stop-and-wait), every bet
  // confirmed once, in file order.
  const sent = actionsOf(agency, "lote_enviado", "apuesta_enviada");
  const shape = sent.map((line) => (line.action === "lote_enviado" ? `batch ${line.details.get("cantidad")}` : "bet")).join(",");
  expect(shape).toBe([10, 10, 10, 5].map((n) => [`batch ${n}`, ...Array(n).fill("bet")].join(",")).join(","));
  expect(actionsOf(agency, "apuesta_enviada").map((line) => line.details.get("dni"))).toEqual(documents);

  // The central: batches of exactly batch.maxAmount but the last, each followed by its bets, last first.
  const stored = actionsOf(central, "apuesta_recibida", "apuesta_almacenada");
  const expected = [documents.slice(0, 10), documents.slice(10, 20), documents.slice(20, 30), documents.slice(30)].flatMap((batch) => [
    `recibida ${batch.length}`,
    ...batch.toReversed().map((dni) => `almacenada ${dni}`),
  ]);
  expect(stored.map((line) => (line.action === "apuesta_recibida" ? `recibida ${line.details.get("cantidad")}` : `almacenada ${line.details.get("dni")}`))).toEqual(expected);
  // The course's exercise-5 check reads the last stored line of the first batch against the first confirmation.
  expect(stored[10]!.details.get("dni")).toBe(actionsOf(agency, "apuesta_enviada")[0]!.details.get("dni"));
  expectNoFail(central, agency);
}, 30_000);

test("ej7: END is answered at the draw, so every agency's winners line comes after the central's sorteo line", async () => {
  const files = courseFiles({ loggingLevel: "DEBUG" }, { loopAmount: 1, loopPeriod: "10ms" });
  const data = await makeDataset(files.dir, [30, 12, 7], 229);
  const central = await scope.central(join(files.dir, "bets.csv"), { ...files.central, LOTTERY_AGENCIES: "3" });
  const agencies = data.map((file, i) => scope.agency(i + 1, central.port, file, files.agency));
  expect(await Promise.all(agencies.map((agency) => agency.done))).toEqual([0, 0, 0]);
  // The draw's line against each agency's winners line, by the times they were logged.
  const timeOf = (running: RunningProcess, action: string) => Date.parse(actionLines(running, action)[0]!.split(" ")[0]!);
  const draw = timeOf(central, "sorteo");
  for (const agency of agencies) expect(timeOf(agency, "consulta_ganadores")).toBeGreaterThanOrEqual(draw);
  // Each END's answer (its fin_apuestas) came before the draw, and the answers to the winners queries after it.
  const central_ = central.lines.map((line) => parseCourseLine(`server  | ${line}`)?.action);
  expect(central_.filter((action) => action === "fin_apuestas")).toHaveLength(3);
  expect(central_.lastIndexOf("fin_apuestas")).toBeLessThan(central_.indexOf("sorteo"));
  expect(central_.indexOf("ganadores_enviados")).toBeGreaterThan(central_.indexOf("sorteo"));
  expectNoFail(central, ...agencies);
}, 30_000);

test("ej4: SIGTERM ends an agency gracefully, with exit code 0, in its echo loop or between paced batches", async () => {
  const files = courseFiles({}, { loopAmount: 500, loopPeriod: "20ms" });
  const [data] = await makeDataset(files.dir, [400]);
  const central = await scope.central(join(files.dir, "bets.csv"), { ...files.central, LOTTERY_AGENCIES: "2" });
  const looping = scope.agency(1, central.port, data!, files.agency);
  await waitForLines(looping, /action: receive_message \| result: success/, 3);
  // Between two paced batches: its loop is short, its bets many.
  const betting = scope.agency(2, central.port, data!, { ...files.agency, CLI_LOOP_AMOUNT: "1" });
  await waitForLines(betting, /action: apuesta_enviada \| result: success/, 20);
  for (const agency of [looping, betting]) {
    agency.process.kill("SIGTERM");
    expect(await agency.done).toBe(0);
    expect(courseLines(agency).slice(-4).map((line) => `${line.action} ${line.result}`)).toEqual([
      "shutdown in_progress",
      "close_socket success",
      "close_file success",
      "shutdown success",
    ]);
    expectNoFail(agency);
  }
  // The central keeps running when agencies leave; SIGTERM ends it, gracefully too.
  expect(central.process.exitCode).toBeNull();
  central.process.kill("SIGTERM");
  expect(await central.done).toBe(0);
  expect(courseLines(central).at(-1)!.action).toBe("shutdown");
  expectNoFail(central);
}, 30_000);
