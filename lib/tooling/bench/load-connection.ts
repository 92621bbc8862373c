// One of the load generator's connections, acting for one agency: its frames in flight, the answers it
// waits for, and the protocol's checks on each reply.
import type { Socket } from "bun";
import { decodeMessage, encodeMessage, FrameDecoder, MAX_REPLY_BYTES, MessageType, messageName, type Message } from "../../protocol/index.ts";
import { SocketWriter } from "../../transport/socket-writer.ts";
import { float64Array, int32Array, withCapacity } from "../../util/bytes.ts";
import type { TlsMaterial } from "../../tls.ts";

/** What a connection tells the load generator, and the one setting it reads. */
export interface LoadEvents {
  /** Check every OK's count against its frame. */
  readonly verify: boolean;
  /** A frame was sent. */
  onSend(): void;
  /** A frame of `bets` sent at `sentAt` was acknowledged. */
  onAck(connection: AgencyConnection, bets: number, sentAt: number): void;
  /** The run cannot go on: a refusal, a lost connection, a miscount. */
  fail(error: Error): void;
}

/** Send times and bet counts of the frames in flight on one connection, oldest first (OKs come in order). */
class InFlight {
  private times = new Float64Array(64);
  private bets = new Int32Array(64);
  /** The frames in flight are at [head, end). */
  private head = 0;
  private end = 0;

  get length(): number {
    return this.end - this.head;
  }

  push(time: number, bets: number): void {
    if (this.end === this.times.length) this.makeRoom();
    this.times[this.end] = time;
    this.bets[this.end] = bets;
    this.end++;
  }

  /** When the oldest frame was sent. */
  get oldestTime(): number {
    return this.times[this.head]!;
  }

  /** Takes the oldest frame out; returns its bets. */
  shift(): number {
    return this.bets[this.head++]!;
  }

  /** Moves the frames in flight to the front, growing the arrays when they are full. */
  private makeRoom(): void {
    const length = this.length;
    this.times.copyWithin(0, this.head, this.end);
    this.bets.copyWithin(0, this.head, this.end);
    this.head = 0;
    this.end = length;
    this.times = withCapacity(this.times, length + 1, length, float64Array);
    this.bets = withCapacity(this.bets, length + 1, length, int32Array);
  }
}

/** One connection, acting for one agency. */
export class AgencyConnection {
  private readonly decoder = new FrameDecoder(MAX_REPLY_BYTES);
  private writer!: SocketWriter;
  private socket!: Socket<AgencyConnection>;
  readonly inFlight = new InFlight();
  private next = 0;
  acknowledged = 0;
  /** Waits for the answer to a hello, END or query (sent only with no bets in flight). */
  private control: PromiseWithResolvers<Message> | undefined;
  closed = false;

  constructor(
    readonly agency: number,
    private readonly frames: Buffer[],
    private readonly frameBets: number[],
    private readonly load: LoadEvents,
  ) {}

  /** Resolves once the connection can carry frames: at `open` for TCP, after the handshake for TLS. */
  async connect(host: string, port: number, tls: TlsMaterial | undefined): Promise<void> {
    const ready = Promise.withResolvers<void>();
    await Bun.connect<AgencyConnection>({
      hostname: host,
      port,
      data: this,
      tls,
      socket: {
        open(socket) {
          socket.data.socket = socket;
          socket.data.writer = new SocketWriter(socket);
          if (!tls) ready.resolve();
        },
        // A TLS socket takes no bytes before its handshake.
        handshake(socket, success, error) {
          if (success && socket.authorized) ready.resolve();
          else ready.reject(new Error(`agency ${socket.data.agency}: TLS handshake failed: ${error?.message ?? "not authorized"}`));
        },
        data(socket, chunk) {
          socket.data.onData(chunk);
        },
        drain(socket) {
          socket.data.writer.drain();
        },
        close(socket) {
          socket.data.onClose();
        },
        error(socket, error) {
          socket.data.load.fail(new Error(`agency ${socket.data.agency}: connection error: ${error.message}`));
        },
      },
    });
    await ready.promise;
  }

  /** Sends a hello, END or query and waits for its answer. */
  ask(message: Message): Promise<Message> {
    if (this.inFlight.length > 0 || this.control) throw new Error(`agency ${this.agency}: request while others are in flight`);
    this.control = Promise.withResolvers<Message>();
    this.writer.write(encodeMessage(message));
    return this.control.promise;
  }

  /** Sends the agency's next frame (copied out with the others of this turn in one write); returns its bets. */
  sendFrame(time: number): number {
    const index = this.next;
    this.next = index + 1 === this.frames.length ? 0 : index + 1;
    const bets = this.frameBets[index]!;
    this.inFlight.push(time, bets);
    this.load.onSend();
    this.writer.writeSoon(this.frames[index]!);
    return bets;
  }

  end(): void {
    this.closed = true;
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (type, payload) => this.onMessage(decodeMessage(type, payload)));
    } catch (error) {
      this.load.fail(error as Error);
    }
  }

  private onMessage(message: Message): void {
    if (message.type === MessageType.Error) throw new Error(`agency ${this.agency}: the server refused: ${message.reason}`);
    if (this.inFlight.length === 0) {
      const control = this.control;
      if (!control) throw new Error(`agency ${this.agency}: unexpected ${messageName(message.type)}`);
      this.control = undefined;
      return control.resolve(message);
    }
    if (message.type !== MessageType.Ok) throw new Error(`agency ${this.agency}: ${messageName(message.type)} where an OK was due`);
    const sentAt = this.inFlight.oldestTime;
    const bets = this.inFlight.shift();
    if (this.load.verify && message.count !== bets) {
      throw new Error(`agency ${this.agency}: OK for ${message.count} bets, the frame held ${bets}`);
    }
    this.acknowledged += bets;
    this.load.onAck(this, bets, sentAt);
  }

  private onClose(): void {
    this.writer?.close();
    if (!this.closed) this.load.fail(new Error(`agency ${this.agency}: the server closed the connection`));
  }
}
