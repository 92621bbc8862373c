import type { Socket, TCPSocketListener } from "bun";
import type { Logger } from "../log.ts";
import {
  decodeMessage,
  encodeMessage,
  FrameDecoder,
  FrameTooLargeError,
  FrameWriter,
  MessageType,
  messageName,
  ProtocolError,
  SHUTTING_DOWN_REASON,
  tooManyConnectionsReason,
  writeMessage,
  type Message,
} from "../protocol/index.ts";
import { SocketWriter } from "./socket-writer.ts";
import { RangesScratch } from "../bet/bet-block.ts";
import type { TlsMaterial } from "../tls.ts";
import type { Backlog, ConnectionLink, Session, SessionFactory } from "./session.ts";
import { CentralStats } from "../central/stats.ts";

/** Requests one connection may have in progress before we stop reading from it (bounded memory). */
const MAX_OUTSTANDING_REQUESTS = 64;
/** Reply bytes a connection may have queued for a client that is not reading before we stop reading from it. */
const MAX_QUEUED_REPLY_BYTES = 1024 * 1024;
/**
 * Bets a connection let back in after the backlog was full is reckoned to bring (an agency's default
 * batch): waiting connections read again oldest first, only as many as the backlog's room holds.
 */
const BETS_PER_READER = 128;
/** How long a hang-up waits for a client to take its last answers, and then to close. */
const HANG_UP_GRACE_MS = 1000;
/** How often idle connections, and TLS handshakes that take too long, are looked for. */
const IDLE_SWEEP_MS = 1000;
/**
 * How long a TLS client has to finish its handshake, whatever the idle timeout (which may be off): a
 * client that connects and never says a word would otherwise hold a descriptor for good.
 */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ConnectionLimits {
  /** The host or address to listen on (0.0.0.0: every interface). */
  host: string;
  port: number;
  /** With a certificate, key and CA (PEM): TLS only, and every client must present a certificate of that CA. */
  tls: TlsMaterial | undefined;
  maxConnections: number;
  maxFrameBytes: number;
  /** 0: never close a connection for being idle. */
  idleTimeoutSeconds: number;
  /** How long a TLS client may take over its handshake (default HANDSHAKE_TIMEOUT_MS). */
  handshakeTimeoutMs?: number;
}

interface Connection {
  peer: string;
  decoder: FrameDecoder;
  writer: SocketWriter;
  /** Set once the connection is accepted (on TLS, once its certificate is verified). */
  session: Session | undefined;
  /** Why the connection is refused, sent to the client as soon as it can be (on TLS, after the handshake). */
  refusal: string | undefined;
  /**
   * Answers not yet written, in request order: each leaves once it and every one before it are settled.
   * Their count is the requests in progress.
   */
  answers: QueuedAnswer[];
  /** Called once every answer queued so far has been written (see allAnswered). */
  answered: (() => void)[] | undefined;
  /** Too many requests in progress or reply bytes not taken: not read until both are down to half. */
  throttled: boolean;
  /** Reading is paused (throttled, or waiting for the backlog, see ConnectionServer.waiting). */
  paused: boolean;
  lastActivity: number;
  /** Hung up (replaced, idle, a bad frame): nothing more is taken from it. */
  hungUp: boolean;
  closed: boolean;
  /** Resolved by the close event; made only when something waits for it (see whenGone). */
  gone: PromiseWithResolvers<void> | undefined;
}

type ClientSocket = Socket<Connection>;

/** One request's answer in its connection's queue; undefined for none (the connection is closing). */
interface QueuedAnswer {
  settled: boolean;
  message: Message | undefined;
}

/** A settled promise, for a connection with nothing left to wait for. */
const NOTHING_PENDING = Promise.resolve();
/** The queue of every connection with no answer pending (frozen: it is never pushed to). */
const NO_ANSWERS: QueuedAnswer[] = Object.freeze([]) as unknown as QueuedAnswer[];

