// The capacity benchmark's load generator: one process that acts for C agencies over C loopback
// connections and speaks the real protocol on each (hello for agency k on connection k, then only agency
// k's pipelined bets frames, END, the winners query), with every bets frame made before the clock starts.
//   bun lib/tooling/bench/central-load.ts CONFIG_JSON     prints "result: JSON" (see LoadResult) and exits 0
// Phases, one after the other on the same connections:
//   warm-up + flat out   closed loop: each connection keeps `window` frames in flight; the measured part
//                        runs from the moment `warmupBets` are acknowledged until `closedBets` more are
//   open loop            frames leave on a schedule at `openRate` bets/s (half the flat-out rate unless
//                        told), round robin, whatever the acks; latency counts from the scheduled time
//   END and winners      on every connection; with `verify`, END's count must equal the bets acknowledged
import { readFileSync } from "node:fs";
import { certificatePaths } from "../../deployment/certs.ts";
import { MessageType, messageName } from "../../protocol/index.ts";
import type { TlsMaterial } from "../../tls.ts";
import { float64Array, withCapacity } from "../../util/bytes.ts";
import { AgencyConnection, type LoadEvents } from "./load-connection.ts";
import { agencyFrames, betPool } from "./load-frames.ts";
import { ownCpuSeconds, processCpuSeconds, processPeakRssMb } from "./measure.ts";

export interface LoadConfig {
  host: string;
  port: number;
  connections: number;
  /** Bets frames in flight per connection in the closed loop. */
  window: number;
  /** Bets per frame at most (the agency's batch.maxAmount); the 8 KiB frame limit may cut a batch sooner. */
  batchBets: number;
  warmupBets: number;
  closedBets: number;
  openBets: number;
  /** Bets per second offered in the open loop; by default half the flat-out rate just measured. */
  openRate?: number;
  /** The server's process, whose CPU time is read from /proc at each phase's ends. */
  serverPid: number;
  /** Check every OK's count against its frame and END's against what was acknowledged (the real central). */
  verify: boolean;
  /**
   * Mutual TLS with the certificates in this directory, as `bun run gen-certs` writes them: connection k
   * presents agency k's certificate. Plain TCP when absent.
   */
  tls?: string;
}

export interface Latency {
  frames: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface PhaseResult {
  bets: number;
  seconds: number;
  betsPerSecond: number;
  /** CPU seconds the server used during the phase, and the part of them spent in the kernel. */
  serverCpuSeconds: number;
  serverSystemSeconds: number;
  /** CPU seconds this process used during the phase. */
  generatorCpuSeconds: number;
  latency: Latency;
}

export interface LoadResult {
  connections: number;
  window: number;
  betsPerFrame: number;
  setupSeconds: number;
  closed: PhaseResult;
  open: PhaseResult & { offeredRate: number };
  /** Bets acknowledged per agency (index 0 is agency 1), warm-up and both phases together. */
  acknowledged: number[];
  totalBets: number;
  /** The server's peak RSS so far, read once every answer is in. */
  serverPeakRssMb: number;
  generatorPeakRssMb: number;
}

/** Memory for all the prepared frames together; each connection gets between 1 and 64 of its own. */
const FRAME_BUDGET_BYTES = 64 * 1024 * 1024;
const MAX_FRAMES_PER_CONNECTION = 64;
/** Connections opened at a time, so the listen backlog never overflows into SYN retries. */
const CONNECT_BATCH = 256;
/** The open loop's clock: every tick sends the frames whose time has come (their lateness counts). */
const TICK_MS = 1;

/** Latencies of one phase, in ms. */
class LatencyLog {
  private values = new Float64Array(1024);
  private count = 0;

  add(ms: number): void {
    this.values = withCapacity(this.values, this.count + 1, this.count, float64Array);
    this.values[this.count++] = ms;
  }

  summary(): Latency {
    const sorted = this.values.subarray(0, this.count).sort();
    const at = (q: number) => (this.count === 0 ? 0 : sorted[Math.min(this.count - 1, Math.ceil(q * this.count) - 1)]!);
    return { frames: this.count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: this.count === 0 ? 0 : sorted[this.count - 1]! };
  }
}

type Phase = "closed" | "open" | "idle";

/** A phase's start or end: when, bets acknowledged by then, and the CPU both sides had used. */
interface Mark {
  time: number;
  acked: number;
  server: { user: number; system: number };
  own: number;
}

class LoadGenerator implements LoadEvents {
  readonly connections: AgencyConnection[] = [];
  private readonly failed = Promise.withResolvers<never>();
  private phase: Phase = "idle";
  private latency = new LatencyLog();
  private sentBets = 0;
  private ackedBets = 0;
  sentFrames = 0;
  /** Bets to acknowledge before the closed loop's clock starts, and before it stops. */
  private measureFrom = 0;
  private measureTo = 0;
  private sendUpTo = 0;
  private measureStart: Mark | undefined;
  private measureEnd: Mark | undefined;
  /** Resolves once every bet sent so far is acknowledged and there is no more to send. */
  private drained: PromiseWithResolvers<void> | undefined;

