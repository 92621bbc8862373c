import type { BetBlock } from "../bet/bet-block.ts";
import type { LogFields, Logger } from "../log.ts";
import { MessageType, messageName, type Message } from "../protocol/index.ts";
import { StorageFailedError, type BetStore } from "../storage/store.ts";
import { DrawCancelledError, RefusedError, type AdmittedBatch, type Lottery } from "./lottery.ts";
import type { Backlog, ConnectionLink, Session, SessionFactory } from "../transport/session.ts";
import { CentralStats } from "./stats.ts";

/**
 * The central's four requests (hello, bets, END, winners query) and echo, apart from any socket: each
 * connection gets an AgencySession, which checks who it acts for, applies the lottery's rules, hands
 * bets to the store and answers once they are durable.
 */
export class RequestHandlers implements SessionFactory {
  /** The newest session of each agency: an older one is hung up when a newer one says hello. */
  private readonly agencySessions = new Map<number, AgencySession>();

  constructor(
    readonly lottery: Lottery,
    readonly store: BetStore<AdmittedBatch>,
    readonly backlog: Backlog,
    readonly log: Logger,
    /** The storage failed: nothing more can be acknowledged, the central must stop. */
    readonly onStorageFailed: (error: StorageFailedError) => void,
    readonly stats = new CentralStats(),
  ) {}

  open(link: ConnectionLink): Session {
    return new AgencySession(this, link);
  }

