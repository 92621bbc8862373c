// `bun run bench --central`: the central's capacity alone. For each number of connections C, the
// central runs as in production (its bundle, the package script's settings, storage.sync always) with
// LOTTERY_AGENCIES=C, and one load generator (central-load.ts) acts for all C agencies: flat out, then
// open loop at half that rate, then END and the winners on every connection. Every bet must be stored
// exactly once: the OKs, END's counts and the stored file's rows per agency must agree. The floor
// (central-floor.ts) takes the same frames from the same generator in the same run.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildBundle, type Bundle } from "../bundle.ts";
import { centralTlsEnv, httpPort, ROOT, startBun, startCentral, waitForLine, type RunningProcess } from "../processes.ts";
import { generateCertificates } from "../../deployment/certs.ts";
import { fieldText, type CsvRecord } from "../../storage/csv-record.ts";
import { CsvParser } from "../../storage/csv-reader.ts";
import type { LoadConfig, LoadResult, PhaseResult } from "./central-load.ts";
import { BENCH_DIR, median, usage, type Usage } from "./measure.ts";

interface Size {
  connections: number;
  /** Bets measured flat out; the open loop sends half as many (at half the rate: as long a run). */
  bets: number;
  /** Bets acknowledged before the flat-out clock starts; by default see warmupFor. */
  warmup?: number;
}

const SIZES: Record<string, Size[]> = {
  smoke: [
    { connections: 5, bets: 3_000, warmup: 1_000 },
    { connections: 100, bets: 6_000, warmup: 2_000 },
  ],
  "5": [{ connections: 5, bets: 5_000_000 }],
  "100": [{ connections: 100, bets: 5_000_000 }],
  "1000": [{ connections: 1_000, bets: 5_000_000 }],
  "10000": [{ connections: 10_000, bets: 5_000_000 }],
};

/** An agency's window, as the agencies' default, while all the connections together keep at most this many frames in flight. */
const MAX_WINDOW = 32;
const MAX_FRAMES_IN_FLIGHT = 4096;
const windowFor = (connections: number) => Math.max(1, Math.min(MAX_WINDOW, Math.floor(MAX_FRAMES_IN_FLIGHT / connections)));
const BATCH_BETS = 128;
/**
 * A million bets, and at least two windows of every connection: the first windows all leave at once,
 * and the clock starts only once the acknowledgements come at the pace the central sets.
 */
const warmupFor = (connections: number) => Math.max(1_000_000, 2 * windowFor(connections) * connections * BATCH_BETS);
/** Descriptors a process needs beyond its connections (files, pipes, Bun's own). */
const SPARE_FILES = 256;

interface Sample {
  central: LoadResult;
  centralUsage: Usage;
  /** Group commits (a write and a sync each) over the whole run, from the central's /metrics. */
  centralGroups: number;
  floor: LoadResult;
  floorUsage: Usage;
}

export interface CapacityOptions {
  sizes: string[];
  runs: number;
  out: string;
  bets?: number;
  warmup?: number;
  /** Profile the central (`bun --cpu-prof`, and its markdown summary) into this directory. */
  profile?: string;
  /** Mutual TLS between the generator and the central (and the floor), with certificates made for the run. */
  tls: boolean;
}

/** The soft limit on open files this process (and so every process it starts) has. */
function openFilesLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
}

/** Runs the load generator against a listening server; resolves with its result. */
async function generate(config: LoadConfig): Promise<LoadResult> {
  const load = startBun("load", [join(ROOT, "lib/tooling/bench/central-load.ts"), JSON.stringify(config)], process.env, undefined, ROOT);
  const code = await load.done;
  const line = load.lines.find((l) => l.startsWith("result: "));
  if (code !== 0 || !line) throw new Error(`the load generator exited with ${code}:\n${load.lines.slice(-10).join("\n")}`);
  return JSON.parse(line.slice("result: ".length)) as LoadResult;
}

async function stop(server: RunningProcess): Promise<Usage> {
  server.process.kill("SIGTERM");
  const code = await server.done;
  if (code !== 0) throw new Error(`${server.name} exited with ${code}:\n${server.lines.slice(-10).join("\n")}`);
  return usage(server);
}

