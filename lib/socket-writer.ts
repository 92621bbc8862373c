/** The part of a Bun socket that writing needs. */
export interface WritableSocket {
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
}

/**
 * Ordered writes over a socket that may take only part of what it is given: the rest is copied into
 * a queue and goes out on `drain`. Callers may reuse their buffers as soon as `write` returns.
 */
export class SocketWriter {
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly socket: WritableSocket) {}

  /** Bytes accepted but not yet taken by the socket. */
  get pending(): number {
    return this.queuedBytes;
  }

  write(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    if (this.queue.length === 0) {
      const written = this.socket.write(bytes);
      if (written < 0) return this.close();
      if (written === bytes.length) return;
      bytes = bytes.subarray(written);
    }
    // A copy (a Buffer's slice() would be a view of the caller's bytes).
    bytes = new Uint8Array(bytes);
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
  }

  /** Call from the socket's drain handler. */
  drain(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const written = this.socket.write(head);
      if (written < 0) return this.close();
      this.queuedBytes -= written;
      if (written < head.length) {
        this.queue[0] = head.subarray(written);
        return;
      }
      this.queue.shift();
    }
    this.release();
  }

  /** Resolves once everything written so far has been taken by the socket (or the socket closed). */
  flushed(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The socket is gone: nothing queued can be sent any more. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.release();
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
