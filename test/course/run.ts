/**
 * The course's acceptance tests, as its harness runs them (`bun run test:course`): on a real engine, from
 * outside only. For each case it overwrites the course's two config files (what tp0-tests' utils/config.py
 * writes), runs `./generar-compose.sh docker-compose-dev.yaml N`, `docker compose -f docker-compose-dev.yaml
 * up -d` on the images the course's two `docker build` commands made, reads `docker compose logs -f` line by
 * line through the course's parsing rules (test/support/course-log.ts), stops with SIGTERM (`docker stop`,
 * `docker compose stop`), and runs `validar-echo-server.sh`. It works in a copy of the repository, as the
 * harness rewrites tracked files (the config files, .data/agency-N.csv); the compose project is the course's
 * `tp0`.
 *
 *   ej1  the echo loop: 1 agency and 1 message, 1 and 3, 5 agencies and 5 messages
 *   ej2  the config lines for two client and two server configurations, as written in the files
 *   ej3  validar-echo-server.sh against the central (which logs the echo), and against foreign echo servers
 *        on tp0_testing_net: one that answers the same bytes (success) and one that answers something else (fail)
 *   ej4  SIGTERM to an agency, to the central, to the central without agencies, to both: each exits 0
 *   ej5  the first confirmation the agency prints names the bet of the last stored line the central printed
 *   ej6  files of 16, 21, 64 and 99 bets, each in batches of 64 and of 99 (smaller, exact, split)
 *   ej7  winners with 3 and with 5 agencies; then two lotteries in a row, each after `down`, on other files
 *   and  the Makefile's docker-compose-up and docker-compose-down; a course-sized generated dataset (78,697
 *        bets, 5 agencies) through the same path
 *
 * In every case no line says `result: fail` before a stop, as the course requires. The course's own cases run
 * a 500-message loop at 150 ms that keeps the agencies alive while the logs are read (`logs -f` attached after
 * a container exited prints no `exited with code` line for it): these keep them alive for a few seconds the
 * same way. Ends with `N passed, N failed`.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { COURSE_SIZES, generateDataset } from "../../lib/tooling/generate-data.ts";
import { forEachLine } from "../../lib/tooling/processes.ts";
import { check, expectedFromData, finish, followUntil, logs, ROOT, run, step, tail, type Result } from "../docker/kit.ts";
import { parseCourseLine, type CourseLine, type CourseResult } from "../support/course-log.ts";

const COMPOSE_FILE = "docker-compose-dev.yaml";
/** Each case's bound: the course allows 300 s a test; ours take seconds. */
const CASE_MS = 120_000;
const WINNING_NUMBER = 7574;

/** The copy of the repository the cases run in. */
let repo = "";
let tmp = "";

// ---------------------------------------------------------------------------------------------------------------
// What the harness does (tp0-tests utils/): config files, the compose file, up, logs, stop, down

/** utils/config.py server(): the course's file, written whole. */
function configServer({ port = 12345, ip = "server", listenBacklog = 5, loggingLevel = "INFO" } = {}): void {
  writeFileSync(join(repo, "server", "config.ini"), `[DEFAULT]\nSERVER_PORT = ${port}\nSERVER_IP = ${ip}\nSERVER_LISTEN_BACKLOG = ${listenBacklog}\nLOGGING_LEVEL = ${loggingLevel}`);
}

/** utils/config.py client(): the course's file, written whole. */
function configClient({ address = "server:12345", loopAmount = 3, loopPeriod = "50ms", logLevel = "INFO", maxAmount = 10 } = {}): void {
  writeFileSync(
    join(repo, "client", "config.yaml"),
    `server:\n  address: "${address}"\nloop:\n  amount: ${loopAmount}\n  period: "${loopPeriod}"\nlog:\n  level: "${logLevel}"\nbatch:\n  maxAmount: ${maxAmount}\n`,
  );
}

const inRepo = (cmd: string[], timeoutMs = 120_000): Promise<Result> => run(cmd, { cwd: repo, timeoutMs });
const compose = (...args: string[]) => inRepo(["docker", "compose", "-f", COMPOSE_FILE, ...args], 180_000);

async function generateCompose(agencies: number): Promise<boolean> {
  const res = await inRepo(["sh", "generar-compose.sh", COMPOSE_FILE, String(agencies)]);
  return check(`generar-compose.sh ${COMPOSE_FILE} ${agencies}`, res.code === 0, res.code === 0 ? "" : tail(res.out + res.err, 4));
}

