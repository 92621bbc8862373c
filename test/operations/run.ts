// `bun run test:ops`: the central's HTTP side against the real tools (issue 11), outside bun test:
// promtool (Debian's prometheus package) on the real /metrics, a real Prometheus server scraping a run,
// and the status page in real headless Chromium (Debian's chromium, driven by playwright-core). Prints
// "N passed, N failed" and exits non-zero on a failure; leaves nothing running.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { httpPort, ROOT } from "../../lib/tooling/processes.ts";
import { fetchMetrics } from "../support/metrics.ts";
import { expectedWinners, makeDataset, readCsv, Scope, type Central, type RunningProcess } from "../support/system.ts";

const PROMETHEUS = process.env.PROMETHEUS ?? "/usr/bin/prometheus";
const PROMTOOL = process.env.PROMTOOL ?? "/usr/bin/promtool";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
/** Where the screenshots the README shows are written (and committed from). */
const SCREENSHOTS = join(ROOT, "test", "operations", "screenshots");
/** A check that has not finished by then has failed (a hang is a failure, not a wait). */
const CHECK_TIMEOUT_MS = 180_000;

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Polls `probe` until it returns a value other than undefined; the check's timeout bounds it. */
async function until<T>(probe: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await Bun.sleep(everyMs);
  }
}

async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** A central for 5 agencies and their files (sizes chosen so that each has winners). */
async function system(scope: Scope, sizes: number[]): Promise<{ central: Central; http: number; files: string[] }> {
  const dir = scope.dir("lottery-ops-");
  const files = await makeDataset(join(dir, "data"), sizes, 229);
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: String(sizes.length) });
  return { central, http: await httpPort(central), files };
}

/** Runs the agencies one after the other: each starts once `ended(i)` says the one before has ended. */
async function oneByOne(scope: Scope, central: Central, files: string[], ended: (count: number) => Promise<void>): Promise<RunningProcess[]> {
  const agencies: RunningProcess[] = [];
  for (let i = 0; i < files.length; i++) {
    agencies.push(scope.agency(i + 1, central.port, files[i]!));
    await ended(i + 1);
  }
  const codes = await Promise.all(agencies.map((agency) => agency.done));
  assert(codes.every((code) => code === 0), `agencies exited ${codes.join(", ")}`);
  return agencies;
}

async function promtool(text: string): Promise<void> {
  const run = Bun.spawn([PROMTOOL, "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  assert(code === 0 && (out + err).trim() === "", `promtool check metrics exited ${code}: ${out}${err}`);
}

async function checkPromtool(scope: Scope): Promise<void> {
  const { central, http, files } = await system(scope, [800, 600, 400, 300, 200]);
  const text = () => fetch(`http://127.0.0.1:${http}/metrics`).then((response) => response.text());
  await promtool(await text());
  const agencies = files.map((file, i) => scope.agency(i + 1, central.port, file));
  const codes = await Promise.all(agencies.map((agency) => agency.done));
  assert(codes.every((code) => code === 0), `agencies exited ${codes.join(", ")}`);
  // After a run every histogram has observations and every counter a value.
  const after = await text();
  assert(/lottery_group_commit_seconds_count [1-9]/.test(after), "no group commit observed");
  await promtool(after);
}

async function checkPrometheus(scope: Scope): Promise<void> {
  const { central, http, files } = await system(scope, [3000, 2500, 2000, 1500, 1000]);
  const dir = scope.dir("lottery-prometheus-");
  const port = await freePort();
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    `global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: lottery\n    static_configs:\n      - targets: ["127.0.0.1:${http}"]\n`,
  );
  const server = Bun.spawn(
    [PROMETHEUS, `--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdout: "ignore", stderr: "pipe" },
  );
  const stderr = new Response(server.stderr).text();
  try {
    const query = async (expression: string): Promise<number | undefined> => {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expression)}`);
      const body = (await response.json()) as { status: string; data: { result: { value: [number, string] }[] } };
      const sample = body.status === "success" ? body.data.result[0] : undefined;
      return sample ? Number(sample.value[1]) : undefined;
    };
    const equals = (expression: string, expected: number) => async () => ((await query(expression)) === expected ? true : undefined);
    await until(equals('up{job="lottery"}', 1));
    // Prometheus sees the run as it goes: each agency's END before the next agency starts, no draw yet.
    await oneByOne(scope, central, files, async (ended) => {
      await until(equals("lottery_agencies_ended", ended));
      if (ended < files.length) await until(equals("lottery_draw_completed", 0));
    });
    const total = files.reduce((sum, file) => sum + readCsv(file).length, 0);
    await until(equals("sum(lottery_bets_stored_total)", total));
    await until(equals("lottery_draw_completed", 1));
    const own = await fetchMetrics(http);
    const stored = own.get('lottery_batches_total{result="stored"}')!;
    await until(equals('lottery_batches_total{result="stored"}', stored));
    assert((await query("max_over_time(lottery_connections[10m])"))! >= 1, "Prometheus never saw a connection");
  } catch (error) {
    throw new Error(`${(error as Error).message}\nprometheus stderr:\n${(await stderr).slice(-2000)}`);
  } finally {
    server.kill("SIGTERM");
    await server.exited;
  }
}

