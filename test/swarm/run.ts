/**
 * Docker Swarm end to end (`bun run test:swarm`): the real images and a stack file from `gen-compose.ts --stack`
 * deployed with `docker stack deploy` on a one-node swarm. Needs a working engine (it starts none); makes the
 * engine a swarm when it is not one (`docker swarm leave --force` at the end only then), and labels its node
 * for the central's volume when no node is (the label is removed at the end only then).
 *
 *   1. 5 agencies on the course-sized data: the deploy warns of nothing, all 5 tasks complete, each agency's
 *      winners right, one sorteo, the stored rows equal the files;
 *   2. 20 agencies on small generated files: the same checks;
 *   3. faults under the orchestrator, agencies slowed (one bet per round trip) through the config, which the
 *      content-named config makes a plain redeploy: an agency task killed mid-run (`docker kill`) is restarted
 *      by Swarm and resumes; then `docker service update --force` replaces the central while agencies send;
 *      at the end every bet is stored once and the draw happened once;
 *   4. `--tls`: the 5-agency run over mutual TLS with the certificates as secrets: while the central is at 0
 *      replicas, each waiting agency task holds the CA, its own certificate and only its own key; then the
 *      central is scaled up and the run completes with no refused handshake or access;
 *   5. each stack is removed with nothing left behind (services, containers, networks, volumes, configs,
 *      secrets).
 *
 * A task's log is read from its container (`docker logs`): `docker service logs` of tasks that logged thousands
 * of lines can return part of them and never exit. Ends with `N passed, N failed`. Arguments name the phases
 * to run (course, many, faults, tls), all by default.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { forEachLine } from "../../lib/tooling/processes.ts";
import { STORAGE_LABEL } from "../../lib/deployment/stack-file.ts";
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
  followUntil,
  logs,
  makeCerts,
  makeProject,
  reportedWinners,
  ROOT,
  run,
  step,
  storedRows,
  tail,
} from "../docker/kit.ts";

/** A stack name of its own, so that a developer's `lottery` stack is never touched. */
const STACK = "lottery-swarm-test";
const SERVER = `${STACK}_server`;
const AGENCY = `${STACK}_agency`;
const VOLUME = `${STACK}_storage`;
const NAMESPACE = `label=com.docker.stack.namespace=${STACK}`;
const RUN_TIMEOUT_MS = 600_000;

// ---------------------------------------------------------------------------------------------------------------
// Swarm state

type Container = { name: string; slot: number; status: string; exitCode: number; health: string };

/** The stack's task containers of a service (`STACK_agency.3.<task id>`), with their state. */
async function containers(service: string): Promise<Container[]> {
  const ids = await run(["docker", "ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${service}`]);
  const list = ids.out.split("\n").filter(Boolean);
  if (list.length === 0) return [];
  const format = "{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}";
  const res = await run(["docker", "inspect", "-f", format, ...list]);
  return res.out
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [name = "", status = "", exitCode = "-1", health = ""] = line.trim().split(" ");
      const bare = name.replace(/^\//, "");
      return { name: bare, slot: Number(bare.split(".")[1]), status, exitCode: Number(exitCode), health };
    });
}

type Task = { slot: number; desired: string; state: string; error: string };

async function tasks(service: string): Promise<Task[]> {
  const res = await run(["docker", "service", "ps", service, "--no-trunc", "--format", "{{.Name}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}"]);
  return res.out
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [name = "", desired = "", state = "", error = ""] = line.split("|");
      // A task's previous runs are listed as "\_ name": the slot is the number after the service name.
      return { slot: Number(name.replace(/^.*\./, "")), desired, state: state.split(" ")[0]!, error };
    });
}

/**
 * Re-evaluates `probe` whenever the engine reports an event of the stack (a container created, started, dead,
 * destroyed...) until it gives a value; undefined when `timeoutMs` passes first. Swarm updates a task's state a
 * moment after its container's event, with no event of its own on this API, so a re-check every 2 s backs the
 * events up.
 */
