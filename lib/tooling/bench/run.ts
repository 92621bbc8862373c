// `bun run bench`: the whole system as real processes on loopback, per dataset size, against the raw floor.
// `bun run bench --central`: the central alone under one load generator, from 5 to 10,000 connections
// (lib/tooling/bench/capacity.ts, with its own sizes and options).
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { COURSE_SIZES, generateDataset } from "../generate-data.ts";
import { buildBundle, type Bundle } from "../bundle.ts";
import { generateCertificates } from "../../deployment/certs.ts";
import { AGENCY_ENV } from "../../deployment/runtime-env.ts";
import {
  agencyTlsEnv,
  awaitAgencies,
  centralTlsEnv,
  httpPort,
  ROOT,
  startAgency,
  startBun,
  startCentral,
  waitForLine,
} from "../processes.ts";
import { capacityCli } from "./capacity.ts";
import { BENCH_DIR, median, processPeakRssMb, usage, type Usage } from "./measure.ts";

/** The agencies' settings in every run: the repo's loop and pace do not apply, the course's log level does. */
const UNPACED = { CLI_LOOP_AMOUNT: "0", CLI_LOOP_PERIOD: "0", CLI_LOG_LEVEL: "INFO" };

interface Size {
  name: string;
  sizes: number[];
  /**
   * Variants run back to back in each run, so that they see the same noise, each with its own row:
   * "http", the HTTP side off, scraped, and scraped under hostile clients; "tls", plain TCP and mutual TLS.
   */
  compare?: "http" | "tls";
  /** The size whose dataset this one shares. */
  data?: string;
}

const SIZES: Record<string, Size> = {
  smoke: { name: "smoke: 5 x 2,000", sizes: new Array(5).fill(2_000) },
  "smoke-tls": { name: "smoke: 5 x 2,000", sizes: new Array(5).fill(2_000), compare: "tls", data: "smoke" },
  "smoke-http": { name: "smoke: 5 x 2,000", sizes: new Array(5).fill(2_000), compare: "http", data: "smoke" },
  course: { name: "course: 78,697 (5 agencies)", sizes: COURSE_SIZES },
  "1m": { name: "1,000,000 (5 agencies)", sizes: new Array(5).fill(200_000) },
  "1m-http": { name: "1,000,000 (5 agencies)", sizes: new Array(5).fill(200_000), compare: "http", data: "1m" },
  "course-tls": { name: "course: 78,697 (5 agencies)", sizes: COURSE_SIZES, compare: "tls", data: "course" },
  "1m-tls": { name: "1,000,000 (5 agencies)", sizes: new Array(5).fill(200_000), compare: "tls", data: "1m" },
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

/** How often the HTTP side is read while an "HTTP on" run goes: far more often than a Prometheus or a page would. */
const SCRAPE_MS = 100;

/** Connections a "hostile" run holds open to the HTTP side without a byte, and the header it sends. */
const IDLE_HTTP_CONNECTIONS = 3000;
const HUGE_HEADER_BYTES = 1024 * 1024;

/**
 * "on": the HTTP side is up (the default); "off": http.port off; "scraped": up, and /metrics and
 * /status read every SCRAPE_MS; "hostile": scraped, with IDLE_HTTP_CONNECTIONS idle connections and a
 * request with a HUGE_HEADER_BYTES header at each read.
 */
type Http = "on" | "off" | "scraped" | "hostile";

/** How one run of a size is set up, and the label of its row. */
interface Variant {
  name: string;
  http: Http;
  /** A directory of certificates (gen-certs' layout) for a run over mutual TLS. */
  certs?: string;
}

/** Reads /metrics and /status one after the other every SCRAPE_MS until `done` resolves; resolves with the reads. */
async function scrape(port: number, done: Promise<unknown>, hostile: boolean): Promise<number> {
  let finished = false;
  void done.finally(() => (finished = true));
  let reads = 0;
  while (!finished) {
    for (const path of ["/metrics", "/status"]) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      if (!response.ok) throw new Error(`${path} answered ${response.status}`);
      await response.arrayBuffer();
      reads++;
    }
    if (hostile) {
      // Refused by Bun (431) or cut off: either is fine, as long as the run goes on.
      await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { "x-junk": "a".repeat(HUGE_HEADER_BYTES) } }).then(
        (response) => response.arrayBuffer(),
        () => undefined,
      );
    }
    await Bun.sleep(SCRAPE_MS);
  }
  return reads;
}