async function up(): Promise<boolean> {
  const res = await compose("up", "-d");
  return check("docker compose up -d", res.code === 0, res.code === 0 ? "" : tail(res.out + res.err, 6));
}

/** utils/docker.py down(): stop (with a grace period when given), then down. */
async function down(grace = 0): Promise<void> {
  await compose("stop", ...(grace > 0 ? ["-t", String(grace)] : []));
  await compose("down");
}

/** Whether a container is still running (`docker inspect`): what a stop of another must leave as it was. */
async function running(container: string): Promise<boolean> {
  return (await run(["docker", "inspect", "-f", "{{.State.Running}}", container])).out.trim() === "true";
}

/** `docker compose logs -f`, line by line as it comes, each with the harness's reading of it. */
class Logs {
  private readonly process = Bun.spawn(["docker", "compose", "-f", COMPOSE_FILE, "logs", "-f"], { cwd: repo, stdout: "pipe", stderr: "pipe" });
  private readonly queue: string[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  /** Every line read so far, for the report of a failed case. */
  readonly seen: string[] = [];
  private readonly deadline = performance.now() + CASE_MS;

  constructor() {
    const push = (line: string) => {
      this.queue.push(line);
      this.waiter?.();
    };
    void Promise.all([forEachLine(this.process.stdout, push), forEachLine(this.process.stderr, push)]).then(() => {
      this.ended = true;
      this.waiter?.();
    });
  }

  /** The next line and the harness's reading of it (undefined for a line it skips); undefined at the end or past the case's bound. */
  async next(): Promise<{ line: string; parsed: CourseLine | undefined } | undefined> {
    while (this.queue.length === 0 && !this.ended) {
      const left = this.deadline - performance.now();
      if (left <= 0) return undefined;
      const arrived = Promise.withResolvers<void>();
      this.waiter = arrived.resolve;
      const timer = setTimeout(arrived.resolve, left);
      await arrived.promise;
      clearTimeout(timer);
      this.waiter = undefined;
    }
    const line = this.queue.shift();
    if (line === undefined) return undefined;
    this.seen.push(line);
    return { line, parsed: parseCourseLine(line) };
  }

  close(): void {
    this.process.kill();
  }

  /** The last lines read, for a failed check's detail. */
  last(count = 15): string {
    return this.seen.slice(-count).join("\n");
  }
}

/**
 * Reads the logs until `onLine` says to stop; a parse error or the bound ends it with a failed check.
 * `onEvery` sees every line first, parsed or not (the harness counts them all for its ej4 stop).
 */
async function readLogs(
  name: string,
  onLine: (parsed: CourseLine, line: string) => "stop" | void,
  onEvery: (line: string) => Promise<void> | void = () => {},
): Promise<Logs> {
  const stream = new Logs();
  try {
    for (;;) {
      const next = await stream.next().catch((error: Error) => {
        check(`${name}: every line parses by the course's rules`, false, error.message);
        return undefined;
      });
      if (!next) {
        check(`${name}: the case ended within ${CASE_MS / 1000} s`, false, stream.last());
        return stream;
      }
      await onEvery(next.line);
      if (next.parsed && onLine(next.parsed, next.line) === "stop") return stream;
    }
  } finally {
    stream.close();
  }
}

/** Rows the harness's tests write into .data/agency-N.csv (A,B,<i, 8 digits>,2000-01-01,<number>), winners at 7574. */
function agencyFile(id: number, bets: number, winners: number[] = [], name = "A,B"): void {
  let text = "";
  for (let i = 0; i < bets; i++) {
    const number = winners.includes(i) ? WINNING_NUMBER : i < WINNING_NUMBER ? i : i + 1;
    text += `${name},${String(i).padStart(8, "0")},2000-01-01,${number}\n`;
  }
  writeFileSync(join(repo, ".data", `agency-${id}.csv`), text);
}

// ---------------------------------------------------------------------------------------------------------------
// The cases

/** A run that reads the logs until every agency has exited; what the course's ej6 and ej7 check, and more. */
interface RunOutcome {
  /** The bets the central found at its start (its recuperacion line): 0 for a new lottery. */
  recovered: number | undefined;
  failLines: string[];
  received: number[];
  draws: number;
  winners: Map<string, number>;
  exits: Map<string, string>;
  /** Order violations: a batch after the draw, a winners line or an agency's exit before it, the central's exit. */
  disorder: string[];
}

async function runToExits(name: string, agencies: number): Promise<RunOutcome> {
  const outcome: RunOutcome = { recovered: undefined, failLines: [], received: [], draws: 0, winners: new Map(), exits: new Map(), disorder: [] };
  await readLogs(name, (msg, line) => {
    if (msg.result === "fail") outcome.failLines.push(line);
    if (msg.action === "recuperacion") outcome.recovered = Number(msg.details.get("bets"));
    else if (msg.action === "apuesta_recibida") {
      if (outcome.draws > 0) outcome.disorder.push(`apuesta_recibida after the draw: ${line}`);
      outcome.received.push(Number(msg.details.get("cantidad")));
    } else if (msg.action === "sorteo") outcome.draws++;
    else if (msg.action === "consulta_ganadores" && msg.result === "success") {
      if (outcome.draws === 0) outcome.disorder.push(`consulta_ganadores before the draw: ${line}`);
      outcome.winners.set(msg.source ?? "?", Number(msg.details.get("cant_ganadores")));
    } else if (msg.action === "exit" && msg.source === "server") {
      outcome.disorder.push(`the central exited: ${line}`);
    } else if (msg.action === "exit") {
      if (outcome.draws === 0) outcome.disorder.push(`an exit before the draw: ${line}`);
      outcome.exits.set(msg.source ?? "?", msg.result);
      if (outcome.exits.size === agencies) return "stop";
    }
  });
  return outcome;
}

async function echoLoop(agencies: number, messages: number): Promise<void> {
  const name = `ej1: ${agencies} agencies, ${messages} messages each`;
  step(name);
  configServer();
  configClient({ loopAmount: messages, loopPeriod: "100ms" });
  if (!(await generateCompose(agencies)) || !(await up())) return down();
  const checklist = new Map(Array.from({ length: agencies }, (_, i) => [`client${i + 1}`, new Array<boolean>(messages).fill(false)]));
  const fails: string[] = [];
  let left = agencies;
  const read = await readLogs(name, (msg, line) => {
    if (msg.result === "fail") fails.push(line);
    if (msg.action === "receive_message" && msg.source !== "server") {
      const text = msg.details.get("msg") ?? "";
      const k = Number(text.slice(text.lastIndexOf("°") + 1)) - 1;
      const list = checklist.get(msg.source ?? "");
      if (list && k >= 0 && k < messages) list[k] = true;
    } else if (msg.action === "loop_finished" && --left === 0) return "stop";
  });
  check(`${name}: no line says fail`, fails.length === 0, fails.slice(0, 3).join("\n"));
  const missing = [...checklist].filter(([, list]) => !list.every(Boolean)).map(([client]) => client);
  check(`${name}: every agency logged the echo of each of its messages`, missing.length === 0, missing.join(", ") || `${agencies * messages} echoes`);
  // The central's own log (logs -f merges the streams as they come: its last echo line may follow the agencies').
  const serverEchoes = ((await logs("server")).match(/action: receive_message \| result: success \| ip: \S+ \| msg: \[CLIENT \d+\] Message N°\d+$/gm) ?? []).length;
  check(`${name}: the central logged each echo (receive_message)`, serverEchoes === agencies * messages, `${serverEchoes} lines`);
  check(`${name}: the central is running after the loops`, await running("server"));
  if (missing.length > 0 || fails.length > 0) console.log(read.last());
  await down();
}

async function configLines(client: Parameters<typeof configClient>[0], server: Parameters<typeof configServer>[0], expected: { client: Record<string, string>; server: Record<string, string> }): Promise<void> {
  const name = `ej2: config lines (client ${JSON.stringify(expected.client)}, server ${JSON.stringify(expected.server)})`;
  step(name);
  configServer(server);
  configClient(client);
  if (!(await generateCompose(1)) || !(await up())) return down();
  const seen = new Map<string, CourseLine>();
  const fails: string[] = [];
  await readLogs(name, (msg, line) => {
    if (msg.result === "fail") fails.push(line);
    if (msg.action === "config") seen.set(msg.source === "server" ? "server" : "client", msg);
    if (msg.action === "loop_finished") return "stop";
  });
  check(`${name}: no line says fail`, fails.length === 0, fails.slice(0, 3).join("\n"));
  for (const role of ["server", "client"] as const) {
    const line = seen.get(role);
    const wrong = Object.entries(expected[role]).filter(([key, value]) => line?.details.get(key) !== value);
    check(`${name}: the ${role}'s config line has the values as written`, line !== undefined && wrong.length === 0, wrong.map(([key, value]) => `${key}: ${line?.details.get(key)} (expected ${value})`).join(", "));
  }
  await down();
}

/** validar-echo-server.sh's one line. */
async function validate(): Promise<string> {
  return (await inRepo(["sh", "validar-echo-server.sh"], 60_000)).out.trim();
}

async function echoServerCheck(): Promise<void> {
  const name = "ej3: validar-echo-server.sh against the central";
  step(name);
  configServer();
  configClient();
  if (!(await generateCompose(0)) || !(await up())) return down();
  const line = await validate();
  check(`${name}: prints result: success`, line === "action: test_echo_server | result: success", line);
  let logged = false;
  const fails: string[] = [];
  await readLogs(name, (msg, raw) => {
    if (msg.result === "fail") fails.push(raw);
    if (msg.source === "server" && msg.action === "receive_message" && msg.result === "success") {
      logged = true;
      return "stop";
    }
  });
  check(`${name}: the central logged the echo it answered`, logged);
  check(`${name}: no line says fail`, fails.length === 0, fails.slice(0, 3).join("\n"));
  await down();
}

/**
 * A foreign echo server named `server` on tp0_testing_net, as the course's mock is: a project `tp0` of its
 * own, on an image the course's commands built (no registry). `healthy`: it answers the same bytes; otherwise
 * it answers something else.
 */
async function foreignEchoServer(healthy: boolean): Promise<void> {
  const name = `ej3: validar-echo-server.sh against a foreign echo server that answers ${healthy ? "the same bytes" : "something else"}`;
  step(name);
  const dir = join(tmp, "mock");
  mkdirSync(dir, { recursive: true });
  const reply = healthy ? "s.write(d)" : 's.write("error reading data: "); s.write(d)';
  const program = `Bun.listen({ hostname: "0.0.0.0", port: 12345, socket: { data(s, d) { ${reply}; } } }); console.log("listening")`;
  const file = join(dir, "docker-compose-mock.yaml");
  writeFileSync(
    file,
    `name: tp0\nservices:\n  mock:\n    container_name: server\n    image: client:latest\n    pull_policy: never\n    entrypoint: ${JSON.stringify(["bun", "-e", program])}\n` +
      `    networks:\n      - testing_net\nnetworks:\n  testing_net:\n    ipam:\n      driver: default\n      config:\n        - subnet: 172.25.125.0/24\n`,
  );
  const mock = (...args: string[]) => run(["docker", "compose", "-f", file, ...args], { cwd: dir, timeoutMs: 120_000 });
  const started = await mock("up", "-d");
  if (check(`${name}: the mock is up on tp0_testing_net`, started.code === 0, tail(started.out + started.err, 4))) {
    // Its port open, as it says once Bun.listen returned: a refused connection would be a fail for the wrong reason.
    if (check(`${name}: the mock listens on port 12345`, await followUntil("server", /^listening$/, 30_000), await logs("server"))) {
      const line = await validate();
      const want = `action: test_echo_server | result: ${healthy ? "success" : "fail"}`;
      check(`${name}: prints result: ${healthy ? "success" : "fail"}`, line === want, line);
    }
  }
  await mock("down", "-t", "1");
}

async function sigterm(target: "client1" | "server" | "all", agencies = 1, linesBefore = 10): Promise<void> {
  const name = `ej4: SIGTERM to ${target === "all" ? "every container" : target}${agencies === 0 ? " (no agencies)" : ""}`;
  step(name);
  configServer({ loggingLevel: "DEBUG" });
  configClient({ loopAmount: 500, loopPeriod: "150ms" });
  if (!(await generateCompose(agencies)) || !(await up())) return down();
  // The containers the stop is for, and how each one's exit line read.
  const stopped = target === "all" ? ["server", ...Array.from({ length: agencies }, (_, i) => `client${i + 1}`)] : [target];
  const exits = new Map<string, CourseResult>();
  let count = linesBefore;
  let stopSent = false;
  const failsBefore: string[] = [];
  const read = await readLogs(
    name,
    (msg, line) => {
      if (msg.action === "exit" && stopped.includes(msg.source ?? "")) {
        exits.set(msg.source!, msg.result);
        if (exits.size === stopped.length) return "stop";
      }
      if (!stopSent && msg.result === "fail") failsBefore.push(line);
    },
    // The harness counts every line it reads, parsed or not, and sends the stop at the tenth.
    async () => {
      if (--count !== 0) return;
      stopSent = true;
      if (target === "all") await down(10);
      else await run(["docker", "stop", target, "-t", "20"], { timeoutMs: 60_000 });
    },
  );
  check(`${name}: no line said fail before the stop`, failsBefore.length === 0, failsBefore.slice(0, 3).join("\n"));
  check(`${name}: the stop was sent`, stopSent);
  const wrong = stopped.filter((container) => exits.get(container) !== "success");
  check(`${name}: ${stopped.join(", ")} exited with code 0`, wrong.length === 0, wrong.map((container) => `${container}: ${exits.get(container) ?? "no exit line"}`).join(", ") + `\n${read.last()}`);
  // The central serves until a signal ends it: an agency leaving is none.
  if (target === "client1") check(`${name}: the central is still running`, await running("server"));
  await down();
}

async function firstBet(): Promise<void> {
  const name = "ej5: the first apuesta_enviada and the latest apuesta_almacenada name the same dni";
  step(name);
  configServer({ loggingLevel: "DEBUG" });
  configClient({ loopAmount: 5, loopPeriod: "150ms" });
  if (!(await generateCompose(1)) || !(await up())) return down();
  let sent = "";
  let stored = "";
  const fails: string[] = [];
  await readLogs(name, (msg, line) => {
    if (msg.result === "fail") fails.push(line);
    if (msg.action === "apuesta_enviada") sent = msg.details.get("dni") ?? "";
    if (msg.action === "apuesta_almacenada") stored = msg.details.get("dni") ?? "";
    if (sent && stored) return "stop";
  });
  check(`${name}: no line says fail`, fails.length === 0, fails.slice(0, 3).join("\n"));
  check(`${name}: both lines seen, the dni the same`, sent !== "" && sent === stored, `sent ${sent || "none"}, stored ${stored || "none"}`);
  await down();
}

async function batches(bets: number, maxAmount: number): Promise<void> {
  const name = `ej6: ${bets} bets in batches of ${maxAmount}`;
  step(name);
  configServer({ loggingLevel: "DEBUG" });
  configClient({ loopAmount: 20, loopPeriod: "100ms", maxAmount });
  agencyFile(1, bets);
  if (!(await generateCompose(1)) || !(await up())) return down();
  const outcome = await runToExits(name, 1);
  check(`${name}: no line says fail`, outcome.failLines.length === 0, outcome.failLines.slice(0, 3).join("\n"));
  const total = outcome.received.reduce((a, b) => a + b, 0);
  check(`${name}: every bet received`, total === bets, `${total} of ${bets}`);
  const sizes = outcome.received.map((n, i) => (i === outcome.received.length - 1 ? n <= maxAmount : n === maxAmount));
  check(`${name}: every batch holds batch.maxAmount bets but the last`, sizes.every(Boolean), outcome.received.join(","));
  check(`${name}: client1 exited with code 0`, outcome.exits.get("client1") === "success", [...outcome.exits].join(", "));
  check(`${name}: the central kept running, no batch after the draw`, outcome.disorder.length === 0, outcome.disorder.slice(0, 3).join("\n"));
  await down();
}

async function winners(label: string, files: { bets: number; winners: number[] }[], name = "Name,Surname"): Promise<void> {
  const title = `ej7: winners with ${files.length} agencies${label}`;
  step(title);
  configServer({ loggingLevel: "DEBUG" });
  configClient({ loopAmount: 20, loopPeriod: "100ms" });
  files.forEach((file, i) => agencyFile(i + 1, file.bets, file.winners, name));
  if (!(await generateCompose(files.length)) || !(await up())) return down();
  const outcome = await runToExits(title, files.length);
  check(`${title}: no line says fail`, outcome.failLines.length === 0, outcome.failLines.slice(0, 3).join("\n"));
  check(`${title}: a new lottery (the central started with no bets)`, outcome.recovered === 0, `${outcome.recovered} recovered`);
  const total = files.reduce((sum, file) => sum + file.bets, 0);
  const received = outcome.received.reduce((a, b) => a + b, 0);
  check(`${title}: one draw, after every bet (${total}) was received`, outcome.draws === 1 && received === total, `${outcome.draws} draws, ${received} received`);
  check(`${title}: no batch after the draw, no winners line or exit before it`, outcome.disorder.length === 0, outcome.disorder.slice(0, 3).join("\n"));
  const wrong = files.map((file, i) => [`client${i + 1}`, file.winners.length] as const).filter(([client, want]) => outcome.winners.get(client) !== want);
  check(`${title}: each agency's cant_ganadores is its own`, wrong.length === 0, wrong.map(([client, want]) => `${client}: ${outcome.winners.get(client)} (expected ${want})`).join(", "));
  check(`${title}: every agency exited with code 0`, [...outcome.exits.values()].every((result) => result === "success") && outcome.exits.size === files.length, [...outcome.exits].join(", "));
  await down();
}

/** The Makefile's targets as a user types them: `make docker-compose-up`, then `make docker-compose-down`. */
async function makeTargets(): Promise<void> {
  const name = "make docker-compose-up and make docker-compose-down";
  step(name);
  configServer();
  configClient({ loopAmount: 20, loopPeriod: "100ms" });
  for (const id of [1, 2]) agencyFile(id, 30, [id]);
  if (!(await generateCompose(2))) return down();
  const started = await inRepo(["make", "docker-compose-up"], 600_000);
  if (!check(`${name}: make docker-compose-up builds and starts`, started.code === 0, tail(started.out + started.err, 6))) return down();
  const outcome = await runToExits(name, 2);
  check(`${name}: no line says fail`, outcome.failLines.length === 0, outcome.failLines.slice(0, 3).join("\n"));
  check(`${name}: the lottery ran (one draw, each agency's one winner)`, outcome.draws === 1 && [...outcome.winners.values()].join(",") === "1,1", `${outcome.draws} draws, winners ${[...outcome.winners].join(", ")}`);
  // The graceful stop: the central's last line comes before down removes it.
  const closed = followUntil("server", /action: shutdown \| result: success/, 60_000);
  const stopped = await inRepo(["make", "docker-compose-down"], 180_000);
  check(`${name}: make docker-compose-down stops and removes`, stopped.code === 0, tail(stopped.out + stopped.err, 6));
  check(`${name}: the central shut down gracefully`, await closed);
  const left = await run(["docker", "ps", "-a", "--filter", "label=com.docker.compose.project=tp0", "-q"]);
  check(`${name}: no container of project tp0 is left`, left.out.trim() === "", left.out.trim());
}

async function courseSized(): Promise<void> {
  const name = "a course-sized generated dataset: 78,697 bets from 5 agencies";
  step(name);
  configServer();
  configClient({ loopAmount: 20, loopPeriod: "10ms", maxAmount: 128 });
  const data = join(repo, ".data");
  await generateDataset(data, COURSE_SIZES, 229);
  const expected = expectedFromData(data, COURSE_SIZES.length);
  if (typeof expected === "string") return void check(`${name}: data`, false, expected);
  if (!(await generateCompose(COURSE_SIZES.length)) || !(await up())) return down();
  const outcome = await runToExits(name, COURSE_SIZES.length);
  check(`${name}: no line says fail`, outcome.failLines.length === 0, outcome.failLines.slice(0, 3).join("\n"));
  const received = outcome.received.reduce((a, b) => a + b, 0);
  check(`${name}: one draw, after every bet was received`, outcome.draws === 1 && received === 78_697, `${outcome.draws} draws, ${received} received`);
  check(`${name}: no batch after the draw, no winners line or exit before it`, outcome.disorder.length === 0, outcome.disorder.slice(0, 3).join("\n"));
  const wrong = [...expected].filter(([id, e]) => outcome.winners.get(`client${id}`) !== e.winners).map(([id, e]) => `client${id}: ${outcome.winners.get(`client${id}`)} (expected ${e.winners})`);
  check(`${name}: each agency's cant_ganadores matches its file`, wrong.length === 0, wrong.join(", "));
  check(`${name}: every agency exited with code 0`, outcome.exits.size === 5 && [...outcome.exits.values()].every((r) => r === "success"), [...outcome.exits].join(", "));
  await down();
}

// ---------------------------------------------------------------------------------------------------------------

/** A copy of the repository as git sees it (tracked and new files, not the ignored ones), without node_modules. */
async function copyRepository(into: string): Promise<boolean> {
  const listed = await run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT });
  if (!check("the repository's files are listed (git ls-files)", listed.code === 0, tail(listed.err, 2))) return false;
  for (const file of listed.out.split("\0").filter(Boolean)) {
    if (file.startsWith("node_modules/")) continue;
    mkdirSync(dirname(join(into, file)), { recursive: true });
    cpSync(join(ROOT, file), join(into, file));
  }
  return true;
}

