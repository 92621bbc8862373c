import type { Socket } from "bun";
import type { Address } from "../config.ts";
import { decodeMessage, encodeMessage, FrameDecoder, type Message } from "../protocol/index.ts";
import { SocketWriter } from "../socket-writer.ts";

/** Largest reply accepted from the central (a winners answer of some 700,000 documents). */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** The connection to the central broke (or was closed); the work may be retried on a new one. */
export class ConnectionLostError extends Error {
  override readonly name = "ConnectionLostError";
}

/**
 * One TCP connection to the central: frames out through a queued writer, frames in through the shared
 * decoder, replies handed out in arrival order to whoever awaits `receive()`.
 */
export class CentralConnection {
  private readonly inbox: Message[] = [];
  private readonly waiting: { resolve: (message: Message) => void; reject: (error: Error) => void }[] = [];
  // The central is trusted more than its clients: a winners answer may be long.
  private readonly decoder = new FrameDecoder(MAX_REPLY_BYTES);
  private writer: SocketWriter | undefined;
  private socket: Socket<CentralConnection> | undefined;
  private failure: Error | undefined;

  private constructor() {}

  /** One connection attempt; rejects when the central cannot be reached. */
  static async open(address: Address): Promise<CentralConnection> {
    const connection = new CentralConnection();
    await Bun.connect<CentralConnection>({
      hostname: address.host,
      port: address.port,
      data: connection,
      socket: {
        open(socket) {
          socket.data.socket = socket;
          socket.data.writer = new SocketWriter(socket);
        },
        data(socket, chunk) {
          socket.data.onData(chunk);
        },
        drain(socket) {
          socket.data.writer?.drain();
        },
        close(socket) {
          socket.data.fail(new ConnectionLostError("the central closed the connection"));
        },
        error(socket, error) {
          socket.data.fail(new ConnectionLostError(`connection error: ${error.message}`));
        },
      },
    });
    return connection;
  }

  send(message: Message): void {
    this.sendFrame(encodeMessage(message));
  }

  /**
   * Sends an already encoded frame (the bets frames, built by the batch encoder). On a broken connection
   * the frame is dropped silently: `receive()` still hands out the replies that arrived before the break
   * and only then reports it, so no OK the central sent is left uncounted.
   */
  sendFrame(frame: Buffer): void {
    if (!this.failure) this.writer!.write(frame);
  }

  /** The next message from the central. */
  receive(): Promise<Message> {
    const message = this.inbox.shift();
    if (message) return Promise.resolve(message);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** A message that has already arrived, if any: for taking every waiting reply at once. */
  poll(): Message | undefined {
    return this.inbox.shift();
  }

  close(): void {
    this.fail(new ConnectionLostError("connection closed"));
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (type, payload) => this.deliver(decodeMessage(type, payload)));
    } catch (error) {
      this.fail(new ConnectionLostError(`bad frame from the central: ${(error as Error).message}`));
    }
  }

  private deliver(message: Message): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(message);
    else this.inbox.push(message);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.writer?.close();
    this.socket?.end();
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}
