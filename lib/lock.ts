const SETTLED: Promise<void> = Promise.resolve();

/**
 * Mutual exclusion for async work on one event loop: each task starts only after the one before it
 * has settled, in the order they were queued (a promise chain, so no task is ever interleaved).
 */
export class PromiseLock {
  private tail: Promise<unknown> = SETTLED;
  /** No task is queued or running: idle() has nothing to wait for. */
  private free = true;

  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.free = false;
    const result = this.tail.then(task);
    // The chain must go on whether this task failed or not; the caller sees its own failure.
    const tail = (this.tail = result.catch(() => undefined));
    void tail.then(() => {
      if (this.tail === tail) this.free = true;
    });
    return result;
  }

  /**
   * Resolves once every task queued so far has settled. Free, it queues nothing: thousands of agencies
   * saying hello at once to an idle store cost no task each.
   */
  idle(): Promise<void> {
    return this.free ? SETTLED : this.run(() => undefined);
  }
}
