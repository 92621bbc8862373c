// `bun run bench`: the whole system as real processes on loopback, per dataset size, against the raw floor.
// `bun run bench --central`: the central alone under one load generator, from 5 to 10,000 connections
// (lib/bench/capacity.ts).
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { COURSE_SIZES, generateDataset } from "../data/generate.ts";
import { buildBundle, type Bundle } from "../local/bundle.ts";
import { AGENCY_ENV, awaitAgencies, ROOT, startAgency, startBun, startCentral, waitForLine } from "../local/processes.ts";
import { capacityBench } from "./capacity.ts";
import { BENCH_DIR, median, usage, type Usage } from "./measure.ts";

interface Size {
  name: string;
  sizes: number[];
}

const SIZES: Record<string, Size> = {
  smoke: { name: "smoke: 5 x 2,000", sizes: new Array(5).fill(2_000) },
  course: { name: "course: 78,697 (5 agencies)", sizes: COURSE_SIZES },
  "1m": { name: "1,000,000 (5 agencies)", sizes: new Array(5).fill(200_000) },
  "5m": { name: "5,000,000 (5 agencies)", sizes: new Array(5).fill(1_000_000) },
  "100x10k": { name: "100 agencies x 10,000", sizes: new Array(100).fill(10_000) },
};

interface Sample {
  wallSeconds: number;
  central: Usage;
  agency: Usage;
  /** CPU seconds of all the agencies together. */
  agenciesCpuSeconds: number;
  floorSeconds: number;
  startupSeconds: number;
}

/** Generates a dataset once; later runs reuse it (the generator is deterministic). */
async function dataset(key: string, size: Size): Promise<string[]> {
  const dir = join(BENCH_DIR, "data", key);
  const files = size.sizes.map((_, i) => join(dir, `agency-${i + 1}.csv`));
  const marker = join(dir, "complete");
  if (!existsSync(marker)) {
    rmSync(dir, { recursive: true, force: true });
    await generateDataset(dir, size.sizes);
    writeFileSync(marker, JSON.stringify(size.sizes));
  }
  return files;
}

async function runSystem(bundle: Bundle, files: string[], work: string): Promise<Omit<Sample, "floorSeconds" | "startupSeconds">> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const central = await startCentral(join(work, "bets.csv"), { LOTTERY_AGENCIES: String(files.length) }, undefined, bundle.central);
  const started = performance.now();
  const agencies = files.map((file, i) => startAgency(i + 1, central.port, file, {}, undefined, bundle.agency));
  const codes = await awaitAgencies(agencies);
  const wallSeconds = (performance.now() - started) / 1000;
  central.process.kill("SIGTERM");
  await central.done;
  const failed = codes.findIndex((code) => code !== 0);
  if (failed >= 0) throw new Error(`agency ${failed + 1} exited ${codes[failed]}:\n${agencies[failed]!.lines.slice(-5).join("\n")}`);
  if (!agencies.every((agency) => agency.lines.some((line) => line.includes("action: consulta_ganadores | result: success")))) {
    throw new Error("an agency got no winners answer");
  }
  return {
    wallSeconds,
    central: usage(central),
    agency: usage(agencies[0]!),
    agenciesCpuSeconds: agencies.reduce((sum, agency) => sum + usage(agency).cpuSeconds, 0),
  };
}

async function runFloor(files: string[], work: string): Promise<number> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const receiver = startBun("floor", ["lib/bench/floor.ts", "receive", join(work, "floor.bin"), String(files.length)], process.env, undefined, ROOT);
  const port = (await waitForLine(receiver, /port: (\d+)/))[1]!;
  const started = performance.now();
  const senders = files.map((file) => startBun("send", ["lib/bench/floor.ts", "send", port, file], process.env, undefined, ROOT));
  await Promise.all([...senders.map((sender) => sender.done), receiver.done]);
  return (performance.now() - started) / 1000;
}

/**
 * What the processes cost before any work: as many Bun processes that run nothing (`bun -e 0`; an empty
 * `-e` exits before starting JavaScript) as agencies, started together with the agencies' settings. The
 * system cannot finish before its agencies have started.
 */
async function runStartup(count: number): Promise<number> {
  const started = performance.now();
  const empty = () => startBun("empty", ["-e", "0"], { ...AGENCY_ENV, ...process.env }, undefined, ROOT).done;
  const codes = await Promise.all(Array.from({ length: count }, empty));
  const seconds = (performance.now() - started) / 1000;
  if (codes.some((code) => code !== 0)) throw new Error(`an empty Bun process exited with ${codes.find((code) => code !== 0)}`);
  return seconds;
}