async function waitUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, { evenIfInterrupted = false } = {}): Promise<T | undefined> {
  const events = Bun.spawn(["docker", "events", "--filter", NAMESPACE, "--format", "{{.Type}} {{.Action}}"], { stdout: "pipe", stderr: "ignore" });
  let wake = Promise.withResolvers<void>();
  void forEachLine(events.stdout, () => wake.resolve());
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline && (evenIfInterrupted || !interrupted)) {
      const value = await probe();
      if (value !== undefined) return value;
      const backup = setTimeout(() => wake.resolve(), Math.min(2000, Math.max(0, deadline - Date.now())));
      await wake.promise;
      clearTimeout(backup);
      wake = Promise.withResolvers<void>();
    }
    return undefined;
  } finally {
    events.kill();
  }
}

/** An agency that failed this often is failing for good (the killed one fails once): stop waiting for it. */
const GIVE_UP_FAILURES = 3;

/**
 * Every slot 1..n has a container that exited 0 (`done`), or some slot failed GIVE_UP_FAILURES times
 * (`failing`, with the last lines of its log).
 */
async function agenciesDone(n: number): Promise<{ done: Container[]; failing?: string } | undefined> {
  const list = await containers(AGENCY);
  const done = new Map(list.filter((c) => c.status === "exited" && c.exitCode === 0).map((c) => [c.slot, c]));
  const failures = list.filter((c) => c.status === "exited" && c.exitCode !== 0);
  for (const c of failures) {
    if (failures.filter((f) => f.slot === c.slot).length >= GIVE_UP_FAILURES) {
      return { done: [...done.values()], failing: `agency ${c.slot} exited ${c.exitCode}: ${tail(await logs(c.name), 2)}` };
    }
  }
  return done.size === n && [...done.keys()].every((slot) => slot >= 1 && slot <= n) ? { done: [...done.values()] } : undefined;
}

/** Newer clients tell that tasks are created in the background unless --detach is given: say it, when known (asked once). */
let detachKnown: Promise<string[]> | undefined;
function detachFlag(): Promise<string[]> {
  detachKnown ??= run(["docker", "stack", "deploy", "--help"]).then((help) => (help.out.includes("--detach") ? ["--detach=true"] : []));
  return detachKnown;
}

/** `docker stack deploy`, its output line by line: only `Creating …`/`Updating …`, no warning of an ignored key. */
async function deploy(file: string, what: string): Promise<boolean> {
  const detach = await detachFlag();
  const res = await run(["docker", "stack", "deploy", ...detach, "-c", file, STACK], { timeoutMs: 120_000 });
  const lines = (res.out + res.err).split("\n").filter((l) => l.trim() !== "");
  const other = lines.filter((l) => !/^(Creating|Updating) (network|config|secret|service) \S+$/.test(l.trim()));
  check(`docker stack deploy ${what}`, res.code === 0, res.code === 0 ? "" : tail(res.out + res.err, 6));
  return check("docker stack deploy printed no warning (nothing ignored)", res.code === 0 && other.length === 0, other.join(" / "));
}

/** The stack file for `agencies` in `dir` (config, data and certificates next to it). */
async function generate(dir: string, agencies: number, tls: boolean): Promise<string | undefined> {
  const file = join(dir, "docker-stack.yaml");
  const gen = await run(["bun", join(ROOT, "gen-compose.ts"), "--stack", ...(tls ? ["--tls"] : []), file, String(agencies)]);
  return check(`gen-compose.ts --stack${tls ? " --tls" : ""} OUTPUT ${agencies}`, gen.code === 0 && gen.err.trim() === "", tail(gen.out + gen.err, 3))
    ? file
    : undefined;
}

/**
 * After a deploy: waits for every agency, then checks the tasks, each agency's winners (from its container's
 * log), the one draw over every central container the run had, and the stored rows.
 */