async function main(): Promise<void> {
  step("engine");
  const info = await run(["docker", "info", "--format", "{{.ServerVersion}}"], { timeoutMs: 30_000 });
  if (!check("docker engine answers", info.code === 0, info.code === 0 ? `docker ${info.out.trim()}` : tail(info.err, 3))) return;
  const version = await run(["docker", "compose", "version", "--short"]);
  if (!check("docker compose (v2) available", version.code === 0 && /^v?2\./.test(version.out.trim()), version.out.trim())) return;

  tmp = mkdtempSync(join(tmpdir(), "lottery-course-"));
  repo = join(tmp, "repo");
  try {
    if (!(await copyRepository(repo))) return;
    // Leftovers of an earlier run carry the same names (containers server, clientN; project tp0).
    await run(["docker", "rm", "-f", "server", ...Array.from({ length: 5 }, (_, i) => `client${i + 1}`)]);
    await compose("down", "-t", "1");

    step("the course's two docker build commands");
    for (const role of ["server", "client"]) {
      const res = await inRepo(["docker", "build", "-f", `./${role}/Dockerfile`, "-t", `${role}:latest`, "."], 600_000);
      if (!check(`docker build -f ./${role}/Dockerfile -t ${role}:latest .`, res.code === 0, tail(res.out + res.err, 6))) return;
    }

    await echoLoop(1, 1);
    await echoLoop(1, 3);
    await echoLoop(5, 5);
    await configLines({ loopAmount: 5, loopPeriod: "100ms", logLevel: "DEBUG" }, { listenBacklog: 8, loggingLevel: "DEBUG" }, {
      client: { loop_amount: "5", loop_period: "100ms", log_level: "DEBUG" },
      server: { listen_backlog: "8", logging_level: "DEBUG" },
    });
    await configLines({ loopAmount: 2, loopPeriod: "250ms", logLevel: "INFO" }, { listenBacklog: 16, loggingLevel: "INFO" }, {
      client: { loop_amount: "2", loop_period: "250ms", log_level: "INFO" },
      server: { listen_backlog: "16", logging_level: "INFO" },
    });
    await echoServerCheck();
    await foreignEchoServer(true);
    await foreignEchoServer(false);
    await sigterm("client1");
    await sigterm("server");
    await sigterm("server", 0, 2);
    await sigterm("all");
    await firstBet();
    // Files smaller than a batch, one batch exactly, and split in two (99 in 64 + 35).
    for (const maxAmount of [64, 99]) for (const bets of [16, 21, 64, 99]) await batches(bets, maxAmount);
    await winners("", [
      { bets: 100, winners: [0, 99] },
      { bets: 100, winners: [50] },
      { bets: 100, winners: [] },
    ]);
    await winners("", [1, 2, 3, 4, 5].map((n) => ({ bets: 60, winners: Array.from({ length: n }, (_, i) => i + 1) })));
    // Two lotteries in a row, each after `down`: the second sees only its own files' bets and winners.
    await winners(", a second lottery after down on other files", [
      { bets: 40, winners: [3, 4, 5] },
      { bets: 70, winners: [] },
      { bets: 10, winners: [9] },
    ], "Otra,Persona");
    await makeTargets();
    await courseSized();
  } finally {
    step("cleanup");
    await compose("down", "-t", "1");
    const left = await run(["docker", "ps", "-a", "--filter", "label=com.docker.compose.project=tp0", "-q"]);
    check("nothing left behind (containers of project tp0)", left.out.trim() === "", left.out.trim());
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main().catch((err) => check("course script ran without an internal error", false, String(err?.stack ?? err)));
finish();