  constructor(readonly config: LoadConfig) {
    this.failed.promise.catch(() => undefined);
  }

  get verify(): boolean {
    return this.config.verify;
  }

  onSend(): void {
    this.sentFrames++;
  }

  fail(error: Error): void {
    this.failed.reject(error);
  }

  /** Races work against the first failure of any connection. */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failed.promise]);
  }

  private mark(): Mark {
    return { time: performance.now(), acked: this.ackedBets, server: processCpuSeconds(this.config.serverPid), own: ownCpuSeconds() };
  }

  onAck(connection: AgencyConnection, bets: number, sentAt: number): void {
    const now = performance.now();
    this.ackedBets += bets;
    if (this.phase === "closed") {
      if (this.measureStart && !this.measureEnd) this.latency.add(now - sentAt);
      if (!this.measureStart && this.ackedBets >= this.measureFrom) this.measureStart = this.mark();
      if (!this.measureEnd && this.ackedBets >= this.measureTo) this.measureEnd = this.mark();
      // The connection refills its window while bets are left to send.
      while (this.sentBets < this.sendUpTo && connection.inFlight.length < this.config.window) {
        this.sentBets += connection.sendFrame(performance.now());
      }
    } else {
      this.latency.add(now - sentAt);
    }
    if (this.drained && this.sentBets >= this.sendUpTo && this.ackedBets === this.sentBets) this.drained.resolve();
  }

  async setup(): Promise<void> {
    const { connections, batchBets } = this.config;
    const pool = betPool();
    const perConnection = Math.max(1, Math.min(MAX_FRAMES_PER_CONNECTION, Math.floor(FRAME_BUDGET_BYTES / (connections * 8 * 1024))));
    for (let agency = 1; agency <= connections; agency++) {
      const { frames, bets } = agencyFrames(agency, pool, perConnection, batchBets);
      this.connections.push(new AgencyConnection(agency, frames, bets, this));
    }
    for (let i = 0; i < connections; i += CONNECT_BATCH) {
      const batch = this.connections.slice(i, i + CONNECT_BATCH);
      await this.guard(Promise.all(batch.map((c) => c.connect(this.config.host, this.config.port, this.tlsFor(c.agency)))));
      // Hello first on every connection: the central takes nothing else before it.
      const welcomes = await this.guard(Promise.all(batch.map((c) => c.ask({ type: MessageType.Hello, agency: c.agency }))));
      for (const [j, welcome] of welcomes.entries()) {
        if (welcome.type !== MessageType.Welcome) throw new Error(`agency ${batch[j]!.agency}: ${messageName(welcome.type)} instead of a welcome`);
        if (this.config.verify && welcome.stored !== 0) throw new Error(`agency ${batch[j]!.agency}: the central already holds ${welcome.stored} bets`);
      }
    }
  }

  private tlsFor(agency: number): TlsMaterial | undefined {
    const dir = this.config.tls;
    if (!dir) return undefined;
    const files = certificatePaths(dir, agency);
    const read = (path: string) => readFileSync(path, "utf8");
    // One CA for every connection: read once, not 10,000 times.
    this.caPem ??= read(files.ca);
    return { cert: read(files.cert), key: read(files.key), ca: this.caPem };
  }
  private caPem: string | undefined;

  /** Warm-up and flat out: every connection keeps its window full until the bets run out. */
  async closedLoop(): Promise<PhaseResult> {
    const { warmupBets, closedBets } = this.config;
    this.phase = "closed";
    this.latency = new LatencyLog();
    this.measureFrom = this.ackedBets + warmupBets;
    this.measureTo = this.measureFrom + closedBets;
    this.sendUpTo = this.sentBets + warmupBets + closedBets;
    this.measureStart = warmupBets === 0 ? this.mark() : undefined;
    this.measureEnd = undefined;
    this.drained = Promise.withResolvers<void>();
    const now = performance.now();
    for (let filled = false; !filled; ) {
      filled = true;
      // Round robin, one frame at a time, so that a short run still spreads over every connection.
      for (const connection of this.connections) {
        if (this.sentBets >= this.sendUpTo || connection.inFlight.length >= this.config.window) continue;
        this.sentBets += connection.sendFrame(now);
        filled = false;
      }
      if (this.sentBets >= this.sendUpTo) break;
    }
    await this.guard(this.drained.promise);
    this.phase = "idle";
    return this.phaseResult(this.measureStart!, this.measureEnd!);
  }

  /** Frames on a schedule at `rate` bets/s, round robin, whatever the acknowledgements. */
  async openLoop(rate: number): Promise<PhaseResult> {
    const bets = this.config.openBets;
    this.phase = "open";
    this.latency = new LatencyLog();
    this.sendUpTo = this.sentBets + bets;
    this.drained = Promise.withResolvers<void>();
    const start = this.mark();
    let scheduled = 0;
    let turn = 0;
    const tick = () => {
      const now = performance.now();
      // Each frame is due when the bets before it in this phase are, at the offered rate.
      while (scheduled < bets) {
        const due = start.time + (scheduled / rate) * 1000;
        if (due > now) break;
        const sent = this.connections[turn]!.sendFrame(due);
        turn = (turn + 1) % this.connections.length;
        scheduled += sent;
        this.sentBets += sent;
      }
      if (scheduled < bets) timer = setTimeout(tick, TICK_MS);
    };
    let timer = setTimeout(tick, 0);
    try {
      await this.guard(this.drained.promise);
    } finally {
      clearTimeout(timer);
    }
    this.phase = "idle";
    return this.phaseResult(start, this.mark());
  }

  private phaseResult(start: Mark, end: Mark): PhaseResult {
    const seconds = (end.time - start.time) / 1000;
    const bets = end.acked - start.acked;
    return {
      bets,
      seconds,
      betsPerSecond: bets / seconds,
      serverCpuSeconds: end.server.user + end.server.system - start.server.user - start.server.system,
      serverSystemSeconds: end.server.system - start.server.system,
      generatorCpuSeconds: end.own - start.own,
      latency: this.latency.summary(),
    };
  }

  /** END on every connection (its count checked), then the winners query on every one. */
  async finish(): Promise<void> {
    const ends = await this.guard(Promise.all(this.connections.map((c) => c.ask({ type: MessageType.End, agency: c.agency }))));
    for (const [i, answer] of ends.entries()) {
      const connection = this.connections[i]!;
      if (answer.type !== MessageType.Ok) throw new Error(`agency ${connection.agency}: ${messageName(answer.type)} answered END`);
      if (this.config.verify && answer.count !== connection.acknowledged) {
        throw new Error(`agency ${connection.agency}: END counts ${answer.count} stored bets, ${connection.acknowledged} were acknowledged`);
      }
    }
    const answers = await this.guard(Promise.all(this.connections.map((c) => c.ask({ type: MessageType.WinnersQuery, agency: c.agency }))));
    for (const [i, answer] of answers.entries()) {
      if (answer.type !== MessageType.Winners) throw new Error(`agency ${this.connections[i]!.agency}: ${messageName(answer.type)} answered the query`);
    }
    for (const connection of this.connections) connection.end();
  }
}

