import type { Stop } from "../util/stop.ts";
import { StoppedError } from "./errors.ts";

/**
 * Paced mode, when `loop.period` is above 0 (the course's harness sets 150ms): the agency sends one message a
 * period, as the course's client does, and takes each answer half a period after it arrives. So every line
 * the agency writes about an exchange is half a period from every line the central writes about it, before
 * (the central logs on receipt) and after (its next message is another half period later).
 *
 * Why: `docker compose logs -f` merges the containers' streams as their lines reach it, and two lines written
 * by different containers a few milliseconds apart can show in either order (measured: 3 runs in 40 put an
 * agency's confirmation before the central's line it answers). Half a period apart, the merged log shows the
 * dialogue in the order it happened, which the course's checks read (README, The exercises: paced mode).
 *
 * And a paced run lasts at least MIN_PACED_RUN_MS: a log follower attached after a container exited
 * (`docker compose logs -f` run right after `up -d`, as the course's harness does, a few hundred
 * milliseconds late) prints no `exited with code` line for it (Compose 2.40), and the harness waits for
 * that line; a short file in batches of its size ends in less. At 0, the default, nothing waits and
 * batches are pipelined.
 */
export const MIN_PACED_RUN_MS = 3000;

export class Pacer {
  private started = false;

  constructor(
    readonly periodMs: number,
    /** The run's stop: a wait under way ends at once. */
    private readonly stopping: Stop,
    private readonly sleep: (ms: number) => Promise<void> = Bun.sleep,
    /** Milliseconds since the process started. */
    private readonly uptime: () => number = () => performance.now(),
  ) {}

  get paced(): boolean {
    return this.periodMs > 0;
  }

  /**
   * Before a message: at once for the run's first, half a period after the last answer was taken for any
   * other; StoppedError if the stop came meanwhile. Unpaced, at once.
   */
  async beforeMessage(): Promise<void> {
    if (!this.started) {
      this.started = true;
      return;
    }
    await this.halfPeriod();
  }

  /** Before an answer is taken (logged, acted on): half a period after it arrived; StoppedError if the stop came meanwhile. */
  async beforeAnswer(): Promise<void> {
    await this.halfPeriod();
  }

  /** Before the agency ends: in paced mode, not sooner than MIN_PACED_RUN_MS after it started. */
  async beforeExit(): Promise<void> {
    const left = MIN_PACED_RUN_MS - this.uptime();
    if (this.paced && left > 0) await this.stopping.until(this.sleep(left));
  }

  private async halfPeriod(): Promise<void> {
    if (!this.paced) return;
    await this.stopping.until(this.sleep(this.periodMs / 2));
    if (this.stopping.requested) throw new StoppedError("stopped");
  }
}
