// Real processes for end-to-end tests: a central on an ephemeral port and agencies pointed at it.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CsvRecord, recordFields } from "../../lib/storage/csv-record.ts";
import { CsvParser } from "../../lib/storage/csv-reader.ts";
import { generateDataset } from "../../lib/tooling/generate-data.ts";
import { RawClient } from "./raw-client.ts";
import {
  ROOT,
  startAgency,
  startCentral as startCentralProcess,
  waitForLine,
  type Central,
  type RunningProcess,
} from "../../lib/tooling/processes.ts";

export { startAgency, waitForLine, type Central, type RunningProcess };

/** A scratch directory removed by `cleanup()`. */
export function scratchDir(prefix = "lottery-test-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Generates a dataset with the repo's generator into `dir`; returns the file paths. */
export function makeDataset(dir: string, sizes: number[], seed = 1): Promise<string[]> {
  return generateDataset(dir, sizes, seed);
}

/** Starts a central for a test, expecting 5 agencies unless `env` says otherwise. */
export function startCentral(storage: string, env: Record<string, string> = {}): Promise<Central> {
  return startCentralProcess(storage, { LOTTERY_AGENCIES: "5", ...env });
}

/** Lines of a process that carry `action: NAME`. */
export function actionLines(running: RunningProcess, action: string): string[] {
  return running.lines.filter((line) => line.includes(`action: ${action} |`));
}

/** Resolves once the process has printed `count` lines matching `pattern`; rejects if it exits first. */
export async function waitForLines(running: RunningProcess, pattern: RegExp, count: number): Promise<void> {
  const seen = () => running.lines.filter((line) => pattern.test(line)).length;
  if (seen() >= count) return;
  const reached = Promise.withResolvers<void>();
  const listener = (line: string) => {
    if (pattern.test(line) && seen() >= count) reached.resolve();
  };
  running.listeners.add(listener);
  try {
    await Promise.race([
      reached.promise,
      running.done.then((code) => {
        throw new Error(`${running.name} exited with ${code} after ${seen()} of ${count} lines matching ${pattern}`);
      }),
    ]);
  } finally {
    running.listeners.delete(listener);
  }
}

/**
 * The first line a central printed about the connection from `peer`, once there is one: what it made of
 * that client, whichever way it went (at LOGGING_LEVEL=DEBUG it logs each connection it lets in too).
 */
export async function firstLineAbout(central: RunningProcess, peer: string): Promise<string> {
  return (await waitForLine(central, new RegExp(`.*\\| peer: ${peer.replaceAll(".", "\\.")}(?: \\||$).*`)))[0];
}

/** Number of winning bets (number 7574) in a generated agency file: rows are plain there. */
export async function expectedWinners(file: string): Promise<number> {
  const text = await Bun.file(file).text();
  return text.split("\r\n").filter((row) => row.endsWith(",7574")).length;
}

/** The records of a CSV file (storage or agency file), as the product's own parser reads them. */
/** Runs `bun gen-compose.ts ARGS` in `cwd`; its exit code and output. */
export function genCompose(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const proc = Bun.spawnSync(["bun", join(ROOT, "gen-compose.ts"), ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

export function readCsv(path: string): string[][] {
  const rows: string[][] = [];
  const parser = new CsvParser();
  const onRecord = (record: CsvRecord) => {
    if (record.error) throw new Error(`${path}:${record.line}: malformed CSV: ${record.error}`);
    rows.push(recordFields(record));
  };
  parser.push(readFileSync(path), onRecord);
  parser.finish(onRecord);
  return rows;
}

/**
 * Everything one test starts: processes are killed, clients closed and scratch directories removed by
 * `cleanup()`, whether the test passed or not.
 */
export class Scope {
  readonly processes: RunningProcess[] = [];
  private readonly clients: RawClient[] = [];
  private readonly dirs: (() => void)[] = [];
  private readonly deferred: (() => Promise<void> | void)[] = [];

  /** Runs `release` at cleanup, before anything else is released (an in-process central's shutdown, say). */
  defer(release: () => Promise<void> | void): void {
    this.deferred.push(release);
  }

  dir(prefix = "lottery-test-"): string {
    const dir = scratchDir(prefix);
    this.dirs.push(dir.cleanup);
    return dir.path;
  }

  async central(storage: string, env: Record<string, string> = {}): Promise<Central> {
    // startCentral rejects only once its process has exited: nothing is left to reap then.
    const central = await startCentral(storage, env);
    this.processes.push(central);
    return central;
  }

  agency(id: number, port: number, file: string, env: Record<string, string> = {}): RunningProcess {
    const agency = startAgency(id, port, file, env);
    this.processes.push(agency);
    return agency;
  }

  /** A bare protocol client to a central, closed at cleanup. */
  async client(port: number): Promise<RawClient> {
    const client = await RawClient.connect(port);
    this.clients.push(client);
    return client;
  }

  async cleanup(): Promise<void> {
    for (const release of this.deferred.splice(0).reverse()) await release();
    for (const client of this.clients.splice(0)) if (client.isOpen) client.close();
    for (const running of this.processes) {
      if (running.process.exitCode === null && running.process.signalCode === null) running.process.kill("SIGKILL");
    }
    await Promise.all(this.processes.map((running) => running.done.catch(() => undefined)));
    for (const remove of this.dirs.splice(0)) remove();
    this.processes.length = 0;
  }
}