async function verifyRun(expected: Map<number, Expected>, { restarts }: { restarts: boolean }): Promise<void> {
  const n = expected.size;
  const outcome = await waitUntil(() => agenciesDone(n), RUN_TIMEOUT_MS);
  const done = outcome?.failing ? undefined : outcome?.done;
  check(`all ${n} agencies exited 0 within ${RUN_TIMEOUT_MS / 60_000} minutes`, done !== undefined, outcome?.failing ?? "");
  if (!done) {
    let central = "";
    for (const c of await containers(SERVER)) central += `${c.name} ${c.status} ${c.health}\n${tail(await logs(c.name), 4)}\n`;
    console.log(central.replace(/^/gm, "    server | "));
    return;
  }

  // Swarm marks the tasks a moment after their containers.
  const complete = await waitUntil(async () => {
    const list = await tasks(AGENCY);
    const slots = new Set(list.filter((t) => t.state === "Complete").map((t) => t.slot));
    return slots.size === n ? list : undefined;
  }, 60_000);
  check(`all ${n} agency tasks Complete`, complete !== undefined);
  if (!restarts && complete) {
    const other = complete.filter((t) => t.state !== "Complete");
    check("no agency task failed or was restarted", other.length === 0 && complete.length === n, other.map((t) => `${t.slot}: ${t.state} ${t.error}`).join("; "));
  }

  const wrong: string[] = [];
  for (const c of done) {
    const reported = reportedWinners(await logs(c.name));
    const want = expected.get(c.slot)!.winners;
    if (reported.length !== 1 || reported[0] !== want) wrong.push(`agency ${c.slot}: ${reported.join(",") || "none"} of ${want}`);
  }
  check("each agency reported the winners its file holds (its own, once)", wrong.length === 0, wrong.slice(0, 5).join("; ") || `${n} agencies`);

  const centrals = await containers(SERVER);
  let serverLogs = "";
  for (const c of centrals) serverLogs += await logs(c.name);
  const draws = count(serverLogs, DRAW);
  check("exactly one sorteo over every central container of the run", draws === 1, `${draws} in ${centrals.length} container(s)`);
  const running = centrals.filter((c) => c.status === "running");
  check("the central is running and healthy", running.length === 1 && running[0]!.health === "healthy", centrals.map((c) => `${c.status} ${c.health}`).join(", "));

  const stored = checkStoredRows(await storedRows(VOLUME), expected);
  if (!restarts && stored !== undefined) check("stored rows equal the bets the central acknowledged", acknowledged(serverLogs) === stored, `${acknowledged(serverLogs)} acknowledged`);
}

/** `docker stack rm`, then the volume; returns what of the stack is left ("" when nothing). */
async function removeStack(): Promise<string> {
  await run(["docker", "stack", "rm", STACK], { timeoutMs: 120_000 });
  const gone = await waitUntil(async () => {
    const [c, n] = await Promise.all([
      run(["docker", "ps", "-aq", "--filter", NAMESPACE]),
      run(["docker", "network", "ls", "-q", "--filter", NAMESPACE]),
    ]);
    return c.out.trim() === "" && n.out.trim() === "" ? true : undefined;
  }, 120_000, { evenIfInterrupted: true });
  await run(["docker", "volume", "rm", "-f", VOLUME]);
  const left: string[] = [];
  for (const kind of ["service", "config", "secret", "network", "volume"]) {
    const res = await run(["docker", kind, "ls", "-q", "--filter", NAMESPACE]);
    if (res.out.trim() !== "") left.push(`${kind}s: ${res.out.trim().split("\n").length}`);
  }
  const containersLeft = (await run(["docker", "ps", "-aq", "--filter", NAMESPACE])).out.trim();
  if (containersLeft) left.push("containers");
  if (gone !== true && left.length === 0) left.push("still removing after 2 minutes");
  return left.join(", ");
}

async function checkRemoved(): Promise<void> {
  const left = await removeStack();
  check("stack removed, nothing left (services, containers, networks, volumes, configs, secrets)", left === "", left);
}

// ---------------------------------------------------------------------------------------------------------------
// Phases

