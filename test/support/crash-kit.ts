// Helpers for the crash-safety and fuzz tests: seeded randomness that a failure can be replayed from,
// log-line counting, and the checks on the storage file (every valid bet of every agency file exactly
// once, in order).
import { readFileSync } from "node:fs";
import { mulberry32 } from "../../lib/util/random.ts";
import { actionLines, readCsv, type RunningProcess } from "./system.ts";

/** Seeded randomness for tests, so that a failure can be replayed from its seed. */
export class Random {
  readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/** How to run one randomized test again with the same seed. */
function replayCommand(test: string, file: string, env: string, seed: number): string {
  return `${env}=${seed} bun test ${file} -t '${test}'`;
}

/**
 * The seed of a randomized test: from the environment variable `env` when set (to replay a run), a
 * fresh one otherwise. It is printed at once, so that even a run that hangs says how to reproduce it.
 */
export function testSeed(test: string, file: string, env = "TEST_SEED"): Random {
  const fromEnv = process.env[env];
  if (fromEnv !== undefined && fromEnv !== "" && !/^\d+$/.test(fromEnv)) throw new Error(`${env} must be a seed (digits), got ${JSON.stringify(fromEnv)}`);
  const seed = fromEnv ? Number(fromEnv) >>> 0 : Math.floor(Math.random() * 2 ** 32);
  console.log(`[${test}] seed ${seed}${fromEnv ? ` (from ${env})` : ""}; replay with: ${replayCommand(test, file, env, seed)}`);
  return new Random(seed);
}

/**
 * Runs a randomized test's body with its seeded randomness (see testSeed). If the body fails, the
 * failure itself names the seed and the command that replays it: what the run covered is not lost.
 */
export async function seeded(test: string, file: string, env: string, body: (random: Random) => Promise<void>): Promise<void> {
  const random = testSeed(test, file, env);
  try {
    await body(random);
  } catch (error) {
    const replay = `seed ${random.seed}; replay with: ${replayCommand(test, file, env, random.seed)}`;
    console.error(`[${test}] failed with ${replay}`);
    if (error instanceof Error) error.message = `${error.message}\n(${replay})`;
    throw error;
  }
}

/** Sends `signal` and resolves with the exit code once the process is gone. */
export async function kill(running: RunningProcess, signal: "SIGKILL" | "SIGTERM"): Promise<number> {
  running.process.kill(signal);
  return running.done;
}

/**
 * Resolves once `count` more lines matching `pattern` have been printed (counting from now on);
 * rejects if the process exits first.
 */
export function afterLines(running: RunningProcess, pattern: RegExp, count: number): Promise<void> {
  if (count <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let seen = 0;
    const listener = (line: string) => {
      if (!pattern.test(line) || ++seen < count) return;
      running.listeners.delete(listener);
      resolve();
    };
    running.listeners.add(listener);
    void running.done.then((code) => {
      if (!running.listeners.delete(listener)) return;
      reject(new Error(`${running.name} exited with ${code} after ${seen} of ${count} lines matching ${pattern}`));
    });
  });
}

/** A stored batch: the central logs this once the batch is durable, just before its OK. */
export const STORED_BATCH = /action: apuesta_recibida \| result: success \|/;

/** The `cant_ganadores` an agency reported, or undefined when it never did. */
export function reportedWinners(agency: RunningProcess): number | undefined {
  const line = actionLines(agency, "consulta_ganadores").find((text) => text.includes("result: success"));
  const match = line && /\| cant_ganadores: (\d+)$/.exec(line);
  return match ? Number(match[1]) : undefined;
}

/** The value of `key` in the first line of `action` a process printed. */
export function logValue(running: RunningProcess, action: string, key: string): string | undefined {
  for (const line of actionLines(running, action)) {
    const match = new RegExp(`\\| ${key}: ([^|]*?)(?: \\||$)`).exec(line);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * Compares the storage with the agency files (files[i] belongs to agency i + 1): each agency's stored
 * rows must be the rows of its file, each once and in file order, and no other agency may appear.
 * Returns a description of every difference (empty when all is well), short enough to read in a failure.
 */
export function exactlyOnceProblems(storage: string, files: readonly string[]): string[] {
  const byAgency = new Map<string, string[][]>();
  for (const row of readCsv(storage)) {
    const list = byAgency.get(row[0]!);
    if (list) list.push(row.slice(1));
    else byAgency.set(row[0]!, [row.slice(1)]);
  }
  const problems: string[] = [];
  files.forEach((file, index) => {
    const agency = String(index + 1);
    // The central stores the number as an integer: "0042" in a file is 42 in the storage.
    const expected = readCsv(file).map((fields) => [...fields.slice(0, 4), String(Number(fields[4]))]);
    const stored = byAgency.get(agency) ?? [];
    byAgency.delete(agency);
    if (stored.length !== expected.length) {
      problems.push(`agency ${agency}: ${stored.length} rows stored, its file has ${expected.length}`);
    }
    const first = expected.findIndex((fields, i) => stored[i]?.join("\u0000") !== fields.join("\u0000"));
    if (first >= 0) {
      problems.push(
        `agency ${agency}: row ${first + 1} differs: stored ${JSON.stringify(stored[first])}, file ${JSON.stringify(expected[first])}`,
      );
    }
  });
  for (const [agency, rows] of byAgency) problems.push(`agency ${agency}: ${rows.length} rows stored that no file holds`);
  return problems;
}

/** The resident memory of a process in MiB, from /proc (Linux). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  // A process that has exited but not been reaped yet has no memory left to report.
  if (!match) throw new Error(`process ${pid} is not running`);
  return Number(match[1]) / 1024;
}

/**
 * Undefined while the process runs; once it has died, how: its exit code and the lines it printed
 * that are not log lines (a stack trace, say). Reads /proc, since the exit is noticed asynchronously.
 */
export async function deathOf(running: RunningProcess): Promise<string | undefined> {
  let state = "";
  try {
    state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${running.process.pid}/status`, "utf8"))?.[1] ?? "";
  } catch {
    // No /proc entry: reaped already.
  }
  if (state !== "" && state !== "Z" && state !== "X") return undefined;
  const code = await running.done;
  const output = running.lines.filter((line) => !/^\d{4}-\d\d-\d\dT/.test(line)).slice(0, 20);
  return `${running.name} died with exit code ${code}:\n${output.join("\n")}`;
}
