/**
 * Docker end to end (`bun run test:docker`): the real images, a generated compose file for 5 agencies with the
 * repo's data (.data/agency-{1..5}.csv), streamed at full speed, and the netcat check, on a real engine. Needs a
 * working `docker` and `docker compose` (v2); it starts no engine itself. (test/course/run.ts drives the same
 * files the way the course's harness does.)
 *
 *   1. build server:latest and client:latest; each runs as non-root and holds no configuration and no data;
 *   2. full run: every agency exits 0 and reports the winners its file holds, one draw, every bet stored once
 *      in the server's container, the health check and the netcat check pass; a stop with -t 10 exits 0 with
 *      closing logs and the netcat check then fails; `start` finds every bet again; after `down` the next `up`
 *      is a new, empty lottery;
 *   3. stop with -t 10 while agencies are sending (agencies slowed down through a mounted config file, which
 *      also shows a config change needs no rebuild): every container exits 0 with closing logs and no bet the
 *      central acknowledged is missing;
 *   4. up again: the stopped central keeps its bets, the agencies resume and the run completes with every bet
 *      stored once;
 *   5. `--keep-bets`: the bets are on a named volume and outlive `down`;
 *   6. the `--tls` compose file on the same course-sized data, in a project folder of its own with certificates
 *      from `bun run gen-certs`: the health check passes, the central logs `tls: on`, and the run completes as
 *      in 2.
 *
 * Containers are named server, client1..5 (as the statement wants), so leftovers of those names are removed
 * before and after; the compose project is private (`lottery-e2e`, over the file's own `tp0`). Ends with
 * `N passed, N failed` and a non-zero exit code on any failure.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { SERVER_IMAGE, CLIENT_IMAGE, AGENCY_CONFIG_MOUNT } from "../../lib/deployment/compose.ts";
import {
  acknowledged,
  buildImages,
  check,
  checkStoredRows,
  count,
  describeExpected,
  DRAW,
  type Expected,
  expectedFromData,
  finish,
  followMatches,
  followUntil,
  logs,
  makeCerts,
  makeProject,
  reportedWinners,
  type Result,
  ROOT,
  run,
  step,
  storedRows as rowsOn,
  storedRowsIn,
  tail,
} from "./kit.ts";

const PROJECT = "lottery-e2e";
const AGENCIES = 5;
const CLIENTS = Array.from({ length: AGENCIES }, (_, i) => `client${i + 1}`);
const CONTAINERS = ["server", ...CLIENTS];
const NETWORK = `${PROJECT}_testing_net`;
const VOLUME = `${PROJECT}_storage`;

// ---------------------------------------------------------------------------------------------------------------
// Compose and containers

let composeFiles: string[] = [];
/** Where ./server, ./client, ./.data (and ./.certs) of the compose file resolve: the repo, or a run's own folder. */
let projectDir = ROOT;

/** `docker compose` on the generated file(s), with `projectDir` as project directory. */
function compose(args: string[], timeoutMs = 120_000): Promise<Result> {
  const files = composeFiles.flatMap((f) => ["-f", f]);
  return run(["docker", "compose", ...files, "--project-directory", projectDir, "-p", PROJECT, ...args], { timeoutMs });
}

/** The bets the central holds: in its container, or (--keep-bets) on the project's volume. */
let storedRows = () => storedRowsIn("server");

type State = { status: string; exitCode: number; health: string };

async function state(container: string): Promise<State | undefined> {
  const res = await run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", container]);
  if (res.code !== 0) return undefined;
  const [status = "", exitCode = "-1", health = ""] = res.out.trim().split(" ");
  return { status, exitCode: Number(exitCode), health };
}

/** Waits (`docker wait`, no polling) until every container has exited; false on timeout. */
async function waitExited(containers: string[], timeoutMs: number): Promise<boolean> {
  const res = await run(["docker", "wait", ...containers], { timeoutMs });
  return res.code === 0;
}

