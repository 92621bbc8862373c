import type { Socket, TCPSocketListener } from "bun";
import type { BetBlock } from "../bet-block.ts";
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
  writeMessage,
  type Message,
} from "../protocol/index.ts";
import { SocketWriter } from "../socket-writer.ts";
import { BetStore, StorageFailedError } from "../store.ts";
import type { CentralConfig } from "./config.ts";
import { DrawCancelledError, Lottery, RefusedError, type AdmittedBatch } from "./lottery.ts";

/** Requests one connection may have in progress before we stop reading from it (bounded memory). */
const MAX_OUTSTANDING_REQUESTS = 64;
/** Reply bytes a connection may have queued for a client that is not reading before we stop reading from it. */
const MAX_QUEUED_REPLY_BYTES = 1024 * 1024;
/**
 * Bets received and not yet durable, across all connections, beyond which the central stops reading
 * from every connection: however many agencies pipeline their windows, the store's backlog (and so
 * memory) stays bounded, and each group commit stays a reasonable size.
 */
const MAX_PENDING_BETS = 16 * 1024;
/** How long a hang-up waits for a client to take its last answers, and then to close. */
const HANG_UP_GRACE_MS = 1000;
/** How often idle connections are looked for. */
const IDLE_SWEEP_MS = 1000;

interface Connection {
  peer: string;
  decoder: FrameDecoder;
  writer: SocketWriter;
  /** The agency named by this connection's hello, if any. */
  agency: number | undefined;
  /** Replies leave in request order: each waits for the one before it. */
  replies: Promise<void>;
  outstanding: number;
  paused: boolean;
  lastActivity: number;
  /** Replaced by a newer connection of the same agency: nothing more is taken from it. */
  superseded: boolean;
  /**
   * An agency's session (after a hello) had a batch refused: its later batches, already in flight behind
   * it, are refused too, so that what is stored of the agency stays a prefix of what it sent.
   */
  batchRefused: boolean;
  closed: boolean;
  /** Resolved by the close event. */
  gone: PromiseWithResolvers<void>;
}

type ClientSocket = Socket<Connection>;

/**
 * The central's TCP side: accepts agencies, turns their bytes into messages, hands each request to the
 * lottery and the store, and answers every request in order on its connection.
 */
export class CentralServer {
  private listener: TCPSocketListener<Connection> | undefined;
  private readonly connections = new Set<ClientSocket>();
  private readonly agencySockets = new Map<number, ClientSocket>();
  private idleSweep: ReturnType<typeof setInterval> | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private failed = false;
  /** Bets admitted and queued in the store, not yet durable. */
  private pendingBets = 0;
  /** Every paused connection: any of them may be waiting only for the store's backlog to drain. */
  private readonly paused = new Set<ClientSocket>();
  /** Encodes every reply; each is handed to its socket writer (which copies what it keeps) at once. */
  private readonly replyWriter = new FrameWriter(256);

  private constructor(
    private readonly config: CentralConfig,
    private readonly log: Logger,
    private readonly lottery: Lottery,
    private readonly store: BetStore<AdmittedBatch>,
    private readonly onFatal: (error: Error) => void,
  ) {}

  /**
   * Recovers the stored state, then listens. `onFatal` is called if the storage fails: the server has
   * then dropped every connection unanswered (agencies retry) and the process must end. `syncFile`
   * replaces fdatasync, for tests that make the storage fail.
   */
  static async start(
    config: CentralConfig,
    log: Logger,
    onFatal: (error: Error) => void,
    syncFile?: (fd: number) => Promise<void>,
  ): Promise<CentralServer> {
    const lottery = new Lottery(config.agencies, log);
    const store = new BetStore<AdmittedBatch>(config.storagePath, config.storageSync, (batch) => lottery.recordCommitted(batch), syncFile);
    const recovery = await store.open((bet) => lottery.recordStored(bet));
    if (recovery.cutBytes > 0) {
      log.warning("recuperacion_corte", "success", { storage: config.storagePath, cut_bytes: recovery.cutBytes });
    }
    log.info("recuperacion", "success", {
      bets: recovery.bets,
      ended: recovery.ended.join(",") || "none",
    });
    lottery.restoreEnded(recovery.ended);

    const server = new CentralServer(config, log, lottery, store, onFatal);
    server.listen();
    return server;
  }

  get port(): number {
    return this.listener?.port ?? 0;
  }

