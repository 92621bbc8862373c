// Real processes for end-to-end tests: a central on an ephemeral port and agencies pointed at it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataset } from "../../lib/data/generate.ts";
import { startBun, waitForLine, type RunningProcess } from "../../lib/local/processes.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export { waitForLine, type RunningProcess };

/** A scratch directory removed by `cleanup()`. */
export function scratchDir(prefix = "lottery-test-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Generates a dataset with the repo's generator into `dir`; returns the file paths. */
export function makeDataset(dir: string, sizes: number[], seed = 1): Promise<string[]> {
  return generateDataset(dir, sizes, seed);
}

export interface Central extends RunningProcess {
  port: number;
  storage: string;
}

/** Starts a central with its storage at `storage`; resolves once it listens. */
export async function startCentral(storage: string, env: Record<string, string> = {}): Promise<Central> {
  const running = startBun("server", ["run", "central.ts"], {
    ...process.env,
    SERVER_PORT: "0",
    LOTTERY_AGENCIES: "5",
    STORAGE_FILEPATH: storage,
    ...env,
  }, undefined, ROOT);
  const match = await waitForLine(running, /action: listen \| result: success \| port: (\d+)/);
  return Object.assign(running, { port: Number(match[1]), storage });
}

/** Starts an agency against a central port. */
export function startAgency(id: number, port: number, dataFile: string, env: Record<string, string> = {}): RunningProcess {
  return startBun(`client${id}`, ["run", "agency.ts"], {
    ...process.env,
    CLI_ID: String(id),
    CLI_SERVER_ADDRESS: `127.0.0.1:${port}`,
    CLI_DATA_FILE: dataFile,
    ...env,
  }, undefined, ROOT);
}

/** Lines of a process that carry `action: NAME`. */
export function actionLines(running: RunningProcess, action: string): string[] {
  return running.lines.filter((line) => line.includes(`action: ${action} |`));
}

/** Number of winning bets (number 7574) in a generated agency file: rows are plain there. */
export async function expectedWinners(file: string): Promise<number> {
  const text = await Bun.file(file).text();
  return text.split("\r\n").filter((row) => row.endsWith(",7574")).length;
}