async function plainRun(tmp: string, title: string, agencies: number, bets?: number): Promise<void> {
  step(title);
  const dir = join(tmp, `plain-${agencies}`);
  await makeProject(dir, agencies, { bets });
  if (bets !== undefined) giveWinners(dir, agencies);
  const expected = expectedFromData(join(dir, ".data"), agencies);
  if (!check("data files", typeof expected !== "string", typeof expected === "string" ? expected : describeExpected(expected))) return;
  if (typeof expected === "string") return;
  // Without winners in every file, "each agency got its own winners" would hold with nobody told any.
  if (bets !== undefined && !check("every file holds winners", [...expected.values()].every((e) => e.winners > 0))) return;
  const file = await generate(dir, agencies, false);
  try {
    if (file && (await deploy(file, `(${agencies} agencies)`))) await verifyRun(expected, { restarts: false });
  } finally {
    await checkRemoved();
  }
}

/** Generated files rarely hold 7574: make every (10 + id)th bet of agency `id` a winner, a count per agency. */
function giveWinners(dir: string, agencies: number): void {
  for (let id = 1; id <= agencies; id++) {
    const path = join(dir, ".data", `agency-${id}.csv`);
    const lines = readFileSync(path, "utf8").split("\r\n");
    writeFileSync(path, lines.map((line, i) => (line && i % (10 + id) === 0 ? line.replace(/,\d+$/, ",7574") : line)).join("\r\n"));
  }
}

async function faults(tmp: string): Promise<void> {
  step("faults: an agency task killed mid-run, then a rolling restart of the central while agencies send");
  const agencies = 5;
  const dir = join(tmp, "faults");
  await makeProject(dir, agencies);
  // One bet per frame and per round trip: the run lasts long enough to be interrupted twice.
  const configPath = join(dir, "client", "config.yaml");
  const config = (parse(readFileSync(configPath, "utf8")) ?? {}) as Record<string, unknown>;
  config.batch = { ...((config.batch as object | undefined) ?? {}), maxAmount: 1, window: 1 };
  writeFileSync(configPath, stringify(config));
  const expected = expectedFromData(join(dir, ".data"), agencies) as Map<number, Expected>;
  const file = await generate(dir, agencies, false);
  try {
    if (!file || !(await deploy(file, "(5 agencies, slowed down)"))) return;

    const central = await waitUntil(async () => (await containers(SERVER)).find((c) => c.status === "running"), 120_000);
    const sending = central !== undefined && (await followUntil(central.name, /action: apuesta_recibida \| result: success/, 120_000));
    check("agencies started sending", sending);

    // Agency 1 has the largest file: kill its task's container while it sends.
    const victim = (await containers(AGENCY)).find((c) => c.slot === 1 && c.status === "running");
    const kill = victim ? await run(["docker", "kill", victim.name]) : undefined;
    check("docker kill of agency 1's task container", kill?.code === 0, victim?.name ?? "no running task of slot 1");
    const killedLogs = victim ? await logs(victim.name) : "";
    check("agency 1 was killed mid-run (it had not got its winners)", reportedWinners(killedLogs).length === 0);
    const again = await waitUntil(async () => (await containers(AGENCY)).find((c) => c.slot === 1 && c.name !== victim?.name && c.status === "running"), 120_000);
    check("Swarm restarted agency 1 in a new task", again !== undefined, again?.name ?? "");

    // The rolling restart: stop-first, so the new central opens the storage the old one closed.
    const update = await run(["docker", "service", "update", "--force", SERVER], { timeoutMs: 300_000 });
    check("docker service update --force of the central converged", update.code === 0, update.code === 0 ? "" : tail(update.out + update.err, 4));
    const old = (await containers(SERVER)).find((c) => c.name === central?.name);
    check("the replaced central stopped cleanly (exit 0)", old?.status === "exited" && old.exitCode === 0, `${old?.status} ${old?.exitCode}`);
    check("the draw had not happened before the restart", count(await logs(central?.name ?? ""), DRAW) === 0);

    await verifyRun(expected, { restarts: true });

    const slot1 = await tasks(AGENCY);
    const failed = slot1.filter((t) => t.slot === 1 && t.state === "Failed");
    check("agency 1's killed task is the only failed one, and shows as Failed", failed.length === 1 && slot1.filter((t) => t.state === "Failed").length === 1, slot1.map((t) => `${t.slot}:${t.state}`).join(" "));
    const resumed = again ? (await logs(again.name)).match(/action: reanudar \| result: success \| stored: (\d+)/) : null;
    check("the new agency 1 task resumed from what the central had stored", resumed !== null && Number(resumed[1]) > 0, resumed?.[0] ?? "no reanudar line");
    const centrals = await containers(SERVER);
    check("the central ran in two containers (before and after the update)", centrals.length === 2, `${centrals.length}`);
  } finally {
    await checkRemoved();
  }
}