/** The central's group commits so far: the count of its group-commit histogram on /metrics. */
async function groupCommits(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = /^lottery_group_commit_seconds_count (\d+)$/m.exec(text);
  if (!match) throw new Error("the central's /metrics has no lottery_group_commit_seconds_count");
  return Number(match[1]);
}

/** Rows of the central's bets file per agency (index 0 is agency 1): each row starts with its agency. */
async function storedRows(path: string, agencies: number): Promise<number[]> {
  const counts = new Array<number>(agencies).fill(0);
  const parser = new CsvParser();
  const count = (record: CsvRecord) => {
    const agency = Number(fieldText(record, 0));
    if (record.error || !(agency >= 1 && agency <= agencies)) throw new Error(`${path}:${record.line}: not a row of agency 1 to ${agencies}`);
    counts[agency - 1]!++;
  };
  for await (const chunk of Bun.file(path).stream()) parser.push(chunk, count);
  if (parser.unterminated > 0) throw new Error(`${path} ends in the middle of a row`);
  return counts;
}

/** The certificates for C agencies, made once per benchmark run (openssl, a process per certificate). */
async function certificates(connections: number): Promise<string> {
  const dir = join(BENCH_DIR, "certs", String(connections));
  if (!existsSync(join(dir, `agency-${connections}.crt`))) {
    await generateCertificates({ out: dir, agencies: connections, hosts: [], force: true });
  }
  return dir;
}

function loadConfig(size: Required<Size>, port: number, serverPid: number, verify: boolean, certs: string | undefined, openRate?: number): LoadConfig {
  return {
    host: "127.0.0.1",
    port,
    connections: size.connections,
    window: windowFor(size.connections),
    batchBets: BATCH_BETS,
    warmupBets: size.warmup,
    closedBets: size.bets,
    openBets: Math.floor(size.bets / 2),
    openRate,
    serverPid,
    verify,
    tls: certs,
  };
}

async function runCentral(
  bundle: Bundle,
  size: Required<Size>,
  work: string,
  certs: string | undefined,
  profile: string | undefined,
): Promise<{ result: LoadResult; usage: Usage; groups: number }> {
  const storage = join(work, "bets.csv");
  const central = await startCentral(
    storage,
    {
      // Bun reads its own command-line options from here too.
      ...(profile && { BUN_OPTIONS: `--cpu-prof --cpu-prof-md --cpu-prof-dir=${profile} --cpu-prof-name=central-${size.connections}-${Date.now()}.cpuprofile` }),
      LOTTERY_AGENCIES: String(size.connections),
      STORAGE_SYNC: "always",
      // Limits raised for the run: every agency connects at once, and an agency may sit out a whole
      // phase when there are more connections than frames to send.
      SERVER_MAX_CONNECTIONS: String(size.connections + 64),
      SERVER_IDLE_TIMEOUT_SECONDS: "600",
      ...(certs && centralTlsEnv(certs)),
    },
    undefined,
    bundle.central,
  );
  let result: LoadResult;
  try {
    result = await generate(loadConfig(size, central.port, central.process.pid, true, certs));
  } catch (error) {
    central.process.kill("SIGKILL");
    await central.done;
    throw error;
  }
  const groups = await groupCommits(await httpPort(central));
  const centralUsage = await stop(central);
  const rows = await storedRows(storage, size.connections);
  const wrong = rows.findIndex((count, i) => count !== result.acknowledged[i]);
  if (wrong >= 0) throw new Error(`agency ${wrong + 1}: ${rows[wrong]} rows stored, ${result.acknowledged[wrong]} bets acknowledged`);
  return { result, usage: centralUsage, groups };
}

async function runFloor(size: Required<Size>, openRate: number, work: string, certs: string | undefined): Promise<{ result: LoadResult; usage: Usage }> {
  const args = [join(ROOT, "lib/tooling/bench/central-floor.ts"), join(work, "floor.bin"), ...(certs ? [certs] : [])];
  const floor = startBun("floor", args, process.env, undefined, ROOT);
  const port = Number((await waitForLine(floor, /port: (\d+)/))[1]);
  let result: LoadResult;
  try {
    result = await generate(loadConfig(size, port, floor.process.pid, false, certs, openRate));
  } catch (error) {
    floor.process.kill("SIGKILL");
    await floor.done;
    throw error;
  }
  return { result, usage: await stop(floor) };
}

