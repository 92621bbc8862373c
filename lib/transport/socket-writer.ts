import { withCapacity } from "../util/bytes.ts";
import { ALREADY, Waiters } from "../util/waiters.ts";

const NO_BYTES = new Uint8Array(0);

/** Writers with gathered bytes, sent together after the current turn: one immediate for all of them. */
let gathering: SocketWriter[] = [];

function gatherSoon(writer: SocketWriter): void {
  if (gathering.length === 0) setImmediate(sendAllGathered);
  gathering.push(writer);
}

function sendAllGathered(): void {
  const writers = gathering;
  gathering = [];
  for (const writer of writers) writer.sendGathered();
}
/** The gathering buffer's first size: a turn's few small replies fit. */
const MIN_GATHER_BYTES = 256;

/** The part of a Bun socket that writing needs. */
export interface WritableSocket {
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
}

/**
 * Ordered writes over a socket that may take only part of what it is given: the rest is copied into
 * a queue and goes out on `drain`. Callers may reuse their buffers as soon as `write` returns.
 *
 * Small replies answered in one turn of the event loop (the OKs of a group commit) can be gathered
 * with `writeSoon` and go out in one send once the turn's work is done, instead of one send each.
 */
export class SocketWriter {
  /** What the socket did not take yet (made on the first short write: most connections never have one). */
  private queue: Uint8Array[] | undefined;
  private queuedBytes = 0;
  /** Allocated by a writeSoon and let go once sent: a central's thousands of idle connections hold none. */
  private gathered: Uint8Array = NO_BYTES;
  private gatheredBytes = 0;
  /** Woken once everything written so far has been taken (see flushed). */
  private readonly flushes = new Waiters();
  private closed = false;

  constructor(private readonly socket: WritableSocket) {}

  /** Bytes accepted but not yet taken by the socket. */
  get pending(): number {
    return this.queuedBytes + this.gatheredBytes;
  }

  /** Bytes the socket did not take, waiting for its drain (what a client that does not read piles up). */
  get queued(): number {
    return this.queuedBytes;
  }

  write(bytes: Uint8Array): void {
    if (this.gatheredBytes > 0) this.sendGathered();
    this.send(bytes);
  }

  /** Like `write`, but the bytes leave with the others written soon, after the current turn of the event loop. */
  writeSoon(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    this.gathered = withCapacity(this.gathered, Math.max(MIN_GATHER_BYTES, this.gatheredBytes + bytes.length), this.gatheredBytes);
    this.gathered.set(bytes, this.gatheredBytes);
    if (this.gatheredBytes === 0) gatherSoon(this);
    this.gatheredBytes += bytes.length;
  }

  /** Call from the socket's drain handler. */
  drain(): void {
    const queue = this.queue;
    while (queue && queue.length > 0) {
      const head = queue[0]!;
      const written = this.socket.write(head);
      if (written < 0) return this.close();
      this.queuedBytes -= written;
      if (written < head.length) {
        queue[0] = head.subarray(written);
        return;
      }
      queue.shift();
    }
    this.queue = undefined;
    this.release();
  }

  /** Resolves once everything written so far has been taken by the socket (or the socket closed). */
  flushed(): Promise<void> {
    return this.pending === 0 ? ALREADY : this.flushes.wait();
  }

  /** The socket is gone: nothing queued can be sent any more. */
  close(): void {
    this.closed = true;
    this.queue = undefined;
    this.queuedBytes = 0;
    this.gatheredBytes = 0;
    this.release();
  }

  private send(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    if (!this.queue?.length) {
      const written = this.socket.write(bytes);
      if (written < 0) return this.close();
      if (written === bytes.length) return this.release();
      bytes = bytes.subarray(written);
    }
    // A copy (a Buffer's slice() would be a view of the caller's bytes).
    bytes = new Uint8Array(bytes);
    (this.queue ??= []).push(bytes);
    this.queuedBytes += bytes.length;
  }

  /** Sends what writeSoon gathered, if anything (a write or a close may have sent or dropped it). */
  sendGathered(): void {
    if (this.gatheredBytes === 0) return;
    const bytes = this.gathered.subarray(0, this.gatheredBytes);
    this.gathered = NO_BYTES;
    this.gatheredBytes = 0;
    // Whatever the socket does not take is copied into the queue, so the gathering buffer is free again.
    this.send(bytes);
  }

  private release(): void {
    if (this.pending === 0) this.flushes.wake();
  }
}
