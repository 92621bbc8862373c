import type { TCPSocketListener } from "bun";
import type { Logger } from "../log.ts";
import {
  encodeMessage,
  FrameTooLargeError,
  FrameWriter,
  MessageDecoder,
  MessageType,
  messageName,
  ProtocolError,
  SHUTTING_DOWN_REASON,
  tooManyConnectionsReason,
  type Message,
} from "../protocol/index.ts";
import type { TlsMaterial } from "../tls.ts";
import { beforeDeadline } from "../util/deadline.ts";
import { Link, newConnection, releaseChunk, whenGone, type ClientSocket, type Connection } from "./connection.ts";
import { FlowControl } from "./flow-control.ts";
import type { ReplySlot } from "./reply-queue.ts";
import type { Backlog } from "./backlog.ts";
import type { Session, SessionFactory, TransportCounters } from "./session.ts";

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

/**
 * The central's connection mechanics, apart from what the requests mean: accepts clients up to a limit,
 * decodes their frames, hands each request to the connection's session and sends the answers in request
 * order (ReplyQueue), stops reading from a connection or from all while too much is in progress
 * (FlowControl), hangs up idle or misbehaving clients, and closes everything gracefully on a stop.
 */
export class ConnectionServer {
  private listener: TCPSocketListener<Connection> | undefined;
  /** Connections counted toward the limit: accepted, or handshaking toward it, and not yet closed. */
  private readonly connections = new Set<ClientSocket>();
  /** TLS sockets whose handshake has not finished, refused ones included (they wait for it to hear why). */
  private readonly handshaking = new Set<ClientSocket>();
  private readonly flow: FlowControl;
  private idleSweep: ReturnType<typeof setInterval> | undefined;
  private handshakeSweep: ReturnType<typeof setInterval> | undefined;
  private stopping = false;
  /** Decodes every connection's frames, one at a time (see MessageDecoder). */
  private readonly messages = new MessageDecoder();
  /** Encodes every reply; each is handed to its socket writer (which copies what it keeps) at once. */
  private readonly replyFrames = new FrameWriter(256);
  /** A session's hang-up (ConnectionLink.hangUp): one for every connection, told which. */
  private readonly sessionHangUp = (socket: ClientSocket, reason: string): void => {
    // Already going: its last answers are on their way.
    if (socket.data.phase === "open") this.hangUpWith(socket, reason);
  };

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly sessions: SessionFactory,
    backlog: Backlog,
    private readonly log: Logger,
    private readonly counters: TransportCounters = { accessDeniedTotal: 0 },
  ) {
    this.flow = new FlowControl(backlog);
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
    socket.data = newConnection(socket, this.limits.maxFrameBytes, Boolean(this.limits.tls));
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
    // Cut off meanwhile (its handshake took too long, or the central stopped).
    if (connection.phase === "closed") return;
    if (!success || !socket.authorized) {
      const reason = error?.message ?? socket.getAuthorizationError()?.message ?? "client certificate not verified";
      this.log.warning("tls", "fail", { peer: connection.peer, error: reason });
      this.counters.accessDeniedTotal++;
      return this.drop(socket);
    }
    if (connection.refusal) return this.refuse(socket);
    // A certificate may carry several CNs (an array): that names no one client.
    const cn: unknown = socket.getPeerCertificate()?.subject?.CN;
    this.accept(socket, typeof cn === "string" ? cn : "");
  }

  private accept(socket: ClientSocket, identity: string | undefined): void {
    socket.data.phase = "open";
    this.flow.start(socket);
    socket.data.session = this.sessions.open(new Link(socket, identity, this.sessionHangUp));
    this.log.debug("conexion", "success", { peer: socket.data.peer, ...(identity !== undefined && { identity }) });
  }

  /** Over the limit, or stopping: the client is told why (it may retry) and the connection closed. */
  private refuse(socket: ClientSocket): void {
    const { peer, refusal: reason } = socket.data;
    this.log.warning("conexion_rechazada", "fail", { peer, reason: reason! });
    socket.data.writer.write(encodeMessage({ type: MessageType.Error, reason: reason! }));
    socket.end();
    socket.data.phase = "closed";
  }

  private onData(socket: ClientSocket, chunk: Buffer): void {
    const connection = socket.data;
    // Only an open connection's bytes are requests: a hung-up one is read to its end and dropped.
    if (connection.phase !== "open") return;
    connection.lastActivity = performance.now();
    try {
      connection.decoder.push(chunk, (type, payload) => this.onFrame(socket, type, payload));
      releaseChunk(chunk);
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
    // A frame after one that hung the connection up, or while stopping: unanswered (the client retries elsewhen).
    if (connection.phase !== "open" || this.stopping) return;
    let message: Message;
    try {
      // Valid until the next frame is decoded: a session reads what it keeps of it before this callback returns.
      message = this.messages.decode(type, payload);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.log.warning("frame", "fail", { peer: connection.peer, type: messageName(type), error: error.message });
      connection.session!.malformed(type);
      this.reply(socket, { type: MessageType.Error, reason: error.message });
      return;
    }
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
    const { replies, peer } = socket.data;
    if (!(answer instanceof Promise)) {
      replies.addSettled(answer);
      this.updateFlow(socket);
      return this.writeAnswers(socket);
    }
    const slot = replies.addPending();
    this.updateFlow(socket);
    // Handled at once: an answer that fails before its turn must not count as an unhandled rejection,
    // which ends the process.
    answer.then(
      (message) => this.settle(socket, slot, message),
      (error) => {
        // A fault of ours costs this request, not the connection or the central.
        this.log.error("request", "fail", { peer, error: String(error) });
        this.settle(socket, slot, { type: MessageType.Error, reason: "internal error in the central" });
      },
    );
  }

  private settle(socket: ClientSocket, slot: ReplySlot, message: Message | undefined): void {
    socket.data.replies.settle(slot, message);
    this.writeAnswers(socket);
  }

  private writeAnswers(socket: ClientSocket): void {
    const connection = socket.data;
    if (connection.replies.writeSettled(connection.writer, this.replyFrames) === 0) return;
    connection.lastActivity = performance.now();
    this.updateFlow(socket);
  }

  /** After anything that changes a connection's load, or the backlog: see FlowControl. */
  private updateFlow(socket: ClientSocket): void {
    const { phase } = socket.data;
    // Not accepted yet, or gone: nothing of it is read as requests.
    if (phase === "handshaking" || phase === "closed") return;
    // Hung up, or the central stopping: read to its end, so that its close is seen and nothing unread
    // resets it (see hangUp and close).
    if (phase === "hung-up" || this.stopping) return this.flow.drain(socket);
    this.flow.update(socket);
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
    connection.phase = "hung-up";
    this.updateFlow(socket);
    void connection.replies.whenEmpty().then(async () => {
      const inGrace = (work: Promise<unknown>) => beforeDeadline(work, performance.now() + HANG_UP_GRACE_MS);
      // FIN once the answers are out, then keep reading (and dropping) until the peer closes: closing
      // with unread bytes would reset the connection and could destroy the error frame on its way.
      if (await inGrace(connection.writer.flushed())) {
        socket.shutdown();
        if (await inGrace(whenGone(connection))) return;
      }
      socket.terminate();
    });
  }

  private onClose(socket: ClientSocket): void {
    const connection = socket.data;
    // A refused connection was told why and ended: it was never counted.
    if (!connection || connection.phase === "closed") return;
    connection.phase = "closed";
    connection.gone.wake();
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
      // Only an open connection can be idle: a handshaking one has its own timeout, a hung-up one is closing.
      if (connection.phase !== "open") continue;
      // Requests in progress (one a session holds, however long) are not silence; one waiting for the backlog
      // was paused by the central.
      if (connection.replies.length > 0 || connection.lastActivity >= limit || this.flow.isWaiting(socket)) continue;
      this.log.warning("conexion_inactiva", "success", { peer: connection.peer, idle_seconds: seconds });
      this.hangUpWith(socket, `idle for ${seconds} s`);
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
    socket.data.phase = "closed";
    socket.terminate();
  }

  /** The connection is no longer counted, read, waited on or timed. */
  private forget(socket: ClientSocket): void {
    this.connections.delete(socket);
    this.handshaking.delete(socket);
    this.flow.forget(socket);
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
    const sockets = [...this.connections];
    // Closing a socket with unread bytes makes the kernel reset the connection, and a reset can throw
    // away the answers still on their way to the client: so every socket is read (and what arrives
    // dropped) until its client has seen our FIN and closed too.
    for (const socket of sockets) this.updateFlow(socket);
    await beforeDeadline(Promise.all(sockets.map((socket) => socket.data.replies.whenEmpty().then(() => socket.data.writer.flushed()))), deadline);
    for (const socket of sockets) {
      // FIN only (end() would close the descriptor): reading goes on until the client closes too.
      socket.shutdown();
      this.log.info("close_connection", "success", { peer: socket.data.peer, ...socket.data.session?.logFields() });
    }
    await beforeDeadline(Promise.all(sockets.map((socket) => whenGone(socket.data))), deadline);
    for (const socket of sockets) if (socket.data.phase !== "closed") socket.terminate();
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
