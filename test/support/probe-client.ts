// A bare TCP client for crash and fuzz tests: it sends whatever it is given (valid frames, garbage,
// half frames, floods it never reads replies to) and hands out every frame the central sends back, in order.
import type { Socket } from "bun";
import { decodeMessage, encodeMessage, FrameDecoder, ProtocolError, type Message } from "../../lib/protocol/index.ts";

/** Replies from the central are small; a larger frame from it is itself a failure worth seeing. */
const MAX_REPLY_PAYLOAD = 16 * 1024 * 1024;

interface State {
  client: ProbeClient;
}

export class ProbeClient {
  /** Every message received so far, in arrival order. */
  readonly received: Message[] = [];
  /** Resolves when the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  private readonly closedSignal = Promise.withResolvers<void>();
  private readonly decoder = new FrameDecoder(MAX_REPLY_PAYLOAD);
  private readonly waiting: { resolve: (message: Message) => void; reject: (error: Error) => void }[] = [];
  private unread = 0;
  private socket!: Socket<State>;
  private drained: (() => void) | undefined;
  private isClosed = false;
  private localPort = 0;
  /** Frames from the central that did not decode (there must be none). */
  readonly badFrames: string[] = [];

  private constructor() {
    this.closed = this.closedSignal.promise;
  }

  static async connect(port: number, host = "127.0.0.1"): Promise<ProbeClient> {
    const client = new ProbeClient();
    await Bun.connect<State>({
      hostname: host,
      port,
      data: { client },
      socket: {
        open(socket) {
          socket.data.client.socket = socket;
          socket.data.client.localPort = socket.localPort;
        },
        data(socket, chunk) {
          socket.data.client.onData(chunk);
        },
        drain(socket) {
          const resolve = socket.data.client.drained;
          socket.data.client.drained = undefined;
          resolve?.();
        },
        close(socket) {
          socket.data.client.onClose();
        },
        error(socket) {
          socket.data.client.onClose();
        },
      },
    });
    return client;
  }

  /** Our end's port, kept from the start: a closed socket no longer has one. */
  get port(): number {
    return this.localPort;
  }

  /** The `peer` the central logs for this connection. */
  get peer(): string {
    return `127.0.0.1:${this.port}`;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  send(message: Message): Promise<void> {
    return this.write(encodeMessage(message));
  }

  /**
   * Writes all of `bytes`, waiting for `drain` whenever the kernel takes only part of them. Resolves
   * early, with the rest unsent, if the socket closes.
   */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length && !this.isClosed) {
      const written = this.socket.write(bytes.subarray(offset));
      if (written < 0) break;
      offset += written;
      if (offset < bytes.length) await this.whenWritable();
    }
  }

  /**
   * Writes once without waiting: returns how many bytes the kernel took. For clients that flood the
   * central and must notice when it stops taking their bytes.
   */
  tryWrite(bytes: Uint8Array): number {
    if (this.isClosed) return 0;
    return Math.max(this.socket.write(bytes), 0);
  }

  /** Resolves on the next `drain` event, or when the socket closes. */
  whenWritable(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** The next message not taken yet; rejects if the socket closes before one arrives. */
  next(): Promise<Message> {
    const index = this.received.length - this.unread;
    if (this.unread > 0) {
      this.unread--;
      return Promise.resolve(this.received[index]!);
    }
    if (this.isClosed) return Promise.reject(new Error(`connection ${this.peer} closed with no message to read`));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Stops reading from the socket: what the central sends piles up in the kernel, then in the central. */
  pauseReading(): void {
    this.socket.pause();
  }

  /** Closes our side gracefully. */
  end(): void {
    if (!this.isClosed) this.socket.end();
  }

  /** Closes at once. */
  terminate(): void {
    if (!this.isClosed) this.socket.terminate();
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (type, payload) => this.deliver(decodeMessage(type, payload)));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // The central must only ever send well-formed frames: keep the error for the test to assert on.
      this.badFrames.push(error.message);
      this.socket.terminate();
    }
  }

  private deliver(message: Message): void {
    this.received.push(message);
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(message);
    else this.unread++;
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.drained?.();
    this.drained = undefined;
    for (const waiter of this.waiting.splice(0)) {
      waiter.reject(new Error(`connection ${this.peer} closed while a message was awaited`));
    }
    this.closedSignal.resolve();
  }
}
