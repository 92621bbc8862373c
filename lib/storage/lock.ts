/**
 * Mutual exclusion for async work on one event loop: each task starts only after the one before it
 * has settled, in the order they were queued (a promise chain, so no task is ever interleaved).
 */
export class PromiseLock {
  /** Settles once every task queued so far has (whether it failed or not). */
  private tail: Promise<void> = Promise.resolve();

  run<T>(task: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(task);
    // The chain must go on whether this task failed or not; the caller sees its own failure.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /**
   * Resolves once every task queued so far has settled. It queues nothing: thousands of agencies saying
   * hello at once cost no task each.
   */
  idle(): Promise<void> {
    return this.tail;
  }
}