const perMillion = (amount: number, bets: number) => (amount / bets) * 1e6;

function summarize(size: Required<Size>, tls: boolean, samples: Sample[]) {
  const m = (pick: (s: Sample) => number) => median(samples.map(pick));
  const latency = (phase: (s: Sample) => PhaseResult) => ({
    p50: m((s) => phase(s).latency.p50Ms),
    p99: m((s) => phase(s).latency.p99Ms),
    max: m((s) => phase(s).latency.maxMs),
  });
  return {
    connections: size.connections,
    transport: tls ? "TLS" : "TCP",
    window: windowFor(size.connections),
    measuredBets: size.bets,
    warmupBets: size.warmup,
    betsPerFrame: m((s) => s.central.betsPerFrame),
    centralBetsPerSecond: m((s) => s.central.closed.betsPerSecond),
    floorBetsPerSecond: m((s) => s.floor.closed.betsPerSecond),
    centralToFloor: m((s) => s.central.closed.betsPerSecond / s.floor.closed.betsPerSecond),
    // Over the measured flat-out phase only, read from /proc at its ends.
    centralCpuPerMillion: m((s) => perMillion(s.central.closed.serverCpuSeconds, s.central.closed.bets)),
    centralSystemShare: m((s) => (s.central.closed.serverCpuSeconds > 0 ? s.central.closed.serverSystemSeconds / s.central.closed.serverCpuSeconds : 0)),
    floorCpuPerMillion: m((s) => perMillion(s.floor.closed.serverCpuSeconds, s.floor.closed.bets)),
    generatorCpuPerMillion: m((s) => perMillion(s.central.closed.generatorCpuSeconds, s.central.closed.bets)),
    // The whole process, start-up, warm-up, open loop and draw included (its resource usage at exit).
    centralProcessCpuPerMillion: m((s) => perMillion(s.centralUsage.cpuSeconds, s.central.totalBets)),
    centralPeakRssMb: m((s) => s.central.serverPeakRssMb),
    // The whole run's bets over its group commits (ENDs' own groups included): how durability is paid.
    betsPerGroup: m((s) => s.central.totalBets / s.centralGroups),
    syncsPerMillion: m((s) => perMillion(s.centralGroups, s.central.totalBets)),
    floorPeakRssMb: m((s) => s.floor.serverPeakRssMb),
    generatorPeakRssMb: m((s) => s.central.generatorPeakRssMb),
    closedLatencyMs: latency((s) => s.central.closed),
    floorClosedLatencyMs: latency((s) => s.floor.closed),
    openRate: m((s) => s.central.open.offeredRate),
    openLatencyMs: latency((s) => s.central.open),
    floorOpenLatencyMs: latency((s) => s.floor.open),
    samples,
  };
}

const count = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (l: { p50: number; p99: number; max: number }) => `${l.p50.toFixed(1)} / ${l.p99.toFixed(1)} / ${l.max.toFixed(0)}`;