  private listen(): void {
    this.listener = Bun.listen<Connection>({
      hostname: "0.0.0.0",
      port: this.config.port,
      socket: {
        open: (socket) => this.onOpen(socket),
        data: (socket, chunk) => this.onData(socket, chunk),
        drain: (socket) => {
          socket.data.writer.drain();
          this.updateFlow(socket);
        },
        close: (socket) => this.onClose(socket),
        error: (socket, error) => this.log.warning("connection", "fail", { peer: socket.data?.peer ?? "?", error: error.message }),
      },
    });
    this.log.info("listen", "success", { port: this.listener.port });
    if (this.config.idleTimeoutSeconds > 0) {
      this.idleSweep = setInterval(() => this.closeIdle(), IDLE_SWEEP_MS);
    }
  }

  private onOpen(socket: ClientSocket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.data = {
      peer,
      decoder: new FrameDecoder(this.config.maxFrameBytes),
      writer: new SocketWriter(socket),
      agency: undefined,
      replies: Promise.resolve(),
      outstanding: 0,
      paused: false,
      lastActivity: performance.now(),
      superseded: false,
      batchRefused: false,
      closed: false,
      gone: Promise.withResolvers<void>(),
    };
    if (this.stopping || this.connections.size >= this.config.maxConnections) {
      const reason = this.stopping ? "the central is shutting down" : `too many connections (${this.config.maxConnections})`;
      this.log.warning("conexion_rechazada", "fail", { peer, reason });
      socket.data.writer.write(encodeMessage({ type: MessageType.Error, reason }));
      socket.end();
      socket.data.closed = true;
      return;
    }
    this.connections.add(socket);
    this.log.debug("conexion", "success", { peer });
  }

