// The central's sessions: one for each connection (an AgencySession answers its requests), and which one is
// each agency's current one.
import type { ConnectionLink, Session, SessionFactory } from "../transport/session.ts";
import { AgencySession, type AgencyRegistry, type SessionContext } from "./agency-session.ts";

/** Opens a session for each new connection and keeps each agency's current one. */
export class AgencySessions implements SessionFactory, AgencyRegistry {
  /** The newest session of each agency: an older one is hung up when a newer one says hello. */
  private readonly agencySessions = new Map<number, AgencySession>();

  constructor(private readonly context: SessionContext) {}

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
