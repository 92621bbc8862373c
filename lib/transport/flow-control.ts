import type { ClientSocket, Flow } from "./connection.ts";
import type { Backlog } from "./backlog.ts";

/** Requests one connection may have in progress before we stop reading from it (bounded memory). */
const MAX_OUTSTANDING_REQUESTS = 64;
/** Reply bytes a connection may have queued for a client that is not reading before we stop reading from it. */
const MAX_QUEUED_REPLY_BYTES = 1024 * 1024;

/** What one connection costs now, as flow control weighs it. */
interface Load {
  /** Requests in progress: answers not yet written. */
  requests: number;
  /** Reply bytes its client has not taken. */
  replyBytes: number;
}

/**
 * When the central reads from which connection, so that memory stays bounded however many clients
 * pipeline, in three steps: measure a connection's load and the shared backlog, decide how its reading
 * should stand, act on its socket. A connection over its own limits is throttled until both are down to
 * half; while the backlog is full every connection waits, and they read again oldest first, as many at a
 * time as the room left holds.
 */
export class FlowControl {
  /** Connections being read: when the backlog fills, these (and only these) wait. */
  private readonly readers = new Set<ClientSocket>();
  /**
   * Connections waiting for the backlog, in the order they stopped (a Set keeps insertion order): they
   * read again oldest first, so that thousands resuming at once cannot bring in thousands of frames together.
   */
  private readonly waiting = new Set<ClientSocket>();
  /** Waiting connections were let in this turn of the event loop; more may follow in the next. */
  private admitting = false;

  constructor(private readonly backlog: Backlog) {
    backlog.onLow(() => this.admitWaiting());
  }

  /** A connection starts being read (accepted). */
  start(socket: ClientSocket): void {
    this.readers.add(socket);
  }

  /** Measure, decide, act for one connection: after anything that changes its load or the backlog. */
  update(socket: ClientSocket): void {
    // A full backlog stops every reader at once: the frames already read are what it can take.
    if (this.backlog.full) for (const reader of this.readers) this.act(reader, "waiting");
    const before = socket.data.flow;
    const flow = this.decide(before, this.measure(socket));
    this.act(socket, flow);
    // Out of its own limits into the line: it may be let in at once if there is room.
    if (before === "throttled" && flow === "waiting") this.admitWaiting();
  }

  /**
   * Reads a connection to its end, taking nothing (hung up, or the central stopping): never paused, so
   * that its close is seen and nothing unread resets it; it no longer counts as a reader.
   */
  drain(socket: ClientSocket): void {
    this.resume(socket);
    this.readers.delete(socket);
  }

  /** A connection paused by the central for the backlog: not idle, whatever it last sent. */
  isWaiting(socket: ClientSocket): boolean {
    return this.waiting.has(socket);
  }

  /** The connection is gone: it is neither read nor waiting. */
  forget(socket: ClientSocket): void {
    this.readers.delete(socket);
    this.waiting.delete(socket);
  }

  private measure(socket: ClientSocket): Load {
    const connection = socket.data;
    return { requests: connection.replies.length, replyBytes: connection.writer.queued };
  }

  /** How a connection's reading should stand, from how it stands and its load. */
  private decide(current: Flow, load: Load): Flow {
    // Its own limits come first; once throttled it reads again only at half of them (no flapping).
    const divisor = current === "throttled" ? 2 : 1;
    if (load.requests >= MAX_OUTSTANDING_REQUESTS / divisor || load.replyBytes > MAX_QUEUED_REPLY_BYTES / divisor) return "throttled";
    // A waiting connection keeps its place in the line: admitWaiting lets it in.
    if (current === "waiting" || this.backlog.full) return "waiting";
    // One paused for its own load takes its turn behind those already waiting.
    if (current === "throttled" && this.waiting.size > 0) return "waiting";
    return "reading";
  }

  private act(socket: ClientSocket, flow: Flow): void {
    if (flow === "reading") return this.resume(socket);
    if (socket.data.flow === "reading") socket.pause();
    this.readers.delete(socket);
    if (flow === "waiting") this.waiting.add(socket);
    else this.waiting.delete(socket);
    socket.data.flow = flow;
  }

  private resume(socket: ClientSocket): void {
    if (socket.data.flow !== "reading") {
      socket.data.flow = "reading";
      socket.resume();
    }
    this.waiting.delete(socket);
    this.readers.add(socket);
  }

  /**
   * Lets waiting connections read again, oldest first, as many as the backlog's room holds at
   * its `perReader` each, and more in the next turn once what these brought in is counted. Each turn
   * that lets one in is followed by another while some wait, and the backlog calls again each time work
   * finishes while it is low: while the store makes progress, every waiting connection is read.
   */
  private admitWaiting(): void {
    if (this.admitting || this.backlog.full) return;
    let room = this.backlog.room;
    let admitted = 0;
    for (const socket of this.waiting) {
      if (room < this.backlog.perReader && admitted > 0) break;
      this.resume(socket);
      room -= this.backlog.perReader;
      admitted++;
    }
    if (this.waiting.size === 0) return;
    // Two hops: Bun runs immediates before it polls for I/O, and one queued by an immediate in its next
    // turn, so the second runs only after a poll has handed over what the connections let in brought.
    this.admitting = true;
    setImmediate(() =>
      setImmediate(() => {
        this.admitting = false;
        this.admitWaiting();
      }),
    );
  }
}