/** Runs validar-echo-server.sh against the e2e project's network and returns its output line. */
async function echoCheck(): Promise<string> {
  const res = await run(["sh", join(ROOT, "validar-echo-server.sh")], { timeoutMs: 60_000, env: { NETWORK } });
  return res.out.trim();
}

async function removeLeftovers(): Promise<void> {
  await run(["docker", "rm", "-f", ...CONTAINERS]);
  if (composeFiles.length > 0) await compose(["down", "-v", "--remove-orphans", "-t", "1"]);
  await run(["docker", "network", "rm", NETWORK]);
  await run(["docker", "volume", "rm", "-f", VOLUME]);
}

// ---------------------------------------------------------------------------------------------------------------
// Phases

async function images(): Promise<boolean> {
  step("images");
  if (!(await buildImages())) return false;
  for (const image of [SERVER_IMAGE, CLIENT_IMAGE]) {
    const id = await run(["docker", "run", "--rm", image, "id", "-u"]);
    check(`${image} runs as a non-root user`, id.code === 0 && id.out.trim() !== "0", `uid ${id.out.trim()}`);
    const ls = await run(["docker", "run", "--rm", image, "sh", "-c", "ls -A /app; ls /app/node_modules"]);
    const entries = ls.out.split(/\s+/).filter(Boolean);
    const baked = entries.filter((e) => ["server", "client", "config", ".data", "test", ".git", "bets.csv", "typescript", ".bench"].includes(e));
    check(`${image}: no configuration, data, tests or dev dependencies baked in`, ls.code === 0 && baked.length === 0, baked.join(", ") || entries.join(" "));
  }
  return true;
}

/**
 * After `up`: waits for the agencies, then checks exit codes, winners, the one draw and the stored rows (each
 * file's bets exactly once, whole). Returns the stored rows, or undefined when they could not be read.
 */
async function verifyCompletedRun(expected: Map<number, Expected>, { ackedEqualsStored }: { ackedEqualsStored: boolean }) {
  const done = await waitExited(CLIENTS, 300_000);
  check("every agency finished within 5 minutes", done);

  for (let id = 1; id <= AGENCIES; id++) {
    const name = `client${id}`;
    const [s, text] = [await state(name), await logs(name)];
    check(`${name} exit code 0`, s?.exitCode === 0, `${s?.status} ${s?.exitCode}`);
    const reported = reportedWinners(text);
    const want = expected.get(id)!.winners;
    check(`${name} cant_ganadores matches its file`, reported.length === 1 && reported[0] === want, `reported ${reported.join(",") || "none"}, expected ${want}`);
    if (s?.exitCode !== 0 || reported[0] !== want) console.log(tail(text).replace(/^/gm, `    ${name} | `));
  }

  const serverLogs = await logs("server");
  const draws = count(serverLogs, DRAW);
  check("exactly one sorteo in the server logs", draws === 1, `${draws}`);
  const server = await state("server");
  check("server still running and healthy", server?.status === "running" && server.health === "healthy", `${server?.status} ${server?.health}`);

  const rows = await storedRows();
  if (checkStoredRows(rows, expected) === undefined || typeof rows === "string") return undefined;
  if (ackedEqualsStored) {
    const acked = acknowledged(serverLogs);
    check("stored rows equal the bets the central acknowledged", acked === rows.length, `${acked} acknowledged`);
  }
  return rows;
}

/** The closing steps a role logged (`action: shutdown|close_* | result: success`); clean = shutdown + a close_*. */
function closingSteps(text: string): { clean: boolean; steps: string[] } {
  const steps = [...text.matchAll(/action: (shutdown|close_\w+) \| result: success/g)].map((m) => m[1]!);
  return { clean: steps.includes("shutdown") && steps.some((a) => a.startsWith("close_")), steps };
}

/**
 * The count the central's recovery found at its `start`-th start-up in the server container
 * (`recuperacion | result: success | bets: N`), once it has logged it.
 */