/** Per agency: the counts the page has shown, in the order shown. */
type Seen = Map<number, number[]>;

async function watchPage(page: Page, seen: Seen): Promise<void> {
  const counts = await page.$$eval(".row", (rows) =>
    rows.map((row) => [Number(row.getAttribute("data-agency")), Number(row.querySelector(".count")!.getAttribute("data-value"))]),
  );
  for (const [agency, count] of counts) {
    const list = seen.get(agency!) ?? [];
    if (list.at(-1) !== count) list.push(count!);
    seen.set(agency!, list);
  }
}

async function checkPage(scope: Scope): Promise<void> {
  const sizes = [20_000, 16_000, 12_000, 8_000, 4_000];
  const { central, http, files } = await system(scope, sizes);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 480 } });
    const page = await context.newPage();
    const foreign: string[] = [];
    const polls: number[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(`http://127.0.0.1:${http}/`)) foreign.push(request.url());
      else if (new URL(request.url()).pathname === "/status") polls.push(performance.now());
    });
    await page.goto(`http://127.0.0.1:${http}/`);
    await page.waitForSelector(`.row[data-agency="${files.length}"]`);

    const seen: Seen = new Map();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        await watchPage(page, seen);
        await Bun.sleep(50);
      }
    })();
    // Each agency runs alone; the next starts once the page shows the one before as ended.
    await oneByOne(scope, central, files, async (ended) => {
      await page.waitForSelector(`.row[data-agency="${ended}"][data-ended="true"]`, { timeout: CHECK_TIMEOUT_MS });
      const draw = await page.getAttribute("#draw", "data-completed");
      if (ended < files.length) assert(draw === "false", `the page shows the draw after ${ended} of ${files.length} agencies`);
    });
    await page.waitForSelector('#draw[data-completed="true"]', { timeout: CHECK_TIMEOUT_MS });
    watching = false;
    await watcher;
    await watchPage(page, seen);

    const winners = await Promise.all(files.map(expectedWinners));
    const total = winners.reduce((a, b) => a + b, 0);
    const drawText = (await page.textContent("#draw"))!;
    assert(drawText.includes(`${total} winners`), `the draw reads ${JSON.stringify(drawText)}, expected ${total} winners`);
    for (let agency = 1; agency <= files.length; agency++) {
      const shown = seen.get(agency) ?? [];
      // Moving: from 0 before the agency ran to all its bets, never backwards.
      assert(shown[0] === 0 && shown.at(-1) === sizes[agency - 1], `agency ${agency}'s counts on the page: ${shown.join(" -> ")}`);
      assert(shown.every((count, i) => i === 0 || count > shown[i - 1]!), `agency ${agency}'s count went backwards: ${shown.join(" -> ")}`);
      const state = await page.textContent(`.row[data-agency="${agency}"] .state`);
      assert(state === `${winners[agency - 1]} winners`, `agency ${agency} reads ${JSON.stringify(state)}`);
    }
    assert(foreign.length === 0, `the page asked for other origins: ${foreign.join(", ")}`);
    // It updates itself at least once a second (the issue), and shows a rate once bets have flowed.
    const gaps = polls.slice(1).map((at, i) => at - polls[i]!).sort((a, b) => a - b);
    const typical = gaps[Math.floor(gaps.length / 2)] ?? Infinity;
    assert(typical <= 1000, `the page read /status every ${typical.toFixed(0)} ms (median of ${gaps.length} gaps)`);
    const peak = Number((await page.textContent("#peak"))!.replaceAll(",", ""));
    assert(peak > 0, `the page's peak bets per second reads ${peak}`);
    const moves = [...seen.values()].map((shown) => shown.length - 1);
    process.stdout.write(`  page: counts shown per agency while running: ${moves.join(", ")} changes\n`);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "status-page.png"), fullPage: true });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
    const small = await phone.newPage();
    await small.goto(`http://127.0.0.1:${http}/`);
    await small.waitForSelector('#draw[data-completed="true"]');
    await small.screenshot({ path: join(SCREENSHOTS, "status-page-phone.png"), fullPage: true });
    const overflow = await small.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    assert(overflow <= 0, `the page is ${overflow} px wider than a phone's screen`);
  } finally {
    await browser.close();
  }
}

const checks: [string, (scope: Scope) => Promise<void>][] = [
  ["promtool check metrics passes on the central's /metrics, before and after a run", checkPromtool],
  ["a real Prometheus scrapes a run and its query API gives back the stored total", checkPrometheus],
  ["the status page in headless Chromium shows each agency's count moving and the draw", checkPage],
];

let passed = 0;
let failed = 0;
for (const [name, check] of checks) {
  const scope = new Scope();
  const started = performance.now();
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
    });
    await Promise.race([check(scope), timeout]).finally(() => clearTimeout(timer));
    passed++;
    console.log(`(pass) ${name} [${Math.round(performance.now() - started)} ms]`);
  } catch (error) {
    failed++;
    console.log(`(fail) ${name}\n  ${(error as Error).stack ?? error}`);
  } finally {
    await scope.cleanup();
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