async function runSystem(bundle: Bundle, files: string[], work: string, { http, certs }: Variant): Promise<Omit<Sample, "floorSeconds" | "startupSeconds">> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const env = {
    LOTTERY_AGENCIES: String(files.length),
    ...(http === "off" ? { SERVER_HTTP_PORT: "off" } : {}),
    ...(certs ? centralTlsEnv(certs) : {}),
  };
  const central = await startCentral(join(work, "bets.csv"), env, undefined, bundle.central);
  const scraped = http === "scraped" || http === "hostile";
  const port = scraped ? await httpPort(central) : 0;
  const idle =
    http === "hostile"
      ? await Promise.all(Array.from({ length: IDLE_HTTP_CONNECTIONS }, () => Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } })))
      : [];
  const started = performance.now();
  // The course's default logging (INFO: a line per bet acknowledged), each agency's into a file, as a container's
  // goes to its log; no echo loop, no pacing, whatever client/config.yaml says.
  const logOf = (i: number) => join(work, `client${i + 1}.log`);
  const agencies = files.map((file, i) =>
    startAgency(i + 1, central.port, file, { ...UNPACED, ...(certs ? agencyTlsEnv(certs, i + 1) : {}) }, undefined, bundle.agency, logOf(i)),
  );
  const finished = awaitAgencies(agencies);
  const reads = scraped ? scrape(port, finished, http === "hostile") : Promise.resolve(0);
  const codes = await finished;
  const wallSeconds = (performance.now() - started) / 1000;
  for (const socket of idle) socket.terminate();
  if (scraped && (await reads) === 0) throw new Error("the HTTP side was never read during the run");
  // Its own peak, read while it still runs: the exit's figure would be at least this process's own peak.
  const centralPeakRssMb = processPeakRssMb(central.process.pid);
  central.process.kill("SIGTERM");
  await central.done;
  const failed = codes.findIndex((code) => code !== 0);
  // The logs' ends only: read whole, a million lines would swell this process, whose peak the next runs inherit.
  const tailOf = (i: number) => {
    const fd = openSync(logOf(i), "r");
    try {
      const size = fstatSync(fd).size;
      const end = Buffer.alloc(Math.min(size, 2048));
      readSync(fd, end, 0, end.length, size - end.length);
      return end.toString("utf8").trimEnd().split("\n").slice(-5).join("\n");
    } finally {
      closeSync(fd);
    }
  };
  if (failed >= 0) throw new Error(`agency ${failed + 1} exited ${codes[failed]}:\n${tailOf(failed)}\n${agencies[failed]!.lines.join("\n")}`);
  if (!files.every((_, i) => tailOf(i).includes("action: consulta_ganadores | result: success"))) throw new Error("an agency got no winners answer");
  return {
    wallSeconds,
    central: { ...usage(central), peakRssMb: centralPeakRssMb },
    agency: usage(agencies[0]!),
    agenciesCpuSeconds: agencies.reduce((sum, agency) => sum + usage(agency).cpuSeconds, 0),
  };
}

async function runFloor(files: string[], work: string): Promise<number> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const receiver = startBun("floor", ["lib/tooling/bench/floor.ts", "receive", join(work, "floor.bin"), String(files.length)], process.env, undefined, ROOT);
  const port = (await waitForLine(receiver, /port: (\d+)/))[1]!;
  const started = performance.now();
  const senders = files.map((file) => startBun("send", ["lib/tooling/bench/floor.ts", "send", port, file], process.env, undefined, ROOT));
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

/** The variants a size runs in each run (see Size.compare); certificates for TLS are made once, in BENCH_DIR. */
async function variantsOf(size: Size): Promise<Variant[]> {
  switch (size.compare) {
    case "http":
      return [
        { http: "off", name: `${size.name}, HTTP off` },
        { http: "scraped", name: `${size.name}, HTTP on, read every ${SCRAPE_MS} ms` },
        {
          http: "hostile",
          name: `${size.name}, HTTP on, read every ${SCRAPE_MS} ms, ${IDLE_HTTP_CONNECTIONS.toLocaleString("en-US")} idle connections, 1 MiB headers`,
        },
      ];
    case "tls": {
      const certs = join(BENCH_DIR, "certs");
      await generateCertificates({ out: certs, agencies: size.sizes.length, hosts: [], force: true });
      return [
        { http: "on", name: `${size.name}, plain TCP` },
        { http: "on", name: `${size.name}, mutual TLS`, certs },
      ];
    }
    default:
      return [{ http: "on", name: size.name }];
  }
}

if (Bun.argv.includes("--central")) {
  await capacityCli(Bun.argv.slice(2));
  process.exit(0);
}

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "course,1m,1m-http,course-tls,1m-tls,5m,100x10k" },
    runs: { type: "string", default: "5" },
    out: { type: "string", default: join(BENCH_DIR, "results.json") },
  },
});
const runs = Number(values.runs);
const keys = values.sizes!.split(",");
for (const key of keys) if (!SIZES[key]) throw new Error(`unknown size ${key}; known: ${Object.keys(SIZES).join(", ")}`);

const bundle = await buildBundle(join(BENCH_DIR, "build"));
const results = [];
for (const key of keys) {
  const size = SIZES[key]!;
  const files = await dataset(size.data ?? key, size);
  const bets = size.sizes.reduce((a, b) => a + b, 0);
  const variants = (await variantsOf(size)).map((variant) => ({ ...variant, samples: [] as Sample[] }));
  for (let run = 0; run < runs; run++) {
    for (const variant of variants) {
      const system = await runSystem(bundle, files, join(BENCH_DIR, "run"), variant);
      const floorSeconds = await runFloor(files, join(BENCH_DIR, "run"));
      const startupSeconds = await runStartup(files.length);
      variant.samples.push({ ...system, floorSeconds, startupSeconds });
      process.stderr.write(
        `${key}${variants.length > 1 ? ` (${variant.name})` : ""} run ${run + 1}/${runs}: ${system.wallSeconds.toFixed(3)} s ` +
          `(floor ${floorSeconds.toFixed(3)} s, start-up alone ${startupSeconds.toFixed(3)} s)\n`,
      );
    }
  }
  for (const { name, samples } of variants) results.push(summary(key, name, size, bets, samples));
}

function summary(key: string, name: string, size: Size, bets: number, samples: Sample[]) {
  const wall = median(samples.map((s) => s.wallSeconds));
  const floor = median(samples.map((s) => s.floorSeconds));
  return {
    size: key,
    name,
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
  };
}
for (const dir of ["run", "build", "certs"]) rmSync(join(BENCH_DIR, dir), { recursive: true, force: true });

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
writeFileSync(values.out!, JSON.stringify({ date: new Date().toISOString(), bun: Bun.version, cores: navigator.hardwareConcurrency, results }, null, 2));
