// A bare protocol client for end-to-end tests: it sends whatever bytes a test wants (well-formed
// requests or garbage) and hands back the central's frames as they arrive, so a test can await a reply,
// await the central closing the connection, or check that nothing came.
import type { Socket } from "bun";
import { join } from "node:path";
import {
  decodeMessage,
  encodeMessage,
  FIELD_LENGTH_BYTES,
  FrameDecoder,
  HEADER_BYTES,
  MessageType,
  type Message,
} from "../../lib/protocol/index.ts";
import { mulberry32 } from "../../lib/util/random.ts";
import { SocketWriter } from "../../lib/transport/socket-writer.ts";

interface Waiter {
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
}

/** The central's answers are small; a larger frame from it is itself a failure worth seeing. */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

export class RawClient {
  /** Every message received so far, in arrival order (taken or not by `next`). */
  readonly received: Message[] = [];
  /** Frames from the central that did not decode (there must be none). */
  readonly badFrames: string[] = [];
  private taken = 0;
  private readonly waiters: Waiter[] = [];
  private readonly decoder = new FrameDecoder(MAX_REPLY_BYTES);
  private readonly closing = Promise.withResolvers<void>();
  private socket!: Socket<RawClient>;
  private writer!: SocketWriter;
  private failure: Error | undefined;
  private drained: (() => void)[] = [];
  private arrivals: { count: number; resolve: () => void }[] = [];
  private localPort = 0;

  private constructor() {}

  /**
   * Connects on plain TCP, or with `tls` (a client certificate or none, and the CA to check the central
   * by) over TLS: then it resolves once the handshake is done, since nothing can be written before it.
   * A failed handshake rejects, with the TLS library's reason.
   */
  /**
   * Over TLS (gen-certs' layout): checks the central by the CA in `caDir` and presents agency `id`'s
   * certificate from `certDir`, or none when `id` is undefined.
   */
  static async connectTls(port: number, caDir: string, id?: number, certDir = caDir): Promise<RawClient> {
    const pem = (dir: string, name: string) => Bun.file(join(dir, name)).text();
    const identity = id === undefined ? {} : { cert: await pem(certDir, `agency-${id}.crt`), key: await pem(certDir, `agency-${id}.key`) };
    return RawClient.connect(port, "127.0.0.1", { ...identity, ca: await pem(caDir, "ca.crt") });
  }

  static async connect(port: number, host = "127.0.0.1", tls?: { cert?: string; key?: string; ca: string; serverName?: string }): Promise<RawClient> {
    const client = new RawClient();
    const handshake = Promise.withResolvers<void>();
    const socket = await Bun.connect<RawClient>({
      hostname: host,
      port,
      data: client,
      tls: tls && { serverName: "localhost", ...tls },
      socket: {
        handshake: (_socket, success, error) => (success ? handshake.resolve() : handshake.reject(new Error(error?.message ?? "TLS handshake failed"))),
        data: (socket, chunk) => socket.data.onData(chunk),
        drain: (socket) => socket.data.onDrain(),
        close: (socket) => {
          socket.data.onClose(new Error("the central closed the connection"));
          handshake.reject(new Error("the central closed the connection during the handshake"));
        },
        error: (socket, error) => socket.data.onClose(error),
      },
    });
    client.socket = socket;
    client.writer = new SocketWriter(socket);
    client.localPort = socket.localPort;
    if (tls) await handshake.promise;
    else handshake.promise.catch(() => undefined);
    return client;
  }

  /** Our end's port, kept from the start: a closed socket no longer has one. */
  get port(): number {
    return this.localPort;
  }

  /** The `peer` the central logs for this connection. */
  get peer(): string {
    return `127.0.0.1:${this.localPort}`;
  }

  get isOpen(): boolean {
    return this.failure === undefined;
  }

  /** Resolves once the peer has closed the connection (or it broke). */
  get closed(): Promise<void> {
    return this.closing.promise;
  }

  get isClosed(): boolean {
    return this.failure !== undefined;
  }

  /** Sends raw bytes, queued across short writes. */
  sendBytes(bytes: Uint8Array): void {
    this.writer.write(bytes);
  }

