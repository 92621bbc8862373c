/**
 * What the engine tests share (test/docker/e2e.ts, test/course/run.ts and test/swarm/run.ts): counted checks
 * and the closing `N passed, N failed` line, commands with time bounds, container logs and states, the images,
 * the project folders they run in (config, data and certificates next to the generated file), and the oracles
 * read from the data files and from the central's bets file (in its container, or on a volume).
 */
import { chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { IMAGE_BUILDS, SERVER_IMAGE, STORAGE_FILEPATH } from "../../lib/deployment/compose.ts";
import { generateDataset } from "../../lib/tooling/generate-data.ts";
import { forEachLine } from "../../lib/tooling/processes.ts";
import { RUNTIME_UID } from "../../lib/deployment/stack-file.ts";

export const ROOT = join(import.meta.dir, "..", "..");
// Restated, not imported: the oracle does not take the rule it checks from the code under test.
const WINNING_NUMBER = 7574;

// ---------------------------------------------------------------------------------------------------------------
// Checks and output

let passed = 0;
let failed = 0;
const failures: string[] = [];

export function check(name: string, ok: boolean, detail = ""): boolean {
  if (ok) {
    passed++;
    console.log(`  PASS  ${name}${detail ? `  (${detail})` : ""}`);
  } else {
    failed++;
    failures.push(name);
    console.log(`  FAIL  ${name}${detail ? `  -- ${detail}` : ""}`);
  }
  return ok;
}

export function step(title: string): void {
  console.log(`\n== ${title}`);
}

/** Prints the verdict and `N passed, N failed`, and exits non-zero on any failure (or no check at all). */
export function finish(): never {
  console.log(`\n${failed === 0 ? "PASS" : `FAIL (${failures.join("; ")})`}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Processes and containers

export type Result = { code: number; out: string; err: string };

/** Runs a command with a time bound (killed past it, noted in err); never throws (no binary: exit code 127). */
export async function run(
  cmd: string[],
  { timeoutMs = 60_000, env, cwd = ROOT }: { timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {},
): Promise<Result> {
  let proc;
  try {
    proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  } catch (err) {
    return { code: 127, out: "", err: (err as Error).message };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, out, err: timedOut ? `${err}\n(killed after ${timeoutMs / 1000} s)` : err };
}

export function tail(text: string, lines = 12): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** stdout and stderr of a container (docker logs keeps both streams; the roles log to stdout). */
export async function logs(container: string): Promise<string> {
  const res = await run(["docker", "logs", container], { timeoutMs: 60_000 });
  return res.out + res.err;
}

/** Follows a container's log (`docker logs -f`) until a line matches; false if it never does in time. */
export async function followUntil(container: string, pattern: RegExp, timeoutMs: number): Promise<boolean> {
  return (await followMatches(container, pattern, 1, timeoutMs)) !== undefined;
}

/**
 * Follows a container's log from its start (`docker logs -f`) until `count` lines have matched; their
 * matches, or undefined if there are not that many in time.
 */
export async function followMatches(container: string, pattern: RegExp, count: number, timeoutMs: number): Promise<RegExpMatchArray[] | undefined> {
  const follower = Bun.spawn(["docker", "logs", "-f", container], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => follower.kill(), timeoutMs);
  const matches: RegExpMatchArray[] = [];
  const found = Promise.withResolvers<RegExpMatchArray[] | undefined>();
  const onLine = (line: string) => {
    const match = line.match(pattern);
    if (match && matches.push(match) === count) found.resolve(matches);
  };
  void Promise.all([forEachLine(follower.stdout, onLine), forEachLine(follower.stderr, onLine)]).then(() => found.resolve(undefined));
  const matched = await found.promise;
  clearTimeout(timer);
  follower.kill();
  return matched;
}

/**
 * Builds both images from `dir` (the repo by default) with the course's commands (never --pull: the base
 * image is local); checks each and says whether both were built.
 */
export async function buildImages(dir = ROOT): Promise<boolean> {
  let built = true;
  for (const build of IMAGE_BUILDS) {
    const res = await run([...build], { timeoutMs: 600_000, cwd: dir });
    built = check(build.join(" "), res.code === 0, res.code === 0 ? "" : tail(res.out + res.err)) && built;
  }
  return built;
}

// ---------------------------------------------------------------------------------------------------------------
// Project folders: what a generated compose or stack file names, relative to itself

export type Expected = { bets: number; winners: number };

/** The course's config files, where the generated files mount them from. */
export const CONFIG_FILES = ["server/config.ini", "client/config.yaml"];

/**
 * Lays out `dir` like the repo for a generated file written into it: the config files (copies of the repo's)
 * and .data/agency-1..N.csv, copies of the repo's course-sized files or, with `bets`, generated files of that size.
 */
export async function makeProject(dir: string, agencies: number, { bets }: { bets?: number } = {}): Promise<void> {
  for (const file of CONFIG_FILES) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  const data = join(dir, ".data");
  if (bets === undefined) {
    mkdirSync(data, { recursive: true });
    for (let id = 1; id <= agencies; id++) cpSync(join(ROOT, ".data", `agency-${id}.csv`), join(data, `agency-${id}.csv`));
  } else {
    await generateDataset(data, new Array(agencies).fill(bets));
  }
}

/**
 * `bun run gen-certs` into dir/.certs for N agencies. The keys are 0600 and a bind mount keeps their owner, so
 * they are given to the containers' user (uid 1000) as a user running compose as that uid would have them.
 */
export async function makeCerts(dir: string, agencies: number, { forContainers }: { forContainers: boolean }): Promise<Result> {
  const certs = join(dir, ".certs");
  const res = await run(["bun", "run", "gen-certs", "--out", certs, "--agencies", String(agencies)]);
  if (res.code === 0 && forContainers) {
    for (const name of readdirSync(certs)) chownSync(join(certs, name), Number(RUNTIME_UID), Number(RUNTIME_UID));
  }
  return res;
}

/** RFC 4180 rows (quoted fields with commas, quotes, line breaks), UTF-8 BOM, CRLF or LF; blank lines skipped. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') (field += '"'), i++;
      else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field), rows.push(row), (row = []), (field = "");
    } else field += c;
  }
  if (field !== "" || row.length > 0) row.push(field), rows.push(row);
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** Bets and winners of each agency's file in `dataDir`: a winner is a row whose 5th column (number) is 7574. */
export function expectedFromData(dataDir: string, agencies: number): Map<number, Expected> | string {
  const expected = new Map<number, Expected>();
  for (let id = 1; id <= agencies; id++) {
    const path = join(dataDir, `agency-${id}.csv`);
    if (!existsSync(path)) return `${path} is missing (bun run gen-data)`;
    const rows = parseCsv(readFileSync(path, "utf8"));
    const winners = rows.filter((r) => Number(r[4]?.trim()) === WINNING_NUMBER).length;
    expected.set(id, { bets: rows.length, winners });
  }
  return expected;
}

export function describeExpected(expected: Map<number, Expected>): string {
  const all = [...expected.values()];
  return `${expected.size} files, ${all.reduce((s, e) => s + e.bets, 0)} bets, ${all.reduce((s, e) => s + e.winners, 0)} winners`;
}

/** Rows of the central's bets file on a volume (agency,first_name,last_name,document,birthdate,number). */
export async function storedRows(volume: string): Promise<string[][] | string> {
  const res = await run(["docker", "run", "--rm", "-v", `${volume}:/storage:ro`, SERVER_IMAGE, "cat", STORAGE_FILEPATH], { timeoutMs: 120_000 });
  if (res.code !== 0) return `cannot read ${STORAGE_FILEPATH} from ${volume}: ${res.err.trim()}`;
  return parseCsv(res.out);
}

/** Rows of the central's bets file in its container's own file system, running or stopped ("" when it has none yet). */
export async function storedRowsIn(container: string): Promise<string[][] | string> {
  const res = await run(["sh", "-c", `docker cp ${container}:${STORAGE_FILEPATH} - | tar -xO`], { timeoutMs: 120_000 });
  if (res.code !== 0) return `cannot read ${STORAGE_FILEPATH} in ${container}: ${res.err.trim()}`;
  return parseCsv(res.out);
}

/** Checks that the stored rows are each file's bets exactly once, whole; returns the row count (or undefined). */
export function checkStoredRows(rows: string[][] | string, expected: Map<number, Expected>): number | undefined {
  if (typeof rows === "string") {
    check("stored rows readable", false, rows);
    return undefined;
  }
  const totalBets = [...expected.values()].reduce((sum, e) => sum + e.bets, 0);
  check(`stored rows equal the bets of the ${expected.size} files`, rows.length === totalBets, `${rows.length} stored, ${totalBets} in the files`);
  const perAgency = new Map<string, number>();
  for (const row of rows) perAgency.set(row[0]!, (perAgency.get(row[0]!) ?? 0) + 1);
  const wrong = [...expected]
    .filter(([id, e]) => perAgency.get(String(id)) !== e.bets)
    .map(([id, e]) => `agency ${id}: ${perAgency.get(String(id)) ?? 0}/${e.bets}`);
  check("stored rows per agency equal each file (none lost, none twice)", wrong.length === 0, wrong.slice(0, 5).join("; "));
  check("every stored row is whole (6 fields)", rows.every((r) => r.length === 6));
  return rows.length;
}

/** The winners count an agency reported (`consulta_ganadores | result: success | cant_ganadores: N`), each time. */
export function reportedWinners(agencyLogs: string): number[] {
  return [...agencyLogs.matchAll(/action: consulta_ganadores \| result: success \| cant_ganadores: (\d+)/g)].map((m) => Number(m[1]));
}

/** Bets the central acknowledged: the sum of `apuesta_recibida | result: success | cantidad: N` in its logs. */
export function acknowledged(serverLogs: string): number {
  let total = 0;
  for (const m of serverLogs.matchAll(/action: apuesta_recibida \| result: success \| cantidad: (\d+)/g)) total += Number(m[1]);
  return total;
}

export const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, "g"))?.length ?? 0;

export const DRAW = /action: sorteo \| result: success/;
