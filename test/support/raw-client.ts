// A bare protocol client for end-to-end tests: it sends whatever bytes a test wants (well-formed
// requests or garbage) and hands back the central's frames as they arrive, so a test can await a reply,
// await the central closing the connection, or check that nothing came.
import type { Socket } from "bun";
import {
  decodeMessage,
  DEFAULT_MAX_FRAME_BYTES,
  encodeMessage,
  FIELD_LENGTH_BYTES,
  FrameDecoder,
  HEADER_BYTES,
  MessageType,
  type Message,
} from "../../lib/protocol/index.ts";
import { mulberry32 } from "../../lib/random.ts";
import { SocketWriter } from "../../lib/socket-writer.ts";

interface Waiter {
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
}

export class RawClient {
  /** Every message received so far, in arrival order (taken or not by `next`). */
  readonly received: Message[] = [];
  private taken = 0;
  private readonly waiters: Waiter[] = [];
  private readonly decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES);
  private readonly closing = Promise.withResolvers<void>();
  private socket!: Socket<RawClient>;
  private writer!: SocketWriter;
  private failure: Error | undefined;

  private constructor() {}

  static async connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    const client = new RawClient();
    const socket = await Bun.connect<RawClient>({
      hostname: host,
      port,
      data: client,
      socket: {
        data: (socket, chunk) => socket.data.onData(chunk),
        drain: (socket) => socket.data.writer.drain(),
        close: (socket) => socket.data.onClose(new Error("the central closed the connection")),
        error: (socket, error) => socket.data.onClose(error),
      },
    });
    client.socket = socket;
    client.writer = new SocketWriter(socket);
    return client;
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

  send(message: Message): void {
    this.sendBytes(encodeMessage(message));
  }

  /** The next message not yet taken; rejects if the connection closes first. */
  next(): Promise<Message> {
    if (this.taken < this.received.length) return Promise.resolve(this.received[this.taken++]!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
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
        const waiter = this.waiters.shift();
        if (waiter) {
          this.taken++;
          waiter.resolve(message);
        }
      });
    } catch (error) {
      // The central must only ever send well-formed frames: surface anything else to the waiting test.
      this.onClose(new Error(`malformed frame from the central: ${(error as Error).message}`));
      this.socket.end();
    }
  }

  private onClose(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.writer?.close();
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
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