/** What a session may do with its connection; the hang-up itself is the server's, shared by all. */
class Link implements ConnectionLink {
  constructor(
    private readonly socket: ClientSocket,
    readonly identity: string | undefined,
    private readonly hangUpFor: (socket: ClientSocket, reason: string) => void,
  ) {}

  get peer(): string {
    return this.socket.data.peer;
  }

  get ip(): string {
    return this.socket.remoteAddress;
  }

  hangUp(reason: string): void {
    this.hangUpFor(this.socket, reason);
  }
}

/**
 * Gives a received chunk's memory back at once: every frame in it has been handled, and whatever
 * outlives the data callback was copied (a cut frame by the decoder, the rest by the sessions). Bun
 * reads each chunk into a buffer of its own; left to the collector, read chunks piled up by tens of MB
 * at 10,000 connections. Only a buffer that is this chunk alone is let go.
 */
function release(chunk: Buffer): void {
  const buffer = chunk.buffer;
  if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) buffer.transfer(0);
}

/** Resolves once the connection has closed. */
function whenGone(connection: Connection): Promise<void> {
  if (connection.closed) return NOTHING_PENDING;
  connection.gone ??= Promise.withResolvers<void>();
  return connection.gone.promise;
}

/**
 * The central's connection mechanics, apart from what the requests mean: accepts clients up to a limit,
 * decodes their frames, hands each request to the connection's session and sends the answers in request
 * order, stops reading from a connection (or from all) while too much is in progress, hangs up idle or
 * misbehaving clients, and closes everything gracefully on a stop.
 */