/**
 * Each agency task's secrets, read inside its container: the CA, its certificate and its own key (the bytes of
 * agency-<slot>.key) and nothing else. Returns the problems found.
 */
async function secretProblems(dir: string, agencies: number): Promise<string[]> {
  const problems: string[] = [];
  const running = (await containers(AGENCY)).filter((c) => c.status === "running");
  for (const c of running) {
    const list = await run(["docker", "exec", c.name, "ls", "/run/secrets"]);
    const names = list.out.split(/\s+/).filter(Boolean).sort().join(" ");
    if (names !== "agency.crt agency.key ca.crt") problems.push(`slot ${c.slot} sees: ${names || list.err.trim()}`);
    const key = await run(["docker", "exec", c.name, "cat", "/run/secrets/agency.key"]);
    const cert = await run(["docker", "exec", c.name, "cat", "/run/secrets/agency.crt"]);
    const own = (suffix: string) => readFileSync(join(dir, ".certs", `agency-${c.slot}.${suffix}`), "utf8");
    if (key.out !== own("key")) problems.push(`slot ${c.slot}'s agency.key is not agency-${c.slot}.key`);
    if (cert.out !== own("crt")) problems.push(`slot ${c.slot}'s agency.crt is not agency-${c.slot}.crt`);
  }
  if (running.length !== agencies) problems.push(`${running.length} agency tasks running, not ${agencies}`);
  return problems;
}