  private onData(socket: ClientSocket, chunk: Buffer): void {
    const connection = socket.data;
    if (connection.closed || connection.superseded) return;
    connection.lastActivity = performance.now();
    try {
      connection.decoder.push(chunk, (type, payload) => this.onFrame(socket, type, payload));
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
    // While stopping, requests go unanswered: the connection closes and the agency retries elsewhen.
    if (connection.closed || connection.superseded || this.stopping) return;
    let message: Message;
    try {
      message = decodeMessage(type, payload);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.log.warning("frame", "fail", { peer: connection.peer, type: messageName(type), error: error.message });
      this.reply(socket, { type: MessageType.Error, reason: error.message });
      return;
    }
    // handle() runs synchronously up to its first await: a bets frame is checked and its rows are
    // formatted for the store before this callback returns, while its bytes (a view) are still valid.
    this.reply(socket, this.handle(socket, message));
  }

  /** Queues the answer to one request behind the answers to the requests before it. */
  private reply(socket: ClientSocket, answer: Message | Promise<Message>): void {
    const connection = socket.data;
    // An answer may fail before its turn comes (a refused batch behind one still syncing): it must not
    // count as an unhandled rejection, which ends the process. Its turn still sees the failure.
    if (answer instanceof Promise) answer.catch(() => undefined);
    connection.outstanding++;
    this.updateFlow(socket);
    connection.replies = connection.replies.then(async () => {
      let message: Message | undefined;
      try {
        message = await answer;
      } catch (error) {
        if (error instanceof StorageFailedError) return this.fail(error);
        if (!(error instanceof DrawCancelledError)) {
          message = { type: MessageType.Error, reason: this.describeFailure(socket, error) };
        }
      }
      // Gathered with the other replies of this turn (the OKs of one group commit) into one send.
      if (message) connection.writer.writeSoon(writeMessage(this.replyWriter, message).take());
      connection.outstanding--;
      connection.lastActivity = performance.now();
      this.updateFlow(socket);
    });
  }

  /**
   * Reading stops while a connection has too many requests in progress or too many reply bytes its
   * client has not taken, or while the store's backlog is full, and resumes once each is down to half:
   * memory per connection, and for all of them together, stays bounded.
   */
  private updateFlow(socket: ClientSocket): void {
    const connection = socket.data;
    if (connection.closed) return;
    if (this.stopping) {
      // A stopping central reads (and drops) whatever comes, see shutdown().
      if (connection.paused) socket.resume();
      connection.paused = false;
      this.paused.delete(socket);
      return;
    }
    const queued = connection.writer.pending;
    if (!connection.paused) {
      const storeFull = this.pendingBets >= MAX_PENDING_BETS;
      if (connection.outstanding >= MAX_OUTSTANDING_REQUESTS || queued > MAX_QUEUED_REPLY_BYTES || storeFull) {
        connection.paused = true;
        this.paused.add(socket);
        socket.pause();
      }
    } else if (
      connection.outstanding < MAX_OUTSTANDING_REQUESTS / 2 &&
      queued <= MAX_QUEUED_REPLY_BYTES / 2 &&
      this.pendingBets < MAX_PENDING_BETS / 2
    ) {
      connection.paused = false;
      this.paused.delete(socket);
      socket.resume();
    }
  }

  /** The store's backlog shrank: connections paused for it may read again. */
  private releaseThrottled(): void {
    if (this.pendingBets >= MAX_PENDING_BETS / 2) return;
    for (const socket of this.paused) this.updateFlow(socket);
  }

  /**
   * The storage failed: nothing more can be acknowledged. Every connection is dropped unanswered, so
   * agencies reconnect and resume from what a restarted central finds on disk.
   */
  private fail(error: StorageFailedError): void {
    // Once only, and also when a graceful stop is under way: a failed storage always ends in exit 1.
    if (this.failed) return;
    this.failed = true;
    this.stopping = true;
    this.log.log("CRITICAL", "storage", "fail", { storage: this.config.storagePath, error: error.message });
    clearInterval(this.idleSweep);
    this.listener?.stop();
    for (const socket of this.connections) socket.terminate();
    this.onFatal(error);
  }

  private describeFailure(socket: ClientSocket, error: unknown): string {
    if (error instanceof RefusedError) return error.message;
    this.log.error("request", "fail", { peer: socket.data.peer, error: String(error) });
    return "internal error in the central";
  }

  private async handle(socket: ClientSocket, message: Message): Promise<Message> {
    switch (message.type) {
      case MessageType.Bets:
        return this.storeBets(socket, message.agency, message.bets);
      case MessageType.Hello:
        return this.hello(socket, message.agency);
      case MessageType.End:
        return this.end(message.agency);
      case MessageType.WinnersQuery:
        return this.winners(message.agency);
      case MessageType.Echo:
        return message;
      default:
        throw new RefusedError(`unexpected ${messageName(message.type)} message from an agency`);
    }
  }

  private async storeBets(socket: ClientSocket, agency: number, bets: BetBlock): Promise<Message> {
    const connection = socket.data;
    const identified = connection.agency;
    let batch: AdmittedBatch;
    try {
      if (identified !== undefined && identified !== agency) {
        throw new RefusedError(`this connection belongs to agency ${identified}, not ${agency}`);
      }
      if (connection.batchRefused) throw new RefusedError("an earlier batch of this session was refused");
      batch = this.lottery.admit(agency, bets);
    } catch (error) {
      if (identified !== undefined) connection.batchRefused = true;
      this.log.info("apuesta_recibida", "fail", { cantidad: bets.count, agency, error: (error as Error).message });
      throw error;
    }
    // The bets are a view of the received frame, gone once this call awaits: what the log needs is read now.
    const level = batch.count === 1 ? "INFO" : "DEBUG";
    const logged = this.log.enabled(level) ? bets.toFields() : [];
    this.pendingBets += batch.count;
    try {
      await this.store.storeBets(batch);
    } finally {
      this.pendingBets -= batch.count;
      this.releaseThrottled();
    }
    this.log.info("apuesta_recibida", "success", { cantidad: batch.count });
    for (const bet of logged) {
      this.log.log(level, "apuesta_almacenada", "success", { dni: bet.document, numero: Number(bet.number) });
    }
    return { type: MessageType.Ok, count: batch.count };
  }

  /**
   * An agency (re)connects: the newest connection wins, so nothing more is taken from an older one,
   * and the answer is given once every batch already received is on disk. The count is the cursor
   * from which the agency resumes, so no bet is stored twice.
   */
  private async hello(socket: ClientSocket, agency: number): Promise<Message> {
    this.lottery.checkAgency(agency);
    const previous = this.agencySockets.get(agency);
    if (previous && previous !== socket && !previous.data.closed) {
      previous.data.superseded = true;
      this.log.warning("conexion_reemplazada", "success", { agency, peer: previous.data.peer });
      this.reply(previous, { type: MessageType.Error, reason: "replaced by a newer connection of this agency" });
      this.hangUp(previous);
    }
    this.agencySockets.set(agency, socket);
    socket.data.agency = agency;
    await this.store.idle();
    const stored = this.lottery.storedCount(agency);
    this.log.info("agencia_conectada", "success", { agency, stored, ended: this.lottery.endReceived(agency) });
    return { type: MessageType.Welcome, stored };
  }

  private async end(agency: number): Promise<Message> {
    if (this.lottery.beginEnd(agency)) {
      await this.store.recordEnd(agency);
      this.log.info("fin_apuestas", "success", { agency, cantidad: this.lottery.storedCount(agency) });
      this.lottery.completeEnd(agency);
    } else {
      // A repeated END counts once; it is answered once the first one is durable.
      await this.store.idle();
    }
    return { type: MessageType.Ok, count: this.lottery.storedCount(agency) };
  }

  private async winners(agency: number): Promise<Message> {
    const documents = await this.lottery.winners(agency);
    this.log.info("ganadores_enviados", "success", { agency, cant_ganadores: documents.length });
    return { type: MessageType.Winners, documents };
  }

  /**
   * Closes once every reply queued so far has been handed to the socket; a client that does not take
   * them within a grace period is cut off, or it would hold its socket and its replies forever.
   */
  private hangUp(socket: ClientSocket): void {
    const connection = socket.data;
    connection.superseded = true;
    void connection.replies.then(async () => {
      const inTime = (work: Promise<unknown>) =>
        Promise.race([work.then(() => true), Bun.sleep(HANG_UP_GRACE_MS).then(() => false)]);
      // FIN once the answers are out, then keep reading (and dropping) until the peer closes: closing
      // with unread bytes would reset the connection and could destroy the error frame on its way.
      if (await inTime(connection.writer.flushed())) {
        socket.shutdown();
        if (await inTime(connection.gone.promise)) return;
      }
      socket.terminate();
    });
  }

  private onClose(socket: ClientSocket): void {
    const connection = socket.data;
    if (!connection || connection.closed) return;
    connection.closed = true;
    connection.gone.resolve();
    connection.writer.close();
    this.connections.delete(socket);
    this.paused.delete(socket);
    if (connection.agency !== undefined && this.agencySockets.get(connection.agency) === socket) {
      this.agencySockets.delete(connection.agency);
    }
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
    const limit = performance.now() - this.config.idleTimeoutSeconds * 1000;
    for (const socket of this.connections) {
      const connection = socket.data;
      if (connection.outstanding === 0 && connection.lastActivity < limit && !connection.superseded) {
        this.log.warning("conexion_inactiva", "success", { peer: connection.peer, idle_seconds: this.config.idleTimeoutSeconds });
        this.reply(socket, { type: MessageType.Error, reason: `idle for ${this.config.idleTimeoutSeconds} s` });
        this.hangUp(socket);
      }
    }
  }

  /**
   * Graceful stop: no new connections or requests; batches already received finish their write and
   * their OK (for a bounded time); then each connection, the listener and the store are closed.
   */
  shutdown(signal: string): Promise<void> {
    // A second signal waits for the stop already under way instead of cutting it short.
    this.stopped ??= this.stop(signal);
    return this.stopped;
  }

  private async stop(signal: string): Promise<void> {
    this.stopping = true;
    this.log.info("shutdown", "in_progress", { signal });
    clearInterval(this.idleSweep);
    this.listener?.stop();
    this.log.info("close_listener", "success", { port: this.port });

    // One deadline for every wait below: the whole stop takes at most the grace period.
    const deadline = performance.now() + this.config.shutdownGraceSeconds * 1000;
    const inTime = (work: Promise<unknown>) => Promise.race([work, Bun.sleep(Math.max(0, deadline - performance.now()))]);
    await inTime(this.store.idle());
    this.lottery.cancelWaiting();
    const sockets = [...this.connections];
    // Closing a socket with unread bytes makes the kernel reset the connection, and a reset can throw
    // away the OKs still on their way to the agency: so every socket is read (and what arrives dropped)
    // until its agency has seen our FIN and closed too.
    for (const socket of sockets) this.updateFlow(socket);
    await inTime(Promise.all(sockets.map((socket) => socket.data.replies.then(() => socket.data.writer.flushed()))));
    for (const socket of sockets) {
      // FIN only (end() would close the descriptor): reading goes on until the agency closes too.
      socket.shutdown();
      this.log.info("close_connection", "success", { peer: socket.data.peer, agency: socket.data.agency ?? "none" });
    }
    await inTime(Promise.all(sockets.map((socket) => socket.data.gone.promise)));
    for (const socket of sockets) if (!socket.data.closed) socket.terminate();
    await inTime(this.store.close());
    this.log.info("close_store", "success", { storage: this.config.storagePath });
    this.log.info("shutdown", "success", { signal });
  }
}