async function capacityBench(options: CapacityOptions): Promise<void> {
  for (const key of options.sizes) if (!SIZES[key]) throw new Error(`unknown size ${key}; known: ${Object.keys(SIZES).join(", ")}`);
  const sizes = options.sizes.flatMap((key) =>
    SIZES[key]!.map((size) => ({
      connections: size.connections,
      bets: options.bets ?? size.bets,
      warmup: options.warmup ?? size.warmup ?? warmupFor(size.connections),
    })),
  );
  const limit = openFilesLimit();
  const most = Math.max(...sizes.map((size) => size.connections));
  if (limit < most + SPARE_FILES) {
    throw new Error(`open files limit (ulimit -n) is ${limit}; ${most} connections need ${most + SPARE_FILES}: raise it first`);
  }

  const bundle = await buildBundle(join(BENCH_DIR, "build"));
  const work = join(BENCH_DIR, "run");
  const results = [];
  for (const size of sizes) {
    const samples: Sample[] = [];
    const certs = options.tls ? await certificates(size.connections) : undefined;
    for (let run = 0; run < options.runs; run++) {
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      const central = await runCentral(bundle, size, work, certs, options.profile);
      // The floor gets the open-loop rate the central got, so that their latencies are at the same load.
      const floor = await runFloor(size, central.result.open.offeredRate, work, certs);
      samples.push({ central: central.result, centralUsage: central.usage, centralGroups: central.groups, floor: floor.result, floorUsage: floor.usage });
      process.stderr.write(
        `C=${size.connections} run ${run + 1}/${options.runs}: central ${count(central.result.closed.betsPerSecond)} bets/s, ` +
          `floor ${count(floor.result.closed.betsPerSecond)} bets/s, open-loop p99 ${central.result.open.latency.p99Ms.toFixed(1)} ms\n`,
      );
    }
    results.push(summarize(size, options.tls, samples));
  }
  for (const dir of ["run", "build", "certs"]) rmSync(join(BENCH_DIR, dir), { recursive: true, force: true });

  console.log(
    `| connections | transport | window | measured bets | central bets/s | floor bets/s | central / floor | central CPU s per M bets (kernel share) | floor CPU s per M bets | central peak RSS (MB) | floor peak RSS (MB) | syncs per M bets (bets per group) |`,
  );
  console.log(`| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of results) {
    console.log(
      `| ${count(r.connections)} | ${r.transport} | ${r.window} | ${count(r.measuredBets)} | ${count(r.centralBetsPerSecond)} | ${count(r.floorBetsPerSecond)} | ` +
        `${r.centralToFloor.toFixed(2)} | ${r.centralCpuPerMillion.toFixed(2)} (${(100 * r.centralSystemShare).toFixed(0)}%) | ${r.floorCpuPerMillion.toFixed(2)} | ` +
        `${r.centralPeakRssMb.toFixed(0)} | ${r.floorPeakRssMb.toFixed(0)} | ${count(r.syncsPerMillion)} (${count(r.betsPerGroup)}) |`,
    );
  }
  console.log(
    `\n| connections | flat out: ack p50 / p99 / max (ms) | floor, flat out | open loop at (bets/s) | open loop: ack p50 / p99 / max (ms) | floor, same rate |`,
  );
  console.log(`| ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of results) {
    console.log(
      `| ${count(r.connections)} | ${ms(r.closedLatencyMs)} | ${ms(r.floorClosedLatencyMs)} | ${count(r.openRate)} | ${ms(r.openLatencyMs)} | ${ms(r.floorOpenLatencyMs)} |`,
    );
  }
  console.log(
    `\nmedians of ${options.runs} runs each; ${new Date().toISOString()}; ${navigator.hardwareConcurrency} cores; Bun ${Bun.version}; ` +
      `load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`,
  );
  mkdirSync(BENCH_DIR, { recursive: true });
  writeFileSync(
    options.out,
    JSON.stringify({ date: new Date().toISOString(), bun: Bun.version, cores: navigator.hardwareConcurrency, results }, null, 2),
  );
}

/** A count given on the command line, at least `least`. */
function countOption(name: string, text: string | undefined, least: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < least) throw new Error(`--${name} must be an integer of at least ${least}, got ${text}`);
  return value;
}

/** `bun run bench --central [--sizes 5,100,1000,10000|smoke] [--runs N] [--bets N] [--warmup N] [--tls] [--profile DIR] [--out FILE]` */
export async function capacityCli(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      central: { type: "boolean" },
      sizes: { type: "string", default: "5,100,1000,10000" },
      runs: { type: "string" },
      out: { type: "string", default: join(BENCH_DIR, "central.json") },
      bets: { type: "string" },
      warmup: { type: "string" },
      profile: { type: "string" },
      tls: { type: "boolean", default: false },
    },
  });
  await capacityBench({
    sizes: values.sizes!.split(","),
    runs: countOption("runs", values.runs, 1) ?? 3,
    out: values.out!,
    bets: countOption("bets", values.bets, 1),
    warmup: countOption("warmup", values.warmup, 0),
    profile: values.profile === undefined ? undefined : resolve(values.profile),
    tls: values.tls!,
  });
}