async function tlsRun(tmp: string): Promise<void> {
  step("--tls: 5 agencies over mutual TLS, the certificates as Swarm secrets");
  const agencies = 5;
  const dir = join(tmp, "tls");
  await makeProject(dir, agencies);
  const certs = await makeCerts(dir, agencies, { forContainers: false }); // secrets get their owner from the stack
  if (!check("bun run gen-certs --agencies 5", certs.code === 0, certs.code === 0 ? "" : tail(certs.out + certs.err, 4))) return;
  const expected = expectedFromData(join(dir, ".data"), agencies) as Map<number, Expected>;
  const file = await generate(dir, agencies, true);
  if (!file) return;
  // First without the central, so that the agencies wait (with their reconnect budget) and their secrets can
  // be read in their containers; then the central is scaled up and the run goes on.
  const doc = parse(readFileSync(file, "utf8")) as { services: { server: { deploy: { replicas: number } } } };
  doc.services.server.deploy.replicas = 0;
  const waiting = join(dir, "docker-stack.no-central.yaml");
  writeFileSync(waiting, stringify(doc));
  try {
    if (!(await deploy(waiting, "--tls (5 agencies, the central at 0 replicas)"))) return;
    const up = await waitUntil(async () => ((await containers(AGENCY)).filter((c) => c.status === "running").length === agencies ? true : undefined), 120_000);
    check("5 agency tasks running, waiting for the central", up === true);
    const problems = await secretProblems(dir, agencies);
    check("each agency task has the CA, its own certificate and only its own key", problems.length === 0, problems.slice(0, 4).join("; "));

    const scale = await run(["docker", "service", "scale", "--detach", `${SERVER}=1`], { timeoutMs: 120_000 });
    check("the central scaled to 1 replica", scale.code === 0, tail(scale.err, 2));
    await verifyRun(expected, { restarts: false });
    let serverLogs = "";
    for (const c of await containers(SERVER)) serverLogs += await logs(c.name);
    const config = serverLogs.match(/action: config \| result: success[^\n]*/)?.[0] ?? "";
    check("the central runs with tls: on", /\| tls: on\b/.test(config), config.replace(/^.*action: config/, "action: config").slice(0, 160));
    const refused = count(serverLogs, /action: (tls|acceso_denegado) \| result: fail/);
    check("no refused handshake or access (health probes included)", refused === 0, `${refused}`);
  } finally {
    await checkRemoved();
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The phases' project folders (config, data, certificates, stack files); removed by the cleanup. */
let tmp = "";
let madeSwarm = false;
let madeGwBridge = false;
let labelledNode = "";

async function main(): Promise<void> {
  step("engine and swarm");
  const info = await run(["docker", "info", "--format", "{{.ServerVersion}} {{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"], { timeoutMs: 30_000 });
  if (!check("docker engine answers", info.code === 0, info.code === 0 ? `docker ${info.out.trim()}` : tail(info.err, 3))) return;
  const [, state, control] = info.out.trim().split(" ");
  let manager = control;
  if (state === "inactive") {
    // `swarm init` also makes the bridge docker_gwbridge, which `swarm leave` keeps: removed at the end if new.
    madeGwBridge = (await run(["docker", "network", "inspect", "docker_gwbridge"])).code !== 0;
    const init = await run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"]);
    madeSwarm = init.code === 0;
    if (!check("docker swarm init --advertise-addr 127.0.0.1", madeSwarm, tail(init.err, 3))) return;
    manager = "true";
  }
  if (!check("this engine is a swarm manager", manager === "true", madeSwarm ? "made by this test" : `swarm state ${state}`)) return;
  // The central's placement: the node labelled for its volume. Label this one when none is.
  const nodes = await run(["docker", "node", "ls", "-q", "--filter", `node.label=${STORAGE_LABEL}=true`]);
  if (nodes.out.trim() === "") {
    const self = (await run(["docker", "info", "--format", "{{.Swarm.NodeID}}"])).out.trim();
    const label = await run(["docker", "node", "update", "--label-add", `${STORAGE_LABEL}=true`, self]);
    if (!check(`label this node ${STORAGE_LABEL}=true`, label.code === 0, tail(label.err, 2))) return;
    labelledNode = self;
  }
  await removeStack(); // an earlier run's leftovers, if any

  step("images");
  if (!(await buildImages())) return;

  tmp = mkdtempSync(join(tmpdir(), "lottery-swarm-"));
  const phases: Record<string, () => Promise<void>> = {
    course: () => plainRun(tmp, "5 agencies on the course-sized data", 5),
    many: () => plainRun(tmp, "20 agencies on small generated files", 20, 400),
    faults: () => faults(tmp),
    tls: () => tlsRun(tmp),
  };
  // `bun run test:swarm tls faults` runs only those (CI runs them all).
  const chosen = Bun.argv.slice(2);
  const unknown = chosen.filter((name) => !(name in phases));
  if (unknown.length > 0) {
    check("known phases", false, `unknown: ${unknown.join(", ")}; known: ${Object.keys(phases).join(", ")}`);
    return;
  }
  for (const [name, phase] of Object.entries(phases)) if (chosen.length === 0 || chosen.includes(name)) await phase();
}

/** Removes the stack, the node label and the swarm this test made; once, also on Ctrl-C or SIGTERM. */
let cleaned: Promise<void> | undefined;
/** Set on Ctrl-C or SIGTERM: the phases' waits end, so that only the cleanup runs on. */
let interrupted = false;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    step("cleanup");
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    const left = await removeStack();
    if (left) check("nothing of the stack left at the end", false, left);
    if (labelledNode) await run(["docker", "node", "update", "--label-rm", STORAGE_LABEL, labelledNode]);
    if (madeSwarm) {
      const leave = await run(["docker", "swarm", "leave", "--force"]);
      const bridge = madeGwBridge ? await run(["docker", "network", "rm", "docker_gwbridge"]) : leave;
      check("docker swarm leave --force, and its docker_gwbridge removed (this test made the swarm)", leave.code === 0 && bridge.code === 0, tail(leave.err + bridge.err, 2));
    }
  })();
  return cleaned;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    interrupted = true;
    check(`interrupted by ${signal}`, false);
    void cleanup().then(finish);
  });
}

try {
  await main();
} catch (err) {
  check("swarm script ran without an internal error", false, String((err as Error)?.stack ?? err));
} finally {
  await cleanup();
}
finish();
