// How an entry point starts: it takes stop signals before it loads anything, and says why when it cannot start.

/**
 * SIGTERM and SIGINT, taken from the first statement of an entry point on. In a container the process is
 * PID 1, which the kernel spares any signal it has no handler for: a `docker stop` that came while the
 * modules were still loading would be lost, and the process would run on until killed. A signal that comes
 * before the role can stop is kept, and handed over when it can.
 */
export class StopSignals {
  private handler: ((signal: string) => void) | undefined;
  /** The first stop asked for before there was a handler. */
  private pending: string | undefined;

  constructor() {
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => this.received(signal));
  }

  /** From now on a stop signal calls `handler`; one that came earlier does so at once. */
  handle(handler: (signal: string) => void): void {
    this.handler = handler;
    if (this.pending) handler(this.pending);
  }

  private received(signal: string): void {
    if (this.handler) this.handler(signal);
    else this.pending ??= signal;
  }
}

/** A process that cannot start says why on stderr, in one line, and exits non-zero. */
export function exitOnStartupError(error: unknown): never {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${process.argv[1]?.split("/").pop() ?? "lottery"}: cannot start: ${message}\n`);
  process.exit(1);
}
