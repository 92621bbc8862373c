import type { Subprocess } from "bun";
import { certificatePaths } from "../deployment/certs.ts";
import { AGENCY_ENV, CENTRAL_ENV, RUNTIME_ENV } from "../deployment/runtime-env.ts";
import { tlsEnv } from "../tls.ts";

/** Calls `onLine` for each line of a process's output stream, as it comes. */
export async function forEachLine(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) onLine(line);
  }
  rest += decoder.decode();
  if (rest) onLine(rest);
}

export interface RunningProcess {
  name: string;
  process: Subprocess<"ignore", "pipe" | "ignore", "pipe">;
  /** Every line the process printed so far, stdout and stderr interleaved as read (stderr alone with a log file). */
  lines: string[];
  /** Called with each new line. */
  listeners: Set<(line: string) => void>;
  /** Resolves once the process has exited and its output has been read. */
  done: Promise<number>;
}

/**
 * Starts a `bun` process whose output lines are kept and passed to `onLine`. With `logFile`, its stdout goes
 * to that file instead, unread here, as a container's goes to its log (a benchmark's agencies print a line per
 * bet, which reading would cost the machine measured).
 */
export function startBun(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
  onLine: (name: string, line: string) => void = () => {},
  cwd?: string,
  { logFile }: { logFile?: string } = {},
): RunningProcess {
  const process = Bun.spawn([globalThis.process.execPath, ...args], {
    env: { ...RUNTIME_ENV, ...env },
    cwd,
    stdin: "ignore",
    stdout: logFile ? Bun.file(logFile) : "pipe",
    stderr: "pipe",
  }) as Subprocess<"ignore", "pipe" | "ignore", "pipe">;
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const collect = (line: string) => {
    lines.push(line);
    onLine(name, line);
    for (const listener of listeners) listener(line);
  };
  const streams = [process.stdout, process.stderr].filter((stream) => stream instanceof ReadableStream);
  const done = Promise.all(streams.map((stream) => forEachLine(stream, collect))).then(() => process.exited);
  return { name, process, lines, listeners, done };
}

/** Resolves with the first line matching `pattern`, or rejects if the process exits first. */
export function waitForLine(running: RunningProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  const seen = running.lines.map((line) => line.match(pattern)).find(Boolean);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const listener = (line: string) => {
      const match = line.match(pattern);
      if (!match) return;
      running.listeners.delete(listener);
      resolve(match);
    };
    running.listeners.add(listener);
    running.done.then((code) => {
      if (!running.listeners.delete(listener)) return;
      reject(new Error(`${running.name} exited with ${code} before printing ${pattern}:\n${running.lines.join("\n")}`));
    });
  });
}

/**
 * The central's TLS settings for the certificates in `dir` (as `bun run gen-certs` writes them):
 * it speaks only mutual TLS and trusts agencies that the same CA signed.
 */
export function centralTlsEnv(dir: string): Record<string, string> {
  return tlsEnv("SERVER", certificatePaths(dir, "server"));
}

/** Agency `id`'s TLS settings for the certificates in `dir`: its own certificate, and the CA to check the central by. */
export function agencyTlsEnv(dir: string, id: number): Record<string, string> {
  return tlsEnv("CLI", certificatePaths(dir, id));
}

/** The repository's root: the entry points and the default configuration live there. */
export const ROOT = new URL("../../", import.meta.url).pathname;

export interface Central extends RunningProcess {
  port: number;
  storage: string;
}

/**
 * Starts `bun run central.ts` (or `script`, such as its bundle) on a free port with its storage at
 * `storage`; resolves once it listens.
 */
export async function startCentral(
  storage: string,
  env: Record<string, string | undefined> = {},
  onLine?: (name: string, line: string) => void,
  script = "central.ts",
): Promise<Central> {
  const running = startBun(
    "server",
    ["run", script],
    // On this machine only, whatever server/config.ini says (the course writes SERVER_IP = server there).
    { ...CENTRAL_ENV, ...process.env, SERVER_IP: "127.0.0.1", SERVER_PORT: "0", SERVER_HTTP_PORT: "0", STORAGE_FILEPATH: storage, ...env },
    onLine,
    ROOT,
  );
  const match = await waitForLine(running, /action: listen \| result: success \| port: (\d+)/);
  // A central that ignored its TLS settings would make a TLS run a plain one under a TLS heading.
  if (env.SERVER_TLS_CERT && !saidTlsOn(running)) {
    const configLine = running.lines.find((line) => line.includes("action: config |"));
    running.process.kill("SIGTERM");
    await running.done;
    throw new Error(`the central did not turn TLS on (its config line: ${configLine ?? "none"})`);
  }
  return Object.assign(running, { port: Number(match[1]), storage });
}

/** The port of a central's HTTP side (lib/operations/), once it listens; rejects if the central exits first. */
export async function httpPort(central: RunningProcess): Promise<number> {
  return Number((await waitForLine(central, /action: http_listen \| result: success \| port: (\d+)/))[1]);
}

/** Whether a central said `tls: on` on its config line. */
function saidTlsOn(central: RunningProcess): boolean {
  return central.lines.some((line) => line.includes("action: config |") && line.endsWith("| tls: on"));
}

/**
 * Starts `bun run agency.ts` (or `script`, such as its bundle) as agency `id` of a central on this machine;
 * with `logFile`, its stdout goes there (see startBun).
 */
export function startAgency(
  id: number,
  port: number,
  dataFile: string,
  env: Record<string, string | undefined> = {},
  onLine?: (name: string, line: string) => void,
  script = "agency.ts",
  logFile?: string,
): RunningProcess {
  return startBun(
    `client${id}`,
    ["run", script],
    { ...AGENCY_ENV, ...process.env, CLI_ID: String(id), CLI_SERVER_ADDRESS: `127.0.0.1:${port}`, CLI_DATA_FILE: dataFile, ...env },
    onLine,
    ROOT,
    { logFile },
  );
}

/**
 * Waits for every agency; when one fails outright (it will never send END, so the others would wait
 * for the draw forever) the others are stopped with SIGTERM. Exit status 3 (invalid rows skipped)
 * still ends with END and counts as having finished. Resolves with the exit codes.
 */
export function awaitAgencies(agencies: readonly RunningProcess[]): Promise<number[]> {
  return Promise.all(
    agencies.map(async (agency) => {
      const code = await agency.done;
      if (code !== 0 && code !== 3) for (const other of agencies) other.process.kill("SIGTERM");
      return code;
    }),
  );
}
