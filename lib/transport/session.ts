// The seam between the central's two layers: the connection mechanics (connection-server.ts), which know
// sockets and nothing of the lottery, and the sessions that answer requests (lib/central/agency-session.ts,
// made by lib/central/sessions.ts), which know the lottery and nothing of sockets. Neither imports the
// other; both speak through these types.
import type { LogFields } from "../log.ts";
import type { Message } from "../protocol/index.ts";

/** What the mechanics let a session do with its connection. */
export interface ConnectionLink {
  /** The client's address and port, for the log. */
  readonly peer: string;
  /** The client's IP address alone (the course's echo line names it so). */
  readonly ip: string;
  /**
   * Who the transport proved the client to be: the subject CN of its TLS certificate, verified against
   * the central's CA. Undefined on plain TCP, where nothing is proved.
   */
  readonly identity: string | undefined;
  /**
   * Nothing more is read from this connection: `reason` goes out as an E after the replies already
   * queued, then it closes.
   */
  hangUp(reason: string): void;
}

/** What answers one connection's requests, given its identity. */
export interface Session {
  /**
   * The answer to one request, or undefined for none (the connection is about to close). A refusal is an
   * E message; a rejection is a fault of ours, which the mechanics answer as an internal error. The
   * message's bytes (a view of the frame) are only valid until this call returns or first awaits.
   */
  handle(message: Message): Message | undefined | Promise<Message | undefined>;
  /**
   * A frame of this connection did not decode (the mechanics answered it with an E): a refused request
   * all the same, which may matter to what the session accepts next.
   */
  malformed(type: number): void;
  /** The connection closed. */
  closed(): void;
  /** What the log says of this connection beside its peer. */
  logFields(): LogFields;
}

/** The counters the mechanics keep for operators (the central's stats hold them, among others). */
export interface TransportCounters {
  /** Clients turned away at the TLS handshake. */
  accessDeniedTotal: number;
}

/** The other side of the seam: a session for each new connection. */
export interface SessionFactory {
  open(link: ConnectionLink): Session;
}
