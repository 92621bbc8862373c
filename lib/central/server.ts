import type { Logger } from "../log.ts";
import { BetStore, type StorageFailedError } from "../storage/store.ts";
import type { CentralConfig } from "./config.ts";
import { ConnectionServer } from "../transport/connection-server.ts";
import { AgencySessions } from "./sessions.ts";
import { Lottery, type AdmittedBatch } from "./lottery.ts";
import { Backlog } from "../transport/backlog.ts";
import { CentralStats, type StatsView } from "./stats.ts";
import { beforeDeadline } from "../util/deadline.ts";

/**
 * Bets received and not yet durable, across all connections, beyond which the central stops reading
 * from every connection: however many agencies pipeline their windows, the store's backlog (and so
 * memory) stays bounded, and each group commit stays a reasonable size.
 */
const MAX_PENDING_BETS = 16 * 1024;
/** Bets a connection let back in after the backlog was full is reckoned to bring: an agency's default batch. */
const BETS_PER_READER = 128;

/** What the central's HTTP side (lib/operations/) reads: counters and state, and nothing that writes. */
export interface CentralState {
  readonly agencies: number;
  readonly stats: StatsView;
  /** Bets stored of the agency, recovered ones included. */
  stored(agency: number): number;
  /** The agency's END is durable. */
  ended(agency: number): boolean;
  /** The agency has a connection open that said hello. */
  connected(agency: number): boolean;
  readonly drawn: boolean;
  /** The agency's winners (meaningful once drawn). */
  winners(agency: number): number;
  /** Open connections, agencies' and others'. */
  readonly connections: number;
  /** "stopping" from the start of a graceful stop; "failed" once the storage has failed. */
  readonly health: "ok" | "stopping" | "failed";
}

/**
 * The central: recovers the lottery's state from the store, then serves agencies through the connection
 * mechanics (lib/transport/) and the sessions that answer requests (sessions.ts), and stops them in order.
 */
export class CentralServer {
  private readonly connections: ConnectionServer;
  private stopped: Promise<void> | undefined;
  private failed = false;
  readonly state: CentralState;

  private constructor(
    private readonly config: CentralConfig,
    private readonly log: Logger,
    private readonly lottery: Lottery,
    private readonly store: BetStore<AdmittedBatch>,
    private readonly onFatal: (error: Error) => void,
    stats: CentralStats,
  ) {
    const backlog = new Backlog(MAX_PENDING_BETS, BETS_PER_READER);
    const sessions = new AgencySessions({ lottery, store, backlog, log, stats, onStorageFailed: (error) => this.fail(error) });
    const connections: ConnectionServer = (this.connections = new ConnectionServer(config, sessions, backlog, log, stats));
    const server = this;
    this.state = {
      agencies: lottery.agencies,
      stats,
      stored: (agency) => lottery.storedCount(agency),
      ended: (agency) => lottery.hasEnded(agency),
      connected: (agency) => sessions.isConnected(agency),
      get drawn() {
        return lottery.drawn;
      },
      winners: (agency) => lottery.winnerCount(agency),
      get connections() {
        return connections.open;
      },
      get health() {
        return server.failed ? "failed" : server.stopped ? "stopping" : "ok";
      },
    };
  }

  /**
   * Recovers the stored state, then listens. `onFatal` is called if the storage fails: the server has
   * then dropped every connection unanswered (agencies retry) and the process must end. `syncFile`
   * replaces fdatasync, for tests that make the storage fail.
   */
  static async start(
    config: CentralConfig,
    log: Logger,
    onFatal: (error: Error) => void,
    syncFile?: (fd: number) => Promise<void>,
  ): Promise<CentralServer> {
    const lottery = new Lottery(config.agencies, log);
    const stats = new CentralStats();
    const store = new BetStore<AdmittedBatch>(
      config.storagePath,
      config.storageSync,
      (batch) => lottery.recordCommitted(batch),
      syncFile,
      stats.groupCommit,
    );
    const recovery = await store.open((bet) => lottery.recordStored(bet));
    if (recovery.cutBytes > 0) {
      log.warning("recuperacion_corte", "success", { storage: config.storagePath, cut_bytes: recovery.cutBytes });
    }
    log.info("recuperacion", "success", {
      bets: recovery.bets,
      ended: recovery.ended.join(",") || "none",
    });
    lottery.restoreEnded(recovery.ended);

    const server = new CentralServer(config, log, lottery, store, onFatal, stats);
    server.connections.listen();
    return server;
  }

  get port(): number {
    return this.connections.port;
  }

  /**
   * The storage failed: nothing more can be acknowledged. Every connection is dropped unanswered, so
   * agencies reconnect and resume from what a restarted central finds on disk.
   */
  private fail(error: StorageFailedError): void {
    // Once only, and also when a graceful stop is under way: a failed storage always ends in exit 1.
    if (this.failed) return;
    this.failed = true;
    this.log.log("CRITICAL", "storage", "fail", { storage: this.config.storagePath, error: error.message });
    this.connections.abort();
    this.onFatal(error);
  }

  /**
   * Graceful stop: no new connections or requests; batches already received finish their write and
   * their OK (for a bounded time); then each connection, the listener and the store are closed.
   */
  shutdown(signal: string): Promise<void> {
    // A second signal waits for the stop already under way instead of cutting it short.
    this.stopped ??= this.stop(signal);
    return this.stopped;
  }

  private async stop(signal: string): Promise<void> {
    this.log.info("shutdown", "in_progress", { signal });
    this.connections.stopAccepting();
    // One deadline for every wait below: the whole stop takes at most the grace period.
    const deadline = performance.now() + this.config.shutdownGraceSeconds * 1000;
    await beforeDeadline(this.store.idle(), deadline);
    this.lottery.cancelWaiting();
    await this.connections.close(deadline);
    await beforeDeadline(this.store.close(), deadline);
    this.log.info("close_store", "success", { storage: this.config.storagePath });
    this.log.info("shutdown", "success", { signal });
  }
}