/** Runs every phase against a listening server; rejects on the first refusal, lost connection or miscount. */
export async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const load = new LoadGenerator(config);
  const setupStarted = performance.now();
  await load.setup();
  const setupSeconds = (performance.now() - setupStarted) / 1000;
  const closed = await load.closedLoop();
  const offeredRate = config.openRate ?? closed.betsPerSecond / 2;
  const open = await load.openLoop(offeredRate);
  await load.finish();
  const serverPeakRssMb = processPeakRssMb(config.serverPid);
  const acknowledged = load.connections.map((c) => c.acknowledged);
  const totalBets = acknowledged.reduce((a, b) => a + b, 0);
  return {
    connections: config.connections,
    window: config.window,
    betsPerFrame: totalBets / load.sentFrames,
    setupSeconds,
    closed,
    open: { ...open, offeredRate },
    acknowledged,
    totalBets,
    serverPeakRssMb,
    generatorPeakRssMb: processPeakRssMb("self"),
  };
}

if (import.meta.main) {
  const config = JSON.parse(process.argv[2]!) as LoadConfig;
  try {
    const result = await runLoad(config);
    console.log(`result: ${JSON.stringify(result)}`);
    process.exit(0);
  } catch (error) {
    console.error(`load: ${(error as Error).message}`);
    process.exit(1);
  }
}
