import type { Socket } from "bun";
import { isIpAddress, type Address } from "../config.ts";
import { decodeMessage, encodeMessage, FrameDecoder, MAX_REPLY_BYTES, type Message } from "../protocol/index.ts";
import { SocketWriter } from "./socket-writer.ts";
import type { TlsMaterial } from "../tls.ts";

/**
 * How long one attempt may take, from the name lookup to a usable connection (TLS handshake included).
 * A SYN to an address nobody holds any more (a central restarted elsewhere) gets no answer, and the
 * kernel would retry it for about two minutes; on a live network an attempt takes milliseconds.
 */
export const CONNECT_TIMEOUT_MS = 3000;

/** The connection to the central broke (or was closed); the work may be retried on a new one. */
export class ConnectionLostError extends Error {
  override readonly name = "ConnectionLostError";
}

/**
 * The peer at the central's address failed the TLS handshake on our side: its certificate is not signed
 * by our CA or does not name the central's host, or it does not speak TLS. It is not the central we
 * were told to trust, and no retry makes it one.
 */
export class CentralUntrustedError extends Error {
  override readonly name = "CentralUntrustedError";
}

/** Addresses of a host name, in the resolver's order. */
export type Resolver = (host: string) => Promise<string[]>;

/**
 * The system's resolver, asked afresh on every call. Bun.connect given a name keeps its answer for up to
 * 30 s (measured on Bun 1.4.5: a changed /etc/hosts entry was not seen by the next Bun.connect, while
 * Bun.dns.lookup saw it at once), so a central that came back on a new address would be missed.
 */
export const systemResolver: Resolver = async (host) => {
  if (isIpAddress(host)) return [host];
  // The system's getaddrinfo: Bun's default on Linux, c-ares, keeps an answer for its DNS TTL (Docker's
  // embedded DNS says 600 s), so after a Swarm rolling restart it gave the old central's address for minutes.
  return (await Bun.dns.lookup(host, { backend: "system" })).map(({ address }) => address);
};

export interface ConnectOptions {
  /** Connect with TLS, presenting this certificate and trusting only this CA; plain TCP when absent. */
  tls?: TlsMaterial;
  resolve?: Resolver;
  /** Which of the host's addresses to use: attempts go round them, so that a dead one is not tried for ever. */
  attempt?: number;
}

/**
 * One connection to the central: frames out through a queued writer, frames in through the shared
 * decoder, replies handed out in arrival order to whoever awaits `receive()`.
 */
export class CentralConnection {
  private readonly inbox: Message[] = [];
  private readonly waiting: { resolve: (message: Message) => void; reject: (error: Error) => void }[] = [];
  // The central is trusted more than its clients: a winners answer may be long.
  private readonly decoder = new FrameDecoder(MAX_REPLY_BYTES);
  /** Settles once the connection can carry frames: at `open` for TCP, at the handshake for TLS. */
  private readonly ready = Promise.withResolvers<void>();
  private writer: SocketWriter | undefined;
  private socket: Socket<CentralConnection> | undefined;
  private failure: Error | undefined;

  private constructor() {}

  /**
   * One connection attempt: resolves the host again, connects, and for TLS completes the handshake.
   * Rejects with CentralUntrustedError when the peer fails TLS verification, otherwise with the
   * reason it could not connect within the time allowed.
   */
  static async open(address: Address, options: ConnectOptions = {}): Promise<CentralConnection> {
    const { tls, resolve = systemResolver, attempt = 1 } = options;
    const connection = new CentralConnection();
    const timer = setTimeout(() => connection.fail(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    try {
      // The lookup counts against the same time: the race ends with the timer's failure of `ready`.
      const addresses = await Promise.race([resolve(address.host), connection.ready.promise.then(() => [])]);
      if (addresses.length === 0) throw new Error(`${address.host} has no address`);
      const hostname = addresses[(attempt - 1) % addresses.length]!;
      Bun.connect<CentralConnection>({
        hostname,
        port: address.port,
        data: connection,
        // The certificate must name the configured host, not the address it resolved to.
        tls: tls && { ...tls, serverName: isIpAddress(address.host) ? undefined : address.host },
        socket: {
          open(socket) {
            socket.data.opened(socket, !tls);
          },
          handshake(socket, success, error) {
            socket.data.handshake(socket, success, error);
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
      }).catch((error: Error) => connection.fail(error));
      await connection.ready.promise;
      return connection;
    } catch (error) {
      connection.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
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

  private opened(socket: Socket<CentralConnection>, usable: boolean): void {
    this.socket = socket;
    // An attempt given up (timed out) may still connect later: that socket is closed at once.
    if (this.failure) socket.end();
    else if (usable) this.becomeReady(socket);
  }

  /**
   * A TLS socket takes no bytes before its handshake (Bun's connect resolves before it, and a write
   * then returns -1), so nothing is written until here.
   */
  private handshake(socket: Socket<CentralConnection>, success: boolean, error: Error | null): void {
    if (success && socket.authorized) return this.becomeReady(socket);
    // A peer that hangs up mid-handshake may just be a central going down: that is retried.
    const code = (error as NodeJS.ErrnoException | null)?.code;
    const reason = error?.message ?? "the central's certificate was not authorized";
    this.fail(code === "ECONNRESET" ? new ConnectionLostError(reason) : new CentralUntrustedError(reason));
  }

  private becomeReady(socket: Socket<CentralConnection>): void {
    if (this.failure) return;
    this.writer = new SocketWriter(socket);
    this.ready.resolve();
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
    this.ready.reject(error);
    this.writer?.close();
    this.socket?.end();
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}