  /** Makes `session` the agency's current one; an older live session of the agency is hung up. */
  claim(agency: number, session: AgencySession): void {
    const previous = this.agencySessions.get(agency);
    if (previous && previous !== session) {
      this.log.warning("conexion_reemplazada", "success", { agency, peer: previous.link.peer });
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

/** How much of an echo's text its log line shows: the course's messages are some 25 characters. */
const MAX_ECHO_LOG_CHARS = 200;

/** An agency's certificate is issued to `agency-N` (see lib/deployment/certs.ts). */
const AGENCY_CN = /^agency-([1-9]\d{0,9})$/;

/** The agency a certificate's CN names, if it names one. */
function certifiedAgency(identity: string): number | undefined {
  const match = AGENCY_CN.exec(identity);
  return match ? Number(match[1]) : undefined;
}

/**
 * One connection's requests. The rule of access: a connection acts only for one agency, the one its
 * TLS certificate names or, on plain TCP, the one its hello named; and only after that hello. Echo is
 * answered to anyone.
 */
class AgencySession implements Session {
  /** The agency this connection acts for, set by its hello. */
  private agency: number | undefined;
  /** On TLS, what its certificate's CN names: a number, or the CN's text when it names no agency. */
  private readonly certified: number | string | undefined;
  /**
   * An agency's session (after a hello) had a batch refused: its later batches, already in flight behind
   * it, are refused too, so that what is stored of the agency stays a prefix of what it sent.
   */
  private batchRefused = false;

  constructor(
    private readonly handlers: RequestHandlers,
    readonly link: ConnectionLink,
  ) {
    const { identity } = link;
    this.certified = identity === undefined ? undefined : (certifiedAgency(identity) ?? identity);
  }

  handle(message: Message): Message | undefined | Promise<Message | undefined> {
    try {
      // Runs synchronously up to its first await: a bets frame is checked and its rows are formatted for
      // the store before this call returns, while its bytes (a view) are still valid.
      const answer = this.dispatch(message);
      return answer instanceof Promise ? answer.catch((error: unknown) => this.answerTo(error)) : answer;
    } catch (error) {
      return this.answerTo(error);
    }
  }

  /** The answer to a request that failed: a refusal's E, none, or the fault itself, thrown again. */
  private answerTo(error: unknown): Message | undefined {
    if (error instanceof RefusedError) return { type: MessageType.Error, reason: error.message };
    // A held query of a central that stops before the draw gets no answer: its agency asks again.
    if (error instanceof DrawCancelledError) return undefined;
    if (error instanceof StorageFailedError) {
      this.handlers.onStorageFailed(error);
      return undefined;
    }
    throw error;
  }

  /** A bets frame that did not decode is a refused batch: later ones of this session are refused too. */
  malformed(type: number): void {
    if (type === MessageType.Bets) this.refuseBatch();
  }

  closed(): void {
    if (this.agency !== undefined) this.handlers.release(this.agency, this);
  }

  logFields(): LogFields {
    return { agency: this.agency ?? "none" };
  }

  private dispatch(message: Message): Promise<Message> | Message {
    switch (message.type) {
      case MessageType.Bets:
        return this.bets(message.agency, message.bets);
      case MessageType.Hello:
        return this.hello(message.agency);
      case MessageType.End:
        return this.end(message.agency);
      case MessageType.WinnersQuery:
        return this.winners(message.agency);
      case MessageType.Echo:
        return this.echo(message);
      default:
        throw new RefusedError(`unexpected ${messageName(message.type)} message from an agency`);
    }
  }

  /** Counts a refused batch; after a hello, the session's later batches are refused too (see batchRefused). */
  private refuseBatch(): void {
    this.handlers.stats.batchesRefused++;
    if (this.agency !== undefined) this.batchRefused = true;
  }

  /** Refuses a request for `claimed` unless this connection said hello as that agency. */
  private authorize(claimed: number): void {
    if (this.agency === undefined) this.deny(claimed, "this connection has not said hello yet");
    this.onlyAs(this.agency, claimed);
  }

  /** Refuses a request for `claimed` from a connection that belongs to `owner`. */
  private onlyAs(owner: number, claimed: number): void {
    if (owner !== claimed) this.deny(claimed, `this connection belongs to agency ${owner}, not ${claimed}`);
  }

  private deny(claimed: number, reason: string): never {
    const agency = this.certified ?? this.agency ?? "none";
    this.handlers.log.warning("acceso_denegado", "fail", { peer: this.link.peer, agency, claimed });
    this.handlers.stats.accessDeniedTotal++;
    throw new RefusedError(reason);
  }

  private async bets(agency: number, bets: BetBlock): Promise<Message> {
    const { lottery, store, backlog, log, stats } = this.handlers;
    // Called as the frame's last byte is handled: the start of the batch's acknowledgement time.
    const received = performance.now();
    let batch: AdmittedBatch;
    try {
      this.authorize(agency);
      if (this.batchRefused) throw new RefusedError("an earlier batch of this session was refused");
      batch = lottery.admit(agency, bets);
    } catch (error) {
      this.refuseBatch();
      log.info("apuesta_recibida", "fail", { cantidad: bets.count, agency, error: (error as Error).message });
      throw error;
    }
    // The bets are a view of the received frame, gone once this call awaits: what the log needs is read now.
    const level = batch.count === 1 ? "INFO" : "DEBUG";
    const logged = log.enabled(level) ? bets.toFields() : [];
    backlog.add(batch.count);
    try {
      await store.storeBets(batch);
    } finally {
      backlog.remove(batch.count);
    }
    stats.batchesStored++;
    stats.batchAck.observe((performance.now() - received) / 1000);
    log.info("apuesta_recibida", "success", { cantidad: batch.count });
    // Last bet first: the agency confirms a batch first bet first, so the last stored line of a batch and
    // the first confirmation of it name the same bet (README, The exercises: exercise 5).
    for (let i = logged.length - 1; i >= 0; i--) {
      log.log(level, "apuesta_almacenada", "success", { dni: logged[i]!.document, numero: Number(logged[i]!.number) });
    }
    return { type: MessageType.Ok, count: batch.count };
  }

  /**
   * An agency (re)connects: the newest connection wins, so nothing more is taken from an older one,
   * and the answer is given once every batch already received is on disk. The count is the cursor
   * from which the agency resumes, so no bet is stored twice.
   */
  private async hello(agency: number): Promise<Message> {
    const { lottery, store, log } = this.handlers;
    const owner = this.certified ?? this.agency;
    if (typeof owner === "string") this.deny(agency, `the certificate's CN ${JSON.stringify(owner)} names no agency (agency-N)`);
    if (owner !== undefined) this.onlyAs(owner, agency);
    lottery.checkAgency(agency);
    this.handlers.claim(agency, this);
    this.agency = agency;
    await store.idle();
    const stored = lottery.storedCount(agency);
    log.info("agencia_conectada", "success", { agency, stored, ended: lottery.endReceived(agency) });
    return { type: MessageType.Welcome, stored };
  }

  private async end(agency: number): Promise<Message> {
    const { lottery, store, log } = this.handlers;
    this.authorize(agency);
    if (lottery.beginEnd(agency)) {
      await store.recordEnd(agency);
      log.info("fin_apuestas", "success", { agency, cantidad: lottery.storedCount(agency) });
      lottery.completeEnd(agency);
    } else {
      // A repeated END counts once; it is answered once the first one is durable.
      await store.idle();
    }
    // The barrier: END is answered at the draw, when every agency has sent its own; the agency asks for
    // its winners after that answer, so no winners line can come before the draw's (README, Synchronization).
    await lottery.drawTaken();
    return { type: MessageType.Ok, count: lottery.storedCount(agency) };
  }

  /** The course's echo server: the payload goes back unchanged, and its text is logged. */
  private echo(message: Extract<Message, { type: MessageType.Echo }>): Message {
    const text = Buffer.from(message.payload).toString("utf8");
    const msg = text.length > MAX_ECHO_LOG_CHARS ? `${text.slice(0, MAX_ECHO_LOG_CHARS)}… (${message.payload.length} bytes)` : text;
    this.handlers.log.info("receive_message", "success", { ip: this.link.ip, msg });
    return message;
  }

  private async winners(agency: number): Promise<Message> {
    this.authorize(agency);
    const documents = await this.handlers.lottery.winners(agency);
    this.handlers.log.info("ganadores_enviados", "success", { agency, cant_ganadores: documents.length });
    return { type: MessageType.Winners, documents };
  }
}
