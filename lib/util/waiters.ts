// What waits for a condition of an object to hold again (a queue emptied, a socket flushed, a connection
// gone): the promise is made only once something waits, as most such objects are never waited on.

/** A settled promise, for a condition that already holds. */
export const ALREADY = Promise.resolve();

/** Everything waiting for one condition; `wake` when it holds. */
export class Waiters {
  private waiting: PromiseWithResolvers<void> | undefined;

  /** Resolves at the next wake(). */
  wait(): Promise<void> {
    return (this.waiting ??= Promise.withResolvers<void>()).promise;
  }

  /** Resolves everything waiting so far; a later wait() waits for the next wake(). */
  wake(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    waiting.resolve();
  }
}
