// One connection's requests (hello, bets, END, winners query, echo), apart from any socket: who the
// connection may act for, the lottery's rules, the store, and the answer once the bets are durable.
import type { BetBlock } from "../bet/bet-block.ts";
import type { LogFields, Logger } from "../log.ts";
import { MessageType, messageName, type Message } from "../protocol/index.ts";
import { StorageFailedError, type BetStore } from "../storage/store.ts";
import type { Backlog } from "../transport/backlog.ts";
import type { ConnectionLink, Session } from "../transport/session.ts";
import { utf8Text } from "../util/utf8.ts";
import { certifiedIdentity, type CertifiedIdentity } from "./certificate.ts";
import { DrawCancelledError, RefusedError, type AdmittedBatch, type Lottery } from "./lottery.ts";
import type { CentralStats } from "./stats.ts";

/** What every session works with: the central's parts the requests reach. */
export interface SessionContext {
  readonly lottery: Lottery;
  readonly store: BetStore<AdmittedBatch>;
  /** Bets received and not yet stored, across connections: what flow control measures. */
  readonly backlog: Backlog;
  readonly log: Logger;
  readonly stats: CentralStats;
  /** The storage failed: nothing more can be acknowledged, the central must stop. */
  readonly onStorageFailed: (error: StorageFailedError) => void;
}

/** Which session is each agency's current one. */
export interface AgencyRegistry {
  /** Makes `session` the agency's current one; an older live session of the agency is hung up. */
  claim(agency: number, session: AgencySession): void;
  /** The session closed: it is the agency's current one no more. */
  release(agency: number, session: AgencySession): void;
}

/** How much of an echo's text its log line shows: the course's messages are some 25 characters. */
const MAX_ECHO_LOG_CHARS = 200;

/**
 * One connection's requests. The rule of access: a connection acts only for one agency, the one its
 * TLS certificate names or, on plain TCP, the one its hello named; and only after that hello. Echo is
 * answered to anyone.
 */
export class AgencySession implements Session {
  /** The agency this connection acts for, set by its hello. */
  private agency: number | undefined;
  /** On TLS, the agency its certificate names, if any. */
  private readonly certified: CertifiedIdentity;
  /**
   * An agency's session (after a hello) had a batch refused: its later batches, already in flight behind
   * it, are refused too, so that what is stored of the agency stays a prefix of what it sent.
   */
  private batchRefused = false;

  constructor(
    private readonly context: SessionContext,
    private readonly registry: AgencyRegistry,
    readonly link: ConnectionLink,
  ) {
    this.certified = certifiedIdentity(link.identity);
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
      this.context.onStorageFailed(error);
      return undefined;
    }
    throw error;
  }

  /** A bets frame that did not decode is a refused batch: later ones of this session are refused too. */
  malformed(type: number): void {
    if (type === MessageType.Bets) this.refuseBatch();
  }

  closed(): void {
    if (this.agency !== undefined) this.registry.release(this.agency, this);
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
    this.context.stats.batchesRefused++;
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
    const certified = this.certified;
    // Who asked, for the log: what its certificate names, else its hello's agency.
    const agency = certified.kind === "agency" ? certified.agency : certified.kind === "no-agency" ? certified.cn : (this.agency ?? "none");
    this.context.log.warning("acceso_denegado", "fail", { peer: this.link.peer, agency, claimed });
    this.context.stats.accessDeniedTotal++;
    throw new RefusedError(reason);
  }

  private async bets(agency: number, bets: BetBlock): Promise<Message> {
    const { lottery, store, backlog, log, stats } = this.context;
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
    const { lottery, store, log } = this.context;
    const certified = this.certified;
    // A certificate fixes the agency once and for all; without one, a later hello may not change it.
    if (certified.kind === "no-agency") this.deny(agency, `the certificate's CN ${JSON.stringify(certified.cn)} names no agency (agency-N)`);
    if (certified.kind === "agency") this.onlyAs(certified.agency, agency);
    else if (this.agency !== undefined) this.onlyAs(this.agency, agency);
    lottery.checkAgency(agency);
    this.registry.claim(agency, this);
    this.agency = agency;
    await store.idle();
    const stored = lottery.storedCount(agency);
    log.info("agencia_conectada", "success", { agency, stored, ended: lottery.endReceived(agency) });
    return { type: MessageType.Welcome, stored };
  }

  private async end(agency: number): Promise<Message> {
    const { lottery, store, log } = this.context;
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
    const text = utf8Text(message.payload, 0, message.payload.length);
    const msg = text.length > MAX_ECHO_LOG_CHARS ? `${text.slice(0, MAX_ECHO_LOG_CHARS)}… (${message.payload.length} bytes)` : text;
    this.context.log.info("receive_message", "success", { ip: this.link.ip, msg });
    return message;
  }

  private async winners(agency: number): Promise<Message> {
    this.authorize(agency);
    const documents = await this.context.lottery.winners(agency);
    this.context.log.info("ganadores_enviados", "success", { agency, cant_ganadores: documents.length });
    return { type: MessageType.Winners, documents };
  }
}