  /** Sends a message; the promise (which callers may ignore) resolves once the kernel has it all. */
  send(message: Message): Promise<void> {
    return this.write(encodeMessage(message));
  }

  /** Sends raw bytes and resolves once the kernel has them all (or the connection closed). */
  write(bytes: Uint8Array): Promise<void> {
    this.sendBytes(bytes);
    return this.flushed();
  }

  /**
   * One write without queueing: returns how many bytes the kernel took. For a client that floods the
   * central and must notice when it stops taking its bytes.
   */
  tryWrite(bytes: Uint8Array): number {
    if (this.failure) return 0;
    return Math.max(this.socket.write(bytes), 0);
  }

  /** Resolves on the next `drain` event, or when the connection closes. */
  whenWritable(): Promise<void> {
    if (this.failure) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** Stops reading: what the central sends piles up in the kernel, then in the central. */
  pauseReading(): void {
    this.socket.pause();
  }

  /** Closes at once (a reset), without the graceful FIN of `close`. */
  terminate(): void {
    if (!this.failure) this.socket.terminate();
  }

  /** The next message not yet taken; rejects if the connection closes first. */
  next(): Promise<Message> {
    if (this.taken < this.received.length) return Promise.resolve(this.received[this.taken++]!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Resolves once `count` messages have arrived in all, taken or not; never if the connection closes
   * first. For racing what must come first against an answer that must not.
   */
  arrival(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.arrivals.push({ count, resolve }));
  }

  /**
   * The central's next answer, or undefined once it closes the connection without one: for a client it
   * must turn away unanswered. Whichever comes first wins, so a central that wrongly serves the client
   * fails the test at once on that answer instead of hanging it until a close that never comes.
   */
  answerOrClose(): Promise<Message | undefined> {
    return Promise.race([this.next().catch(() => undefined), this.closed.then(() => undefined)]);
  }

  /** Sends a message and returns the next reply. */
  request(message: Message): Promise<Message> {
    this.send(message);
    return this.next();
  }

  /** Resolves once everything sent has been handed to the kernel. */
  flushed(): Promise<void> {
    return this.writer.flushed();
  }

  close(): void {
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (type, payload) => {
        const message = decodeMessage(type, payload);
        this.received.push(message);
        for (const arrival of this.arrivals) if (arrival.count <= this.received.length) arrival.resolve();
        this.arrivals = this.arrivals.filter((arrival) => arrival.count > this.received.length);
        const waiter = this.waiters.shift();
        if (waiter) {
          this.taken++;
          waiter.resolve(message);
        }
      });
    } catch (error) {
      // The central must only ever send well-formed frames: surface anything else to the waiting test.
      this.badFrames.push((error as Error).message);
      this.onClose(new Error(`malformed frame from the central: ${(error as Error).message}`));
      this.socket.terminate();
    }
  }

  private onDrain(): void {
    this.writer.drain();
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private onClose(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.writer?.close();
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    for (const resolve of this.drained.splice(0)) resolve();
    this.closing.resolve();
  }
}

/** A frame with any type byte and raw payload: lets tests send types and payloads the encoder refuses. */
export function rawFrame(type: number | string, payload: Uint8Array = new Uint8Array(0), declaredSize = payload.length): Buffer {
  const frame = Buffer.alloc(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(declaredSize, 0);
  frame[4] = typeof type === "string" ? type.charCodeAt(0) : type;
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/** A payload made of length-prefixed UTF-8 fields. */
export function fields(...values: string[]): Buffer {
  return Buffer.concat(
    values.map((value) => {
      const bytes = Buffer.from(value, "utf8");
      const length = Buffer.alloc(FIELD_LENGTH_BYTES);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
}

/** Reproducible "random" bytes, so a garbage test fails the same way every time. */
export function seededBytes(length: number, seed: number): Buffer {
  const next = mulberry32(seed);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}

/** An echo request carrying `text`. */
export const echo = (text: string): Message => ({ type: MessageType.Echo, payload: new TextEncoder().encode(text) });