async function recovered(start: number): Promise<number | undefined> {
  const found = await followMatches("server", /action: recuperacion \| result: success \| bets: (\d+)/, start, 60_000);
  return found === undefined ? undefined : Number(found.at(-1)![1]);
}

async function fullRun(expected: Map<number, Expected>): Promise<void> {
  step("full run: 5 agencies, draw, winners, storage, netcat check; stop/start keeps the bets, down ends the lottery");
  const up = await compose(["up", "-d"], 300_000);
  if (!check("compose up -d (server healthy, agencies started)", up.code === 0, up.code === 0 ? "" : tail(up.out + up.err))) return;
  const rows = await verifyCompletedRun(expected, { ackedEqualsStored: true });

  const echo = await echoCheck();
  check("netcat check against the running server", echo === "action: test_echo_server | result: success", echo);

  const t0 = Date.now();
  const stop = await compose(["stop", "-t", "10", "server"], 60_000);
  const seconds = (Date.now() - t0) / 1000;
  const stopped = await state("server");
  check("server stop -t 10: exit code 0", stop.code === 0 && stopped?.exitCode === 0, `exit ${stopped?.exitCode} after ${seconds.toFixed(1)} s`);
  const closing = closingSteps(await logs("server"));
  check("server logged its closing steps", closing.clean, closing.steps.join(", "));

  const echoDown = await echoCheck();
  check("netcat check fails when the server is stopped", echoDown === "action: test_echo_server | result: fail", echoDown);

  // The same container again: its bets are still there, and it finds them.
  const start = await compose(["start", "server"], 120_000);
  const again = await recovered(2);
  check("start after stop: the central recovers every bet", start.code === 0 && rows !== undefined && again === rows.length, `${again} recovered`);

  // down removes the container and its bets with it: the next up is a new lottery.
  const down = await compose(["down", "-t", "10"]);
  const fresh = await compose(["up", "-d", "server"], 120_000);
  const anew = await recovered(1);
  check("after down, the next up starts an empty lottery", down.code === 0 && fresh.code === 0 && anew === 0, `${anew} bets recovered`);
}

async function stopWhileSending(agencyConfig: string): Promise<void> {
  step("stop -t 10 while the agencies are sending");
  // Slow agencies (one bet per frame) through a mounted copy of client/config.yaml: no rebuild needed.
  const config = (parse(readFileSync(join(ROOT, "client", "config.yaml"), "utf8")) ?? {}) as Record<string, unknown>;
  config.batch = { ...((config.batch as object | undefined) ?? {}), maxAmount: 1 };
  writeFileSync(agencyConfig, stringify(config));

  const up = await compose(["up", "-d"], 300_000);
  if (!check("compose up -d with the slowed-down agency config", up.code === 0, up.code === 0 ? "" : tail(up.out + up.err))) return;

  // Wait for every agency to be up (its config line: it takes stop signals by then) and for the first stored
  // batch (following the logs as they are written), then stop at once.
  const up5 = await Promise.all(CLIENTS.map((client) => followUntil(client, /action: config \| result: success/, 60_000)));
  const sending = await followUntil("server", /action: apuesta_recibida \| result: success/, 60_000);
  check("agencies started sending", up5.every(Boolean) && sending);

  // Nobody had to be killed after the grace period: the exit codes below (0, not 137) prove it.
  const stop = await compose(["stop", "-t", "10"], 120_000);
  check("compose stop -t 10 succeeded", stop.code === 0, stop.code === 0 ? "" : tail(stop.out + stop.err));

  const serverLogs = await logs("server");
  check("the draw had not happened yet (the stop came mid-run)", count(serverLogs, DRAW) === 0);

  // The agencies read the mounted file at start-up (their config line shows the value).
  const client1Config = (await logs("client1")).match(/action: config \| result: success[^\n]*/)?.[0] ?? "";
  check("agencies use the mounted config file (batch.maxAmount 1), no rebuild", /batch_max_amount: 1\b/.test(client1Config), client1Config.replace(/^.*action: config/, "action: config").slice(0, 160));

  for (const name of CONTAINERS) {
    const [s, text] = [await state(name), name === "server" ? serverLogs : await logs(name)];
    check(`${name} exit code 0 after the stop`, s?.status === "exited" && s.exitCode === 0, `${s?.status} ${s?.exitCode}`);
    // An agency that got its winners before the stop had nothing left to close.
    const finished = /action: consulta_ganadores \| result: success/.test(text);
    const closing = closingSteps(text);
    if (!finished) check(`${name} logged its closing steps`, closing.clean, closing.steps.join(", "));
    if (s?.exitCode !== 0 || (!finished && !closing.clean)) console.log(tail(text).replace(/^/gm, `    ${name} | `));
  }

  const rows = await storedRows();
  const acked = acknowledged(serverLogs);
  if (typeof rows === "string") check("no acknowledged bet is missing", false, rows);
  else {
    check("no acknowledged bet is missing", rows.length >= acked, `${rows.length} stored, ${acked} acknowledged`);
    check("every stored row is whole (6 fields)", rows.every((r) => r.length === 6));
  }
}

