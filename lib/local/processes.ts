import type { Subprocess } from "bun";

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
  process: Subprocess<"ignore", "pipe", "pipe">;
  /** Every line the process printed so far, stdout and stderr interleaved as read. */
  lines: string[];
  /** Called with each new line. */
  listeners: Set<(line: string) => void>;
  /** Resolves once the process has exited and its output has been read. */
  done: Promise<number>;
}

/**
 * JavaScriptCore settings for every process started here (the Dockerfile and the package scripts set
 * the same), for few cores shared by many processes (README, Performance). FTL, the last of its JIT
 * tiers, costs more CPU to compile with than it saves in a short-lived process: without it the
 * course's size runs about 30% faster. Compiling on the thread that runs the code, rather than on a
 * helper thread that competes with it for the same cores, takes 8-10% off the agencies' CPU. Both
 * measured on 2 cores. Environment variables, as Bun reads JSC options only from there.
 */
const RUNTIME_ENV = { BUN_JSC_useFTLJIT: "0", BUN_JSC_useConcurrentJIT: "0" };

/**
 * The central is the one long-lived process: its hot loops (checks, row formatting) run for millions of
 * bets, where FTL's compiling pays for itself (README, Performance: CPU per million bets). It compiles on
 * a helper thread: the central's one thread is what every agency waits on, and compiling there held all
 * of them up (1M bets end to end, 7 pairs back to back: 1.044 s to 0.951 s, the median). Its heap grows
 * by at most a tenth between full collections instead of doubling: with 10,000 connections a burst of
 * requests (their ENDs, their winners queries) otherwise left up to 30 MB of garbage on top of ~85 MB
 * alive (peak 133-140 MB against 98-113, no CPU per bet lost at 5 connections).
 */
const CENTRAL_ENV = { BUN_JSC_useFTLJIT: "1", BUN_JSC_useConcurrentJIT: "1", BUN_JSC_heapGrowthMaxIncrease: "1.1" };

/**
 * Agencies live for one run: their allocator (mimalloc) keeps the memory they free instead of handing
 * it back to the system at once and faulting it in again. 100 agencies × 10,000 bets, back to back
 * when it was added: 11.2 s down to 8.7 s (README, Performance). The central, which runs for long,
 * returns its memory as usual.
 */
export const AGENCY_ENV = { MIMALLOC_PURGE_DELAY: "-1" };

/** Starts a `bun` process whose output lines are kept and passed to `onLine`. */
export function startBun(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
  onLine: (name: string, line: string) => void = () => {},
  cwd?: string,
): RunningProcess {
  const process = Bun.spawn([globalThis.process.execPath, ...args], {
    env: { ...RUNTIME_ENV, ...env },
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const collect = (line: string) => {
    lines.push(line);
    onLine(name, line);
    for (const listener of listeners) listener(line);
  };
  const done = Promise.all([forEachLine(process.stdout, collect), forEachLine(process.stderr, collect)]).then(
    () => process.exited,
  );
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
  return { SERVER_TLS_CERT: `${dir}/server.crt`, SERVER_TLS_KEY: `${dir}/server.key`, SERVER_TLS_CA: `${dir}/ca.crt` };
}

/** Agency `id`'s TLS settings for the certificates in `dir`: its own certificate, and the CA to check the central by. */
export function agencyTlsEnv(dir: string, id: number): Record<string, string> {
  return { CLI_TLS_CERT: `${dir}/agency-${id}.crt`, CLI_TLS_KEY: `${dir}/agency-${id}.key`, CLI_TLS_CA: `${dir}/ca.crt` };
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
    { ...CENTRAL_ENV, ...process.env, SERVER_PORT: "0", SERVER_HTTP_PORT: "0", STORAGE_FILEPATH: storage, ...env },
    onLine,
    ROOT,
  );
  const match = await waitForLine(running, /action: listen \| result: success \| port: (\d+)/);
  return Object.assign(running, { port: Number(match[1]), storage });
}

/** The port of a central's HTTP side (lib/http/), once it listens; rejects if the central exits first. */
export async function httpPort(central: RunningProcess): Promise<number> {
  return Number((await waitForLine(central, /action: http_listen \| result: success \| port: (\d+)/))[1]);
}

/** Whether a central said `tls: on` on its config line: a run over TLS checks it did not ignore its settings. */
export function saidTlsOn(central: RunningProcess): boolean {
  return central.lines.some((line) => line.includes("action: config |") && line.endsWith("| tls: on"));
}

/** Starts `bun run agency.ts` (or `script`, such as its bundle) as agency `id` of a central on this machine. */
export function startAgency(
  id: number,
  port: number,
  dataFile: string,
  env: Record<string, string | undefined> = {},
  onLine?: (name: string, line: string) => void,
  script = "agency.ts",
): RunningProcess {
  return startBun(
    `client${id}`,
    ["run", script],
    { ...AGENCY_ENV, ...process.env, CLI_ID: String(id), CLI_SERVER_ADDRESS: `127.0.0.1:${port}`, CLI_DATA_FILE: dataFile, ...env },
    onLine,
    ROOT,
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