export class ConnectionServer {
  private listener: TCPSocketListener<Connection> | undefined;
  private readonly connections = new Set<ClientSocket>();
  /** Connections being read: when the backlog fills, these (and only these) are paused. */
  private readonly readers = new Set<ClientSocket>();
  /**
   * Connections paused by a full backlog, in the order they stopped (a Set keeps insertion order): they
   * read again oldest first, as many as the backlog's room holds, so that thousands of connections
   * resuming at once cannot bring in thousands of frames together.
   */
  private readonly waiting = new Set<ClientSocket>();
  /** Waiting connections were let in this turn of the event loop; more may follow in the next. */
  private admitting = false;
  /** TLS sockets whose handshake has not finished, refused ones included (they wait for it to hear why). */
  private readonly handshaking = new Set<ClientSocket>();
  private idleSweep: ReturnType<typeof setInterval> | undefined;
  private handshakeSweep: ReturnType<typeof setInterval> | undefined;
  private stopping = false;
  /** The field ranges of the bets frame being handled (see RangesScratch). */
  private readonly ranges = new RangesScratch();
  /** Encodes every reply; each is handed to its socket writer (which copies what it keeps) at once. */
  private readonly replyWriter = new FrameWriter(256);
  /** A session's hang-up (ConnectionLink.hangUp): one for every connection, told which. */
  private readonly sessionHangUp = (socket: ClientSocket, reason: string): void => {
    if (!socket.data.closed && !socket.data.hungUp) this.hangUpWith(socket, reason);
  };

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly sessions: SessionFactory,
    private readonly backlog: Backlog,
    private readonly log: Logger,
    private readonly stats = new CentralStats(),
  ) {
    backlog.onLow(() => this.admitWaiting());
  }

  get port(): number {
    return this.listener?.port ?? 0;
  }

  /** Connections accepted and not yet closed. */
  get open(): number {
    return this.connections.size;
  }

  listen(): void {
    const { tls } = this.limits;
    this.listener = Bun.listen<Connection>({
      hostname: this.limits.host,
      port: this.limits.port,
      // rejectUnauthorized makes the TLS library refuse a client without a certificate; one signed by
      // another CA still completes the handshake, unauthorized, and onHandshake turns it away.
      tls: tls && { ...tls, requestCert: true, rejectUnauthorized: true },
      socket: {
        open: (socket) => this.onOpen(socket),
        handshake: (socket, success, error) => this.onHandshake(socket, success, error),
        data: (socket, chunk) => this.onData(socket, chunk),
        drain: (socket) => {
          socket.data.writer.drain();
          this.updateFlow(socket);
        },
        close: (socket) => this.onClose(socket),
        error: (socket, error) => this.log.warning("connection", "fail", { peer: socket.data?.peer ?? "?", error: error.message }),
      },
    });
    this.log.info("listen", "success", { port: this.listener.port, host: this.limits.host });
    if (this.limits.idleTimeoutSeconds > 0) {
      this.idleSweep = setInterval(() => this.closeIdle(), IDLE_SWEEP_MS);
    }
    if (tls) {
      const every = Math.min(IDLE_SWEEP_MS, this.limits.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
      this.handshakeSweep = setInterval(() => this.closeStalledHandshakes(), every);
    }
  }

  private onOpen(socket: ClientSocket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.data = {
      peer,
      decoder: new FrameDecoder(this.limits.maxFrameBytes),
      writer: new SocketWriter(socket),
      session: undefined,
      refusal: undefined,
      answers: NO_ANSWERS,
      answered: undefined,
      throttled: false,
      paused: false,
      lastActivity: performance.now(),
      hungUp: false,
      closed: false,
      gone: undefined,
    };
    if (this.limits.tls) this.handshaking.add(socket);
    if (this.stopping || this.connections.size >= this.limits.maxConnections) {
      socket.data.refusal = this.stopping ? SHUTTING_DOWN_REASON : tooManyConnectionsReason(this.limits.maxConnections);
      // On TLS nothing can be sent before the handshake: the refusal waits for it.
      if (!this.limits.tls) this.refuse(socket);
      return;
    }
    // Counted from now, so that handshakes in progress count toward the limit and the idle sweep.
    this.connections.add(socket);
    if (!this.limits.tls) this.accept(socket, undefined);
  }

  /**
   * On TLS, the client's certificate decides: verified against our CA, its subject CN is the identity the
   * session acts on; anything else (a failed handshake, a certificate of another CA) never reaches the
   * protocol. `success` alone is not enough: a certificate of another CA completes the handshake.
   */
  private onHandshake(socket: ClientSocket, success: boolean, error: Error | null): void {
    const connection = socket.data;
    this.handshaking.delete(socket);
    if (connection.closed) return;
    if (!success || !socket.authorized) {
      const reason = error?.message ?? socket.getAuthorizationError()?.message ?? "client certificate not verified";
      this.log.warning("tls", "fail", { peer: connection.peer, error: reason });
      this.stats.accessDeniedTotal++;
      return this.drop(socket);
    }
    if (connection.refusal) return this.refuse(socket);
    // A certificate may carry several CNs (an array): that names no one agency.
    const cn: unknown = socket.getPeerCertificate()?.subject?.CN;
    this.accept(socket, typeof cn === "string" ? cn : "");
  }

  private accept(socket: ClientSocket, identity: string | undefined): void {
    this.readers.add(socket);
    socket.data.session = this.sessions.open(new Link(socket, identity, this.sessionHangUp));
    this.log.debug("conexion", "success", { peer: socket.data.peer, ...(identity !== undefined && { identity }) });
  }

  /** Over the limit, or stopping: the client is told why (agencies retry) and the connection closed. */
  private refuse(socket: ClientSocket): void {
    const { peer, refusal: reason } = socket.data;
    this.log.warning("conexion_rechazada", "fail", { peer, reason: reason! });
    socket.data.writer.write(encodeMessage({ type: MessageType.Error, reason: reason! }));
    socket.end();
    socket.data.closed = true;
  }

  private onData(socket: ClientSocket, chunk: Buffer): void {
    const connection = socket.data;
    if (connection.closed || connection.hungUp || !connection.session) return;
    connection.lastActivity = performance.now();
    try {
      connection.decoder.push(chunk, (type, payload) => this.onFrame(socket, type, payload));
      release(chunk);
    } catch (error) {
      if (error instanceof FrameTooLargeError) {
        // The stream cannot be resynchronised without reading the whole frame: refuse it and hang up.
        this.log.warning("frame", "fail", { peer: connection.peer, error: error.message });
        this.reply(socket, { type: MessageType.Error, reason: error.message });
      } else {
        // A fault of ours while handling this connection's bytes costs that connection, not the central.
        this.log.error("connection", "fail", { peer: connection.peer, error: String(error) });
      }
      this.hangUp(socket);
    }
  }

  private onFrame(socket: ClientSocket, type: number, payload: Buffer): void {
    const connection = socket.data;
    // While stopping, requests go unanswered: the connection closes and the client retries elsewhen.
    if (connection.closed || connection.hungUp || this.stopping) return;
    let message: Message;
    try {
      // The block of a bets frame reads its ranges from the server's one scratch: frames are handled one
      // at a time, and a session reads what it keeps of them before this callback returns.
      message = decodeMessage(type, payload, this.ranges);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.log.warning("frame", "fail", { peer: connection.peer, type: messageName(type), error: error.message });
      connection.session!.malformed(type);
      this.reply(socket, { type: MessageType.Error, reason: error.message });
      return;
    }
    // The session reads the message (a view of the received bytes) before this callback returns.
    let answer: ReturnType<Session["handle"]>;
    try {
      answer = connection.session!.handle(message);
    } catch (error) {
      answer = Promise.reject(error);
    }
    this.reply(socket, answer);
  }

  /** Queues the answer to one request behind the answers to the requests before it. */
  private reply(socket: ClientSocket, answer: ReturnType<Session["handle"]>): void {
    const connection = socket.data;
    if (connection.answers === NO_ANSWERS) connection.answers = [];
    if (!(answer instanceof Promise)) {
      connection.answers.push({ settled: true, message: answer });
      this.updateFlow(socket);
      return this.writeAnswers(socket);
    }
    const queued: QueuedAnswer = { settled: false, message: undefined };
    connection.answers.push(queued);
    this.updateFlow(socket);
    // Handled at once: an answer that fails before its turn must not count as an unhandled rejection,
    // which ends the process.
    answer.then(
      (message) => this.settle(socket, queued, message),
      (error) => {
        // A fault of ours costs this request, not the connection or the central.
        this.log.error("request", "fail", { peer: connection.peer, error: String(error) });
        this.settle(socket, queued, { type: MessageType.Error, reason: "internal error in the central" });
      },
    );
  }

  private settle(socket: ClientSocket, queued: QueuedAnswer, message: Message | undefined): void {
    queued.settled = true;
    queued.message = message;
    this.writeAnswers(socket);
  }

  /** Writes the settled answers at the head of the connection's queue, in order. */
  private writeAnswers(socket: ClientSocket): void {
    const connection = socket.data;
    const { answers } = connection;
    let written = 0;
    for (; written < answers.length && answers[written]!.settled; written++) {
      const { message } = answers[written]!;
      // Gathered with the other replies of this turn (the OKs of one group commit) into one send.
      if (message) connection.writer.writeSoon(writeMessage(this.replyWriter, message).take());
    }
    if (written === 0) return;
    if (written === answers.length) connection.answers = NO_ANSWERS;
    else answers.splice(0, written);
    connection.lastActivity = performance.now();
    if (connection.answers.length === 0 && connection.answered) {
      const waiters = connection.answered;
      connection.answered = undefined;
      for (const resolve of waiters) resolve();
    }
    this.updateFlow(socket);
  }

  /** Resolves once every answer queued on the connection so far has been written. */
  private allAnswered(connection: Connection): Promise<void> {
    if (connection.answers.length === 0) return NOTHING_PENDING;
    return new Promise((resolve) => (connection.answered ??= []).push(resolve));
  }

  /**
   * Reading stops for a connection with too many requests in progress or too many reply bytes its client
   * has not taken, until each is down to half; and for every connection while the backlog is full, after
   * which they take turns (admitWaiting). Memory per connection, and for all of them together, stays
   * bounded.
   */
  private updateFlow(socket: ClientSocket): void {
    const connection = socket.data;
    if (connection.closed || !connection.session) return;
    if (this.stopping || connection.hungUp) {
      // Read (and dropped) until the client closes, see close() and hangUp(): never paused, so that its
      // close can be seen and nothing unread resets the connection.
      this.waiting.delete(socket);
      this.read(socket);
      if (connection.hungUp) this.readers.delete(socket);
      return;
    }
    const queued = connection.writer.queued;
    connection.throttled = connection.throttled
      ? connection.answers.length >= MAX_OUTSTANDING_REQUESTS / 2 || queued > MAX_QUEUED_REPLY_BYTES / 2
      : connection.answers.length >= MAX_OUTSTANDING_REQUESTS || queued > MAX_QUEUED_REPLY_BYTES;
    if (this.backlog.full) this.pauseReaders();
    if (connection.throttled) {
      this.waiting.delete(socket);
      return this.hold(socket);
    }
    if (this.waiting.has(socket)) return;
    // A paused connection free of its own limits takes its turn behind those already waiting.
    if (connection.paused && (this.backlog.full || this.waiting.size > 0)) {
      this.waiting.add(socket);
      return this.admitWaiting();
    }
    this.read(socket);
  }

  /** The backlog is full: every connection being read stops, and waits its turn. */
  private pauseReaders(): void {
    for (const socket of this.readers) {
      this.hold(socket);
      this.waiting.add(socket);
    }
  }

  /**
   * Lets waiting connections read again, oldest first, as many as the backlog's room holds at
   * BETS_PER_READER each, and more in the next turn once what these brought in is counted. Each turn
   * that lets one in is followed by another while some wait, and the backlog calls again each time
   * work finishes while it is low: while the store makes progress, every waiting connection is read.
   */
  private admitWaiting(): void {
    if (this.admitting || this.backlog.full) return;
    let room = this.backlog.room;
    let admitted = 0;
    for (const socket of this.waiting) {
      if (room < BETS_PER_READER && admitted > 0) break;
      this.waiting.delete(socket);
      this.read(socket);
      room -= BETS_PER_READER;
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

  private read(socket: ClientSocket): void {
    if (socket.data.paused) {
      socket.data.paused = false;
      socket.resume();
    }
    this.readers.add(socket);
  }

  private hold(socket: ClientSocket): void {
    if (!socket.data.paused) {
      socket.data.paused = true;
      socket.pause();
    }
    this.readers.delete(socket);
  }

  /** `reason` goes out as an E behind the answers already queued, then the connection closes. */
  private hangUpWith(socket: ClientSocket, reason: string): void {
    this.reply(socket, { type: MessageType.Error, reason });
    this.hangUp(socket);
  }

  /**
   * Closes once every reply queued so far has been handed to the socket; a client that does not take
   * them within a grace period is cut off, or it would hold its socket and its replies forever.
   */
  private hangUp(socket: ClientSocket): void {
    const connection = socket.data;
    connection.hungUp = true;
    this.updateFlow(socket);
    void this.allAnswered(connection).then(async () => {
      const inTime = (work: Promise<unknown>) =>
        Promise.race([work.then(() => true), Bun.sleep(HANG_UP_GRACE_MS).then(() => false)]);
      // FIN once the answers are out, then keep reading (and dropping) until the peer closes: closing
      // with unread bytes would reset the connection and could destroy the error frame on its way.
      if (await inTime(connection.writer.flushed())) {
        socket.shutdown();
        if (await inTime(whenGone(connection))) return;
      }
      socket.terminate();
    });
  }

  private onClose(socket: ClientSocket): void {
    const connection = socket.data;
    if (!connection || connection.closed) return;
    connection.closed = true;
    connection.gone?.resolve();
    connection.writer.close();
    this.forget(socket);
    connection.session?.closed();
    if (connection.decoder.buffered > 0) {
      this.log.warning("frame", "fail", {
        peer: connection.peer,
        error: `connection closed in the middle of a frame (${connection.decoder.buffered} bytes dropped)`,
      });
    }
    this.log.debug("desconexion", "success", { peer: connection.peer });
  }

  /** Connections with nothing in progress that have said nothing for too long are closed. */
  private closeIdle(): void {
    const seconds = this.limits.idleTimeoutSeconds;
    const limit = performance.now() - seconds * 1000;
    for (const socket of this.connections) {
      const connection = socket.data;
      // One waiting for the backlog was paused by the central, not idle.
      if (connection.answers.length === 0 && connection.lastActivity < limit && !connection.hungUp && !this.waiting.has(socket)) {
        this.log.warning("conexion_inactiva", "success", { peer: connection.peer, idle_seconds: seconds });
        this.hangUpWith(socket, `idle for ${seconds} s`);
      }
    }
  }

  /** TLS clients that have not finished their handshake in time are cut off (they never reached the protocol). */
  private closeStalledHandshakes(): void {
    const timeout = this.limits.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    const limit = performance.now() - timeout;
    for (const socket of this.handshaking) {
      // lastActivity is still the time of the open: nothing is read before the handshake.
      if (socket.data.lastActivity >= limit) continue;
      this.log.warning("tls", "fail", { peer: socket.data.peer, error: `no TLS handshake within ${timeout / 1000} s` });
      this.drop(socket);
    }
  }

  /** Closes a connection that never reached the protocol, at once. */
  private drop(socket: ClientSocket): void {
    this.forget(socket);
    socket.data.closed = true;
    socket.terminate();
  }

  /** The connection is no longer counted, read, waited on or timed. */
  private forget(socket: ClientSocket): void {
    this.connections.delete(socket);
    this.handshaking.delete(socket);
    this.readers.delete(socket);
    this.waiting.delete(socket);
  }

  /** No new connections, and requests from now on go unanswered: the first step of a graceful stop. */
  stopAccepting(): void {
    this.stopping = true;
    clearInterval(this.idleSweep);
    this.listener?.stop();
    this.log.info("close_listener", "success", { port: this.port });
  }

  /**
   * The rest of a graceful stop, within `deadline` (a performance.now() time): every connection's queued
   * answers go out, then each is closed in turn.
   */
  async close(deadline: number): Promise<void> {
    const inTime = (work: Promise<unknown>) => Promise.race([work, Bun.sleep(Math.max(0, deadline - performance.now()))]);
    const sockets = [...this.connections];
    // Closing a socket with unread bytes makes the kernel reset the connection, and a reset can throw
    // away the answers still on their way to the client: so every socket is read (and what arrives
    // dropped) until its client has seen our FIN and closed too.
    for (const socket of sockets) this.updateFlow(socket);
    await inTime(Promise.all(sockets.map((socket) => this.allAnswered(socket.data).then(() => socket.data.writer.flushed()))));
    for (const socket of sockets) {
      // FIN only (end() would close the descriptor): reading goes on until the client closes too.
      socket.shutdown();
      this.log.info("close_connection", "success", { peer: socket.data.peer, ...socket.data.session?.logFields() });
    }
    await inTime(Promise.all(sockets.map((socket) => whenGone(socket.data))));
    for (const socket of sockets) if (!socket.data.closed) socket.terminate();
    // Handshakes still under way never reached the protocol: nothing of theirs is waiting to be sent.
    clearInterval(this.handshakeSweep);
    for (const socket of this.handshaking) this.drop(socket);
  }

  /** Drops every connection unanswered at once (the central cannot go on). */
  abort(): void {
    this.stopping = true;
    clearInterval(this.idleSweep);
    clearInterval(this.handshakeSweep);
    this.listener?.stop();
    for (const socket of [...this.handshaking, ...this.connections]) socket.terminate();
  }
}