async function resumeAfterStop(expected: Map<number, Expected>): Promise<void> {
  step("up again after the stop: the stopped central kept its bets, and the run completes");
  const up = await compose(["up", "-d"], 300_000);
  if (!check("compose up -d (default agency config)", up.code === 0, up.code === 0 ? "" : tail(up.out + up.err))) return;
  // The server container is the stopped one (its logs span both runs): acknowledged counts are not comparable
  // here; the per-agency row counts are the proof that nothing was lost or stored twice.
  await verifyCompletedRun(expected, { ackedEqualsStored: false });
}

/** --keep-bets: the same file with the bets on the project's named volume, which `down` keeps (and `down -v` removes). */
async function keepBets(tmp: string): Promise<void> {
  step("--keep-bets: the bets outlive down");
  const dir = join(tmp, "keep");
  await makeProject(dir, AGENCIES, { bets: 300 });
  const expected = expectedFromData(join(dir, ".data"), AGENCIES) as Map<number, Expected>;
  const file = join(dir, "docker-compose.yaml");
  const gen = await run(["bun", join(ROOT, "gen-compose.ts"), "--keep-bets", file, String(AGENCIES)]);
  if (!check("gen-compose.ts --keep-bets OUTPUT 5", gen.code === 0 && gen.err.trim() === "", tail(gen.out + gen.err, 3))) return;
  [projectDir, composeFiles, storedRows] = [dir, [file], () => rowsOn(VOLUME)];
  const up = await compose(["up", "-d"], 300_000);
  if (!check("compose up -d --keep-bets", up.code === 0, up.code === 0 ? "" : tail(up.out + up.err))) return;
  const rows = await verifyCompletedRun(expected, { ackedEqualsStored: true });
  const down = await compose(["down", "-t", "10"]);
  const kept = await storedRows();
  check("the bets are on the volume after down", down.code === 0 && rows !== undefined && typeof kept !== "string" && kept.length === rows.length, typeof kept === "string" ? kept : `${kept.length} rows`);
  const fresh = await compose(["up", "-d", "server"], 120_000);
  const found = await recovered(1);
  check("the next up's central recovers them", fresh.code === 0 && found === rows?.length, `${found} recovered`);
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * The --tls compose file in a folder of its own (config, copies of the course-sized data, fresh certificates):
 * the central's health check passes over TLS, it says `tls: on`, and the run completes as the plain one does.
 */
async function tlsRun(expected: Map<number, Expected>, tmp: string): Promise<void> {
  step("--tls: the same run over mutual TLS, certificates from gen-certs");
  const dir = join(tmp, "tls");
  await makeProject(dir, AGENCIES);
  const certs = await makeCerts(dir, AGENCIES, { forContainers: true });
  if (!check("bun run gen-certs --agencies 5", certs.code === 0, certs.code === 0 ? "" : tail(certs.out + certs.err, 4))) return;
  const file = join(dir, "docker-compose.yaml");
  const gen = await run(["bun", join(ROOT, "gen-compose.ts"), file, String(AGENCIES), "--tls"]);
  if (!check("gen-compose.ts OUTPUT 5 --tls", gen.code === 0 && existsSync(file), tail(gen.out + gen.err, 3))) return;
  check("gen-compose warns of nothing (certificates and data in place)", gen.err.trim() === "", gen.err.trim());

  [projectDir, composeFiles, storedRows] = [dir, [file], () => storedRowsIn("server")];
  // `up -d` returns once the server is healthy: the agencies depend on it, so this proves the TLS health check.
  const up = await compose(["up", "-d"], 300_000);
  if (!check("compose up -d --tls (server healthy over TLS, agencies started)", up.code === 0, up.code === 0 ? "" : tail(up.out + up.err))) return;
  await verifyCompletedRun(expected, { ackedEqualsStored: true });
  const config = (await logs("server")).match(/action: config \| result: success[^\n]*/)?.[0] ?? "";
  check("the central runs with tls: on", /\| tls: on\b/.test(config), config.replace(/^.*action: config/, "action: config").slice(0, 160));
  const refused = count(await logs("server"), /action: (tls|acceso_denegado) \| result: fail/);
  check("no refused handshake or access in the run (health probes included)", refused === 0, `${refused}`);
}

async function main(): Promise<void> {
  step("engine");
  const info = await run(["docker", "info", "--format", "{{.ServerVersion}}"], { timeoutMs: 30_000 });
  if (!check("docker engine answers", info.code === 0, info.code === 0 ? `docker ${info.out.trim()}` : tail(info.err, 3))) return;
  const version = await run(["docker", "compose", "version", "--short"]);
  if (!check("docker compose (v2) available", version.code === 0 && /^v?2\./.test(version.out.trim()), version.out.trim() || tail(version.err, 2))) return;

  const expected = expectedFromData(join(ROOT, ".data"), AGENCIES);
  if (!check("repo data .data/agency-{1..5}.csv", typeof expected !== "string", typeof expected === "string" ? expected : describeExpected(expected))) return;
  if (typeof expected === "string") return;

  const tmp = mkdtempSync(join(tmpdir(), "lottery-e2e-"));
  try {
    const file = join(tmp, "docker-compose.yaml");
    await removeLeftovers();

    if (!(await images())) return;

    // The generated file lives outside the repo; --project-directory resolves ./server, ./client and ./.data in the repo.
    const gen = await run(["bun", join(ROOT, "gen-compose.ts"), file, String(AGENCIES)]);
    // (Its warning about missing .data files is expected here: they are next to the repo, not the temp file.)
    const generated = gen.code === 0 && existsSync(file);
    if (!check("gen-compose.ts writes the compose file for 5 agencies", generated, generated ? "" : tail(gen.err, 3))) return;
    composeFiles = [file];

    await fullRun(expected);
    await removeLeftovers();

    const agencyConfig = join(tmp, "agency.yaml");
    const override = join(tmp, "docker-compose.override.yaml");
    const services = Object.fromEntries(CLIENTS.map((c) => [c, { volumes: [`${agencyConfig}:${AGENCY_CONFIG_MOUNT}:ro`] }]));
    writeFileSync(override, stringify({ services }));
    composeFiles = [file, override];
    await stopWhileSending(agencyConfig);
    composeFiles = [file];
    await resumeAfterStop(expected);
    await removeLeftovers();

    await keepBets(tmp);
    await removeLeftovers();

    await tlsRun(expected, tmp);
  } finally {
    step("cleanup");
    await removeLeftovers();
    const left = await run(["docker", "ps", "-a", "--filter", `label=com.docker.compose.project=${PROJECT}`, "-q"]);
    const vol = await run(["docker", "volume", "inspect", VOLUME]);
    check("nothing left behind (containers, volume)", left.out.trim() === "" && vol.code !== 0);
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main().catch((err) => check("e2e script ran without an internal error", false, String(err?.stack ?? err)));
finish();
