import type { Socket } from "bun";
import { FrameDecoder } from "../protocol/index.ts";
import { ALREADY, Waiters } from "../util/waiters.ts";
import { ReplyQueue } from "./reply-queue.ts";
import type { ConnectionLink, Session } from "./session.ts";
import { SocketWriter } from "./socket-writer.ts";

/**
 * Where a connection is in its life:
 * - handshaking: TLS only, before its handshake ended: nothing can be sent yet (a refusal waits for it);
 * - open: accepted (on TLS, its certificate verified): its requests go to its session;
 * - hung-up: replaced, idle or misbehaving: nothing more is taken; it closes once its answers are out;
 * - closed: gone, or refused and ended.
 */
export type Phase = "handshaking" | "open" | "hung-up" | "closed";

/**
 * How its reading stands (see FlowControl):
 * - reading: its bytes are read;
 * - throttled: paused for its own load (requests in progress, reply bytes its client has not taken);
 * - waiting: paused while the shared backlog is full, in line to read again.
 */
export type Flow = "reading" | "throttled" | "waiting";

export interface Connection {
  readonly peer: string;
  readonly decoder: FrameDecoder;
  readonly writer: SocketWriter;
  readonly replies: ReplyQueue;
  phase: Phase;
  flow: Flow;
  /** Set once the connection is accepted. */
  session: Session | undefined;
  /** Why the connection is refused, sent to the client as soon as it can be (on TLS, after the handshake). */
  refusal: string | undefined;
  lastActivity: number;
  /** Woken by the close event (see whenGone). */
  readonly gone: Waiters;
}

export type ClientSocket = Socket<Connection>;

/** A new connection's record: reading, and handshaking on TLS. */
export function newConnection(socket: ClientSocket, maxFrameBytes: number, tls: boolean): Connection {
  return {
    peer: `${socket.remoteAddress}:${socket.remotePort}`,
    decoder: new FrameDecoder(maxFrameBytes),
    writer: new SocketWriter(socket),
    replies: new ReplyQueue(),
    phase: tls ? "handshaking" : "open",
    flow: "reading",
    session: undefined,
    refusal: undefined,
    lastActivity: performance.now(),
    gone: new Waiters(),
  };
}

/**
 * Gives a received chunk's memory back at once: every frame in it has been handled, and whatever
 * outlives the data callback was copied (a cut frame by the decoder, the rest by the sessions). Bun
 * reads each chunk into a buffer of its own; left to the collector, read chunks piled up by tens of MB
 * at 10,000 connections. Only a buffer that is this chunk alone is let go.
 */
export function releaseChunk(chunk: Buffer): void {
  const buffer = chunk.buffer;
  if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) buffer.transfer(0);
}

/** Resolves once the connection has closed. */
export function whenGone(connection: Connection): Promise<void> {
  return connection.phase === "closed" ? ALREADY : connection.gone.wait();
}

/** What a session may do with its connection; the hang-up itself is the server's, shared by all. */
export class Link implements ConnectionLink {
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
