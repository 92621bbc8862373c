import type { Logger } from "../log.ts";
import type { Stop } from "../util/stop.ts";
import { CentralConnection, CentralUntrustedError, systemResolver, type Resolver } from "../transport/central-connection.ts";
import type { AgencyConfig } from "./config.ts";
import { AgencyFailedError, StoppedError } from "./errors.ts";

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;

/**
 * How the agency gets a connection to the central, and keeps trying: exponential backoff with jitter,
 * each attempt on the next of the name's addresses, for `reconnect.timeoutSeconds` from the central's
 * last answer (not from the first attempt: a central that accepts and drops connections without answering
 * cannot keep the agency retrying for ever). The dialogue tells it when the central answered.
 */
export class Dialer {
  /** Attempts in the whole run: every one but the first waits its backoff, and each takes the next address. */
  private attemptsInRun = 0;
  /** Attempts that failed since the central last answered: the backoff's exponent. */
  private failuresSinceAnswer = 0;
  /** When the central last answered. */
  private answeredAt = performance.now();
  /** Why the last attempt or session failed, for the message when the time allowed runs out. */
  private lastFailure = "";
  /** The connection opened last: a stop closes it. */
  private current: CentralConnection | undefined;

  constructor(
    private readonly config: Pick<AgencyConfig, "serverAddress" | "tls" | "reconnectTimeoutSeconds">,
    private readonly log: Logger,
    /** The run's stop: no attempt after it, and a backoff under way ends (see closeLast). */
    private readonly stopping: Stop,
    /** How the central's host name is resolved on each attempt; tests give their own. */
    private readonly resolve: Resolver = systemResolver,
  ) {}

  /** A session on a connection of ours was lost: why, for the message when the time allowed runs out. */
  lost(reason: string): void {
    this.lastFailure = reason;
  }

  /** The central answered: the time allowed and the backoff start again from here. */
  answered(): void {
    this.answeredAt = performance.now();
    this.failuresSinceAnswer = 0;
  }

  /** A connection, after as many attempts as it takes within the time allowed; StoppedError once stopped. */
  async connect(): Promise<CentralConnection> {
    const { host, port } = this.config.serverAddress;
    const server = `${host}:${port}`;
    const deadline = this.answeredAt + this.config.reconnectTimeoutSeconds * 1000;
    for (let attempt = 1; ; attempt++) {
      if (this.stopping.requested) throw new StoppedError("stopped");
      if (this.attemptsInRun++ > 0) {
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`cannot reach the central at ${server} after ${attempt} attempts (last: ${this.lastFailure})`);
        const delay = Math.min(FIRST_RETRY_MS * 2 ** Math.min(this.failuresSinceAnswer++, 10), MAX_RETRY_MS, left);
        await this.stopping.until(Bun.sleep(delay * (0.5 + Math.random() / 2)));
        if (this.stopping.requested) throw new StoppedError("stopped");
      }
      let connection: CentralConnection;
      try {
        connection = await CentralConnection.open(this.config.serverAddress, {
          tls: this.config.tls,
          resolve: this.resolve,
          attempt: this.attemptsInRun,
        });
      } catch (error) {
        const message = String((error as Error).message);
        if (error instanceof CentralUntrustedError) {
          // Whoever answers there cannot prove it is the central: it gets no bets, and retrying would not change that.
          this.log.error("tls", "fail", { server, error: message });
          throw new AgencyFailedError(`the central at ${server} failed TLS verification: ${message}`);
        }
        this.lastFailure = message;
        // A central not there yet is the normal start of a run: a failure only once the time is up.
        const level = performance.now() >= deadline ? "ERROR" : "DEBUG";
        this.log.log(level, "connect", level === "ERROR" ? "fail" : "in_progress", { server, attempt, error: message });
        continue;
      }
      this.current = connection;
      if (this.stopping.requested) {
        // The stop came while this attempt was under way: no session starts.
        connection.close();
        throw new StoppedError("stopped");
      }
      this.log.info("connect", "success", { server, attempt });
      return connection;
    }
  }

  /** After the run's stop: the connection opened last is closed (the stop itself ends any attempt or backoff). */
  closeLast(): void {
    this.current?.close();
  }
}
