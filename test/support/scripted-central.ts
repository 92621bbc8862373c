// A central played by the test on a real socket (plain or TLS): it answers as a script says, so a
// real agency can be shown refusals, dropped sessions, slow answers or a wrong certificate.
import type { Socket, TCPSocketListener } from "bun";
import { decodeMessage, encodeMessage, FrameDecoder, MessageType, type Message } from "../../lib/protocol/index.ts";

export interface ScriptedSession {
  /** Sessions count from 1, in the order they connected. */
  readonly number: number;
  send(message: Message): void;
  /** Hangs up at once (no FIN handshake: as a crashed central would). */
  drop(): void;
  /** Closes after what was sent (as the central does after a refusal at connect). */
  end(): void;
  /** Set for TLS: whether the agency's certificate verified, and its subject's CN. */
  readonly peer?: { authorized: boolean; commonName: string | undefined };
}

export interface Script {
  /** A new connection (after the handshake for TLS); it may send a refusal and drop at once. */
  open?: (session: ScriptedSession) => void;
  /** Every request from the agency. */
  request: (message: Message, session: ScriptedSession) => void;
}

export interface ScriptedCentralOptions {
  hostname?: string;
  port?: number;
  /** Serve TLS with this certificate, asking the agency for one signed by `ca`. */
  tls?: { cert: string; key: string; ca: string };
}

interface SessionState {
  session: ScriptedSession;
  decoder: FrameDecoder;
}

/** Listens until `stop()`; the listener's `port` is where the agency goes. */
export function scriptedCentral(script: Script, options: ScriptedCentralOptions = {}): TCPSocketListener<SessionState> {
  let sessions = 0;
  const start = (socket: Socket<SessionState>) => {
    const tls = options.tls
      ? { authorized: socket.authorized, commonName: socket.getPeerCertificate()?.subject?.CN as string | undefined }
      : undefined;
    const session: ScriptedSession = {
      number: ++sessions,
      send: (message) => socket.write(encodeMessage(message)),
      drop: () => socket.terminate(),
      end: () => socket.end(),
      peer: tls,
    };
    socket.data = { session, decoder: new FrameDecoder(16 * 1024 * 1024) };
    script.open?.(session);
  };
  return Bun.listen<SessionState>({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    tls: options.tls && { ...options.tls, requestCert: true, rejectUnauthorized: false },
    socket: {
      open(socket) {
        if (!options.tls) start(socket);
      },
      handshake(socket, success) {
        if (success) start(socket);
        else socket.terminate();
      },
      data(socket, chunk) {
        const { session, decoder } = socket.data;
        try {
          decoder.push(chunk, (type, payload) => script.request(decodeMessage(type, payload), session));
        } catch (error) {
          // Not our protocol (a TLS hello to a plain central, say): refused and closed, as the central does.
          session.send({ type: MessageType.Error, reason: (error as Error).message });
          session.end();
        }
      },
    },
  });
}

/**
 * A central that keeps the bets it is sent in memory and answers as the real one does: a hello with the
 * count it holds, an OK per batch, END with the total, and no winners. `documents` shows what arrived,
 * in order, across every session.
 */
export class MemoryCentral {
  readonly documents: string[] = [];
  ended = false;

  /** Handles one request; a script may call it for the requests it does not treat itself. */
  answer(message: Message, session: ScriptedSession): void {
    switch (message.type) {
      case MessageType.Hello:
        return session.send({ type: MessageType.Welcome, stored: this.documents.length });
      case MessageType.Bets:
        for (const bet of message.bets.toFields()) this.documents.push(bet.document);
        return session.send({ type: MessageType.Ok, count: message.bets.count });
      case MessageType.End:
        this.ended = true;
        return session.send({ type: MessageType.Ok, count: this.documents.length });
      case MessageType.WinnersQuery:
        return session.send({ type: MessageType.Winners, documents: [] });
      default:
        return session.send({ type: MessageType.Error, reason: `unexpected message ${message.type}` });
    }
  }
}
