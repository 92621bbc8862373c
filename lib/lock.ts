/**
 * Mutual exclusion for async work on one event loop: each task starts only after the one before it
 * has settled, in the order they were queued (a promise chain, so no task is ever interleaved).
 */
export class PromiseLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(task);
    // The chain must go on whether this task failed or not; the caller sees its own failure.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.run(() => undefined);
  }
}