async function systemBench(keys: string[], runs: number, out: string): Promise<void> {
  for (const key of keys) if (!SIZES[key]) throw new Error(`unknown size ${key}; known: ${Object.keys(SIZES).join(", ")}`);
  const bundle = await buildBundle(join(BENCH_DIR, "build"));
  const results = [];
  for (const key of keys) {
    const size = SIZES[key]!;
    const files = await dataset(key, size);
    const bets = size.sizes.reduce((a, b) => a + b, 0);
    const samples: Sample[] = [];
    for (let run = 0; run < runs; run++) {
      const system = await runSystem(bundle, files, join(BENCH_DIR, "run"));
      const floorSeconds = await runFloor(files, join(BENCH_DIR, "run"));
      const startupSeconds = await runStartup(files.length);
      samples.push({ ...system, floorSeconds, startupSeconds });
      process.stderr.write(
        `${key} run ${run + 1}/${runs}: ${system.wallSeconds.toFixed(3)} s (floor ${floorSeconds.toFixed(3)} s, start-up alone ${startupSeconds.toFixed(3)} s)\n`,
      );
    }
    const wall = median(samples.map((s) => s.wallSeconds));
    const floor = median(samples.map((s) => s.floorSeconds));
    results.push({
      size: key,
      name: size.name,
      agencies: size.sizes.length,
      bets,
      runs,
      wallSeconds: wall,
      betsPerSecond: bets / wall,
      centralPeakRssMb: median(samples.map((s) => s.central.peakRssMb)),
      centralCpuSeconds: median(samples.map((s) => s.central.cpuSeconds)),
      agencyPeakRssMb: median(samples.map((s) => s.agency.peakRssMb)),
      agencyCpuSeconds: median(samples.map((s) => s.agency.cpuSeconds)),
      agenciesCpuSeconds: median(samples.map((s) => s.agenciesCpuSeconds)),
      floorSeconds: floor,
      ratioToFloor: wall / floor,
      startupSeconds: median(samples.map((s) => s.startupSeconds)),
      samples,
    });
  }
  for (const dir of ["run", "build"]) rmSync(join(BENCH_DIR, dir), { recursive: true, force: true });

  const fixed = (value: number, digits: number) => value.toFixed(digits);
  console.log(
    `| dataset | bets | wall (s) | bets/s | central peak RSS (MB) | central CPU (s) | agency 1 peak RSS (MB) | agency 1 CPU (s) | agencies CPU (s) | floor (s) | system / floor | start-up alone (s) |`,
  );
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.bets.toLocaleString("en-US")} | ${fixed(r.wallSeconds, 3)} | ${Math.round(r.betsPerSecond).toLocaleString("en-US")} | ` +
        `${fixed(r.centralPeakRssMb, 0)} | ${fixed(r.centralCpuSeconds, 2)} | ${fixed(r.agencyPeakRssMb, 0)} | ${fixed(r.agencyCpuSeconds, 2)} | ${fixed(r.agenciesCpuSeconds, 2)} | ` +
        `${fixed(r.floorSeconds, 3)} | ${fixed(r.ratioToFloor, 1)} | ${fixed(r.startupSeconds, 3)} |`,
    );
  }
  console.log(`\nmedians of ${runs} runs each; ${new Date().toISOString()}; ${navigator.hardwareConcurrency} cores; Bun ${Bun.version}`);
  mkdirSync(BENCH_DIR, { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), bun: Bun.version, cores: navigator.hardwareConcurrency, results }, null, 2));
}

const { values } = parseArgs({
  options: {
    central: { type: "boolean", default: false },
    sizes: { type: "string" },
    runs: { type: "string" },
    out: { type: "string" },
    bets: { type: "string" },
    warmup: { type: "string" },
    profile: { type: "string" },
    tls: { type: "boolean", default: false },
  },
});
/** A count given on the command line, at least `least`. */
function count(name: string, text: string | undefined, least: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < least) throw new Error(`--${name} must be an integer of at least ${least}, got ${text}`);
  return value;
}

if (values.central) {
  await capacityBench({
    sizes: (values.sizes ?? "5,100,1000,10000").split(","),
    runs: count("runs", values.runs, 1) ?? 3,
    out: values.out ?? join(BENCH_DIR, "central.json"),
    bets: count("bets", values.bets, 1),
    warmup: count("warmup", values.warmup, 0),
    profile: values.profile === undefined ? undefined : resolve(values.profile),
    tls: values.tls!,
  });
} else {
  if (values.bets !== undefined || values.warmup !== undefined || values.profile !== undefined || values.tls) {
    throw new Error("--bets, --warmup, --profile and --tls go with --central");
  }
  await systemBench((values.sizes ?? "course,1m,5m,100x10k").split(","), Number(values.runs ?? 5), values.out ?? join(BENCH_DIR, "results.json"));
}
