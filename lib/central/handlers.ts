// The central's request handlers: a session for each connection, and which one is each agency's current one.
import type { ConnectionLink, Session, SessionFactory } from "../transport/session.ts";
import { AgencySession, type AgencyRegistry, type HandlerContext } from "./agency-session.ts";

/**
 * The central's four requests (hello, bets, END, winners query) and echo, apart from any socket: each
 * connection gets an AgencySession, which checks who it acts for, applies the lottery's rules, hands
 * bets to the store and answers once they are durable.
 */
export class RequestHandlers implements SessionFactory, AgencyRegistry {
  /** The newest session of each agency: an older one is hung up when a newer one says hello. */
  private readonly agencySessions = new Map<number, AgencySession>();

  constructor(private readonly context: HandlerContext) {}

  open(link: ConnectionLink): Session {
    return new AgencySession(this.context, this, link);
  }

  claim(agency: number, session: AgencySession): void {
    const previous = this.agencySessions.get(agency);
    if (previous && previous !== session) {
      this.context.log.warning("conexion_reemplazada", "success", { agency, peer: previous.link.peer });
      previous.link.hangUp("replaced by a newer connection of this agency");
    }
    this.agencySessions.set(agency, session);
  }

  release(agency: number, session: AgencySession): void {
    if (this.agencySessions.get(agency) === session) this.agencySessions.delete(agency);
  }

  /** The agency has a connection that said hello and is still open. */
  isConnected(agency: number): boolean {
    return this.agencySessions.has(agency);
  }
}
