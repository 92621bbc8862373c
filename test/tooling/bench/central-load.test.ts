// The capacity benchmark's load generator (lib/tooling/bench/central-load.ts) against a real central and against
// the benchmark's floor: its figures are worth something only if it speaks the protocol the central takes
// (hello for agency k on connection k, only agency k's frames after it) and counts what was stored.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { existsSync, statSync } from "node:fs";
import { runLoad, type LoadConfig, type PhaseResult } from "../../../lib/tooling/bench/central-load.ts";
import { centralTlsEnv, ROOT, startBun } from "../../../lib/tooling/processes.ts";
import { generateCertificates } from "../../../lib/deployment/certs.ts";
import { readCsv, Scope, waitForLine } from "../../support/system.ts";

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(async () => {
  await scope.cleanup();
});

const load = (port: number, serverPid: number, verify: boolean): LoadConfig => ({
  host: "127.0.0.1",
  port,
  connections: 3,
  window: 4,
  batchBets: 128,
  warmupBets: 500,
  closedBets: 2_000,
  openBets: 1_000,
  // Fast enough for a test; the benchmark offers half the flat-out rate.
  openRate: 200_000,
  serverPid,
  verify,
});

/** Stored rows per agency (index 0 is agency 1), to compare with what the generator saw acknowledged. */
function rowsPerAgency(storage: string, agencies: number): number[] {
  const counts = new Array<number>(agencies).fill(0);
  for (const row of readCsv(storage)) counts[Number(row[0]) - 1]!++;
  return counts;
}

/** A phase's acknowledgement latencies were recorded, and read as a distribution. */
function expectLatencies(phase: PhaseResult): void {
  const { frames, p50Ms, p99Ms, maxMs } = phase.latency;
  expect(frames).toBeGreaterThan(0);
  expect(p50Ms).toBeGreaterThan(0);
  expect(p50Ms).toBeLessThanOrEqual(p99Ms);
  expect(p99Ms).toBeLessThanOrEqual(maxMs);
}

test("against a real central, every bet acknowledged is stored once, under the agency of its connection", async () => {
  const storage = join(scope.dir(), "bets.csv");
  const central = await scope.central(storage, { LOTTERY_AGENCIES: "3" });
  const result = await runLoad(load(central.port, central.process.pid, true));

  expect(result.totalBets).toBeGreaterThanOrEqual(3_500);
  // Both phases ran their bets: a skipped or cut-short phase would still add up to the total.
  expect(result.closed.bets).toBeGreaterThanOrEqual(2_000);
  expect(result.open.bets).toBeGreaterThanOrEqual(1_000);
  // The draw happened: every agency's END came in, and the winners went out.
  expect(central.lines.filter((line) => line.includes("action: ganadores_enviados | result: success"))).toHaveLength(3);
  // The figures the capacity table reports: latency of both phases, the server's own peak memory.
  expectLatencies(result.closed);
  expectLatencies(result.open);
  expect(result.open.offeredRate).toBe(200_000);
  expect(result.serverPeakRssMb).toBeGreaterThan(0);

  central.process.kill("SIGTERM");
  expect(await central.done).toBe(0);
  expect(rowsPerAgency(storage, 3)).toEqual(result.acknowledged);
}, 30_000);

test("over mutual TLS, connection k presents agency k's certificate and all its bets are stored as agency k's", async () => {
  const certs = join(scope.dir(), "certs");
  await generateCertificates({ out: certs, agencies: 3, hosts: [], force: false });
  const storage = join(scope.dir(), "bets.csv");
  const central = await scope.central(storage, { LOTTERY_AGENCIES: "3", ...centralTlsEnv(certs) });
  // Plain TCP does not get through a TLS central's port.
  await expect(runLoad(load(central.port, central.process.pid, true))).rejects.toThrow();

  const result = await runLoad({ ...load(central.port, central.process.pid, true), tls: certs });
  central.process.kill("SIGTERM");
  expect(await central.done).toBe(0);
  expect(rowsPerAgency(storage, 3)).toEqual(result.acknowledged);
  expect(result.totalBets).toBeGreaterThanOrEqual(3_500);
}, 30_000);

/** The benchmark's floor, listening; it appends what it receives to `file`. */
async function startFloor(file: string): Promise<{ port: number; pid: number }> {
  const floor = startBun("floor", [join(ROOT, "lib/tooling/bench/central-floor.ts"), file], process.env, undefined, ROOT);
  scope.processes.push(floor);
  return { port: Number((await waitForLine(floor, /port: (\d+)/))[1]), pid: floor.process.pid };
}

test("a server whose OKs do not count the frame's bets fails the run", async () => {
  // The floor answers every bets frame with "OK 0": right for the floor, wrong for a central.
  const floor = await startFloor(join(scope.dir(), "floor.bin"));
  await expect(runLoad(load(floor.port, floor.pid, true))).rejects.toThrow(/OK for 0 bets, the frame held \d+/);
}, 30_000);

test("the floor, unchecked as the benchmark runs it, takes every phase and writes what it received; the open loop defaults to half the flat-out rate", async () => {
  const file = join(scope.dir(), "floor.bin");
  const floor = await startFloor(file);
  const { openRate: _, ...unpaced } = load(floor.port, floor.pid, false);
  const result = await runLoad(unpaced);
  expect(result.closed.bets).toBeGreaterThanOrEqual(2_000);
  expect(result.open.bets).toBeGreaterThanOrEqual(1_000);
  expect(result.open.offeredRate).toBe(result.closed.betsPerSecond / 2);
  expectLatencies(result.open);
  // Each bets frame's payload is appended: at least the encoded bets' bytes.
  expect(existsSync(file) && statSync(file).size).toBeGreaterThan(result.totalBets * 20);
}, 30_000);
