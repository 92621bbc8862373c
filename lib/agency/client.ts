import { BET_RANGES, BetField, InvalidBetError, validateBet, type BetFields } from "../bet/bet.ts";
import type { Logger } from "../log.ts";
import { isTransientRefusal, MessageType, messageName, type Message } from "../protocol/index.ts";
import { ConnectionLostError, type CentralConnection, type Resolver } from "../transport/central-connection.ts";
import { Stop } from "../util/stop.ts";
import { utf8Text } from "../util/utf8.ts";
import { BatchEncoder } from "./batch-encoder.ts";
import { BetFile } from "./bet-file.ts";
import { SingleBet, type BetSource } from "./bet-source.ts";
import { BetWindow } from "./bet-window.ts";
import type { AgencyConfig } from "./config.ts";
import { Dialer } from "./dialer.ts";
import { AgencyFailedError, StoppedError } from "./errors.ts";
import { Pacer } from "./pacer.ts";

export { StoppedError };

/** A progress line at most this often, and only on a run that lasts longer. */
const PROGRESS_INTERVAL_MS = 1000;
/** Frames are written together up to this many bytes: fewer writes, and the first leave early. */
const SEND_BYTES = 64 * 1024;
/** The confirmation line of an acknowledged bet (the course's exercise 5): its document and number, from a block's bytes. */
const CONFIRMED_KEYS = ["dni", "numero"];
const CONFIRMED_FIELDS = [2 * BetField.Document, 2 * BetField.Number];
const utf8 = new TextEncoder();

export interface AgencyOutcome {
  /** Rows of the file that were not valid bets, and so were not sent. */
  invalidRows: number;
}

/**
 * An agency's run, as its dialogue with the central: the course's echo loop (loop.amount messages), then its
 * bets (the file, or exercise 5's single bet) in pipelined batches, or one at a time in paced mode, then
 * END, answered at the draw, and the query for its winners. Every connection opens with a hello; the
 * central's answer (how many of our bets it holds) is the cursor we resume from, so reconnecting after
 * any failure never sends a bet twice. The bets come through a BetWindow, the connections from a Dialer.
 */
export class AgencyClient {
  private readonly encoder: BatchEncoder;
  private readonly source: BetSource;
  private readonly window: BetWindow;
  private readonly dialer: Dialer;
  private readonly pacer: Pacer;
  /** Echo messages answered so far: a loop cut by a lost connection goes on from here. */
  private echoed = 0;
  /** The position of the next bet to send, and of the first the central has not acknowledged. */
  private sent = 0;
  private acknowledged = 0;
  /** Bet counts of the batches sent and not yet acknowledged, oldest first (OKs come back in order). */
  private inFlight: number[] = [];
  private invalidRows = 0;
  /** The run's stop, shared with the dialer and the pacer. */
  private readonly stopping = new Stop();
  /** The current session got its welcome: the central was answering on it. */
  private welcomed = false;
  /** When the next progress line is due. */
  private progressLineAt = 0;

  constructor(
    private readonly config: AgencyConfig,
    private readonly log: Logger,
    /** How the central's host name is resolved on each attempt; tests give their own. */
    resolve?: Resolver,
  ) {
    this.encoder = new BatchEncoder(config.id, config.batchMaxAmount);
    this.source = config.singleBet
      ? new SingleBet(config.singleBet)
      : new BetFile(config.dataFile, ({ line, error }) => {
          this.invalidRows++;
          this.log.warning("apuesta_invalida", "fail", { line, error });
        });
    this.window = new BetWindow(this.source);
    this.dialer = new Dialer(config, log, this.stopping, resolve);
    this.pacer = new Pacer(config.loopPeriodMs, this.stopping);
  }

  /** The echo loop, the bets, END and the winners; reconnects while the central is away. */
  async run(): Promise<AgencyOutcome> {
    try {
      if (this.config.singleBet) this.checkSingleBet(this.config.singleBet);
      return await this.sendAll();
    } finally {
      // Read to its end the file is closed already; a run that failed leaves it open otherwise.
      this.source.close();
    }
  }

  /** Exercise 5's bet, checked before connecting: it is the agency's only one, so a broken rule ends the run. */
  private checkSingleBet(fields: BetFields): void {
    try {
      validateBet(this.config.id, fields);
    } catch (error) {
      if (!(error instanceof InvalidBetError)) throw error;
      this.log.error("apuesta_enviada", "fail", { dni: fields.document, numero: fields.number, error: error.message });
      throw new AgencyFailedError(`invalid bet: ${error.message}`);
    }
  }

  private async sendAll(): Promise<AgencyOutcome> {
    this.progressLineAt = performance.now() + PROGRESS_INTERVAL_MS;
    // The first bets are read before connecting: a missing or unreadable file fails here, not mid-session.
    await this.fillUnsent();
    for (;;) {
      const connection = await this.dialer.connect();
      this.welcomed = false;
      try {
        return await this.session(connection);
      } catch (error) {
        this.retryable(error);
        this.log.warning("conexion_perdida", "fail", { error: error.message, acknowledged: this.acknowledged });
        // Waiting on a live session (for the draw, say) was no silence of the central's: the time allowed starts now.
        if (this.welcomed) this.dialer.answered();
      } finally {
        connection.close();
      }
    }
  }

  /** SIGTERM: stop sending, close the socket and the file. */
  async stop(signal: string): Promise<void> {
    if (this.stopping.requested) return;
    this.stopping.request();
    this.log.info("shutdown", "in_progress", { signal });
    this.dialer.closeLast();
    this.log.info("close_socket", "success");
    this.source.close();
    this.log.info("close_file", "success", { file: this.source.name });
  }

  /** A lost connection is retried (and remembered for the final message); anything else, or a stop, ends the run. */
  private retryable(error: unknown): asserts error is ConnectionLostError {
    if (this.stopping.requested) throw new StoppedError("stopped");
    if (!(error instanceof ConnectionLostError)) throw error;
    this.dialer.lost(error.message);
  }

  /** Says who we are; the central answers with how many of our bets it holds. */
  private async hello(connection: CentralConnection): Promise<number> {
    connection.send({ type: MessageType.Hello, agency: this.config.id });
    const welcome = await this.receive(connection);
    if (welcome.type !== MessageType.Welcome) throw this.unexpected(welcome);
    this.welcomed = true;
    this.dialer.answered();
    return welcome.stored;
  }

  private async session(connection: CentralConnection): Promise<AgencyOutcome> {
    await this.resumeFrom(await this.hello(connection));
    await this.echoLoop(connection);

    // Paced, one batch at a time, a period apart; otherwise batch.window of them in flight.
    const inFlightLimit = this.pacer.paced ? 1 : this.config.batchWindow;
    for (;;) {
      while (this.inFlight.length < inFlightLimit && (await this.fillUnsent())) {
        await this.pacer.beforeMessage();
        const count = this.window.encodeFrom(this.encoder, this.sent);
        this.sent += count;
        this.inFlight.push(count);
        this.log.debug("lote_enviado", "success", { cantidad: count });
        if (this.encoder.bufferedBytes >= SEND_BYTES) connection.sendFrame(this.encoder.take());
      }
      if (this.encoder.bufferedBytes > 0) connection.sendFrame(this.encoder.take());
      if (this.inFlight.length === 0) break;
      // Every OK already here is taken before refilling, so that the freed slots go out in one write, and
      // their bets are confirmed together.
      const confirmedFrom = this.acknowledged;
      let reply: Message | undefined = await this.takeAnswer(connection);
      try {
        do this.acknowledge(reply);
        while ((reply = this.poll(connection)));
      } finally {
        // Also when an answer in the group was wrong: those before it were acknowledged all the same.
        this.confirm(confirmedFrom, this.acknowledged);
        this.window.release(this.acknowledged);
      }
      // One clock read per group of answers, none per bet.
      if (performance.now() >= this.progressLineAt) this.logProgress();
    }

    // END is the draw's barrier: the central answers it once every agency has sent its own.
    await this.pacer.beforeMessage();
    connection.send({ type: MessageType.End, agency: this.config.id });
    const ended = await this.takeAnswer(connection);
    if (ended.type !== MessageType.Ok) throw this.unexpected(ended);
    if (ended.count !== this.acknowledged) {
      throw new AgencyFailedError(`the central holds ${ended.count} of our bets, we sent ${this.acknowledged}`);
    }

    await this.pacer.beforeMessage();
    connection.send({ type: MessageType.WinnersQuery, agency: this.config.id });
    const answer = await this.takeAnswer(connection);
    if (answer.type !== MessageType.Winners) throw this.unexpected(answer);
    this.log.info("consulta_ganadores", "success", { cant_ganadores: answer.documents.length });
    await this.pacer.beforeExit();
    return { invalidRows: this.invalidRows };
  }

  /**
   * The course's echo loop (exercises 1-4): `loop.amount` messages `[CLIENT <id>] Message N°<k>`, each
   * answered unchanged by the central, one a period (paced mode). A loop cut by a lost connection goes on,
   * on the next one, from the first message not answered.
   */
  private async echoLoop(connection: CentralConnection): Promise<void> {
    const { id, loopAmount } = this.config;
    if (this.echoed === loopAmount) return;
    while (this.echoed < loopAmount) {
      await this.pacer.beforeMessage();
      const msg = `[CLIENT ${id}] Message N°${this.echoed + 1}`;
      connection.send({ type: MessageType.Echo, payload: utf8.encode(msg) });
      const reply = await this.takeAnswer(connection);
      const echoed = reply.type === MessageType.Echo ? utf8Text(reply.payload, 0, reply.payload.length) : undefined;
      if (echoed !== msg) {
        this.log.error("receive_message", "fail", { client_id: id, msg, error: `the central answered ${echoed === undefined ? messageName(reply.type) : JSON.stringify(echoed)}` });
        throw new AgencyFailedError(`the echo of ${JSON.stringify(msg)} came back different`);
      }
      this.log.info("receive_message", "success", { client_id: id, msg });
      this.echoed++;
    }
    this.log.info("loop_finished", "success", { client_id: id });
  }

  /** The next answer, taken when paced mode says (half a period after it came); a stop meanwhile ends the run. */
  private async takeAnswer(connection: CentralConnection): Promise<Message> {
    const answer = await this.receive(connection);
    await this.pacer.beforeAnswer();
    return answer;
  }

  /** The progress line, for people watching a long run: how far it is, `percent` by the bytes of the file read. */
  private logProgress(): void {
    const { bytesRead, size } = this.source;
    const percent = size > 0 ? Math.floor((100 * bytesRead) / size) : 100;
    this.log.info("progreso", "in_progress", { sent: this.sent, acknowledged: this.acknowledged, percent });
    this.progressLineAt = performance.now() + PROGRESS_INTERVAL_MS;
  }

  /** An answer to the oldest batch in flight: it must be its OK (its bets are confirmed by the caller). */
  private acknowledge(reply: Message): void {
    const count = this.inFlight[0];
    if (reply.type !== MessageType.Ok || reply.count !== count) throw this.unexpected(reply);
    this.inFlight.shift();
    this.acknowledged += count;
    this.dialer.answered();
  }

  /**
   * The course's confirmation line for each bet from `from` to `to` that the central acknowledged, in
   * file order: `action: apuesta_enviada | result: success | dni: … | numero: …`, made from the blocks'
   * bytes (a line per bet, so no string per line).
   */
  private confirm(from: number, to: number): void {
    this.window.forEach(from, to, (block, start, end) =>
      this.log.rangeLines(
        "INFO",
        "apuesta_enviada",
        "success",
        { keys: CONFIRMED_KEYS, offsets: CONFIRMED_FIELDS, bytes: block.bytesOfFields, ranges: block.fieldRanges, stride: BET_RANGES },
        start,
        end,
      ),
    );
  }

  /**
   * Lines the file up with what the central holds: bets it stored from batches whose OK we never
   * got are not sent again, and neither are stored bets of an earlier run of this agency.
   */
  private async resumeFrom(stored: number): Promise<void> {
    if (stored < this.acknowledged) {
      throw new AgencyFailedError(`the central holds ${stored} of our bets but had acknowledged ${this.acknowledged}`);
    }
    // Bets we sent whose OK was lost with the connection: the central's count acknowledges them.
    this.confirm(this.acknowledged, Math.min(stored, this.sent));
    this.inFlight = [];
    if (!(await this.window.skipTo(stored))) throw new AgencyFailedError(`the central holds ${stored} of our bets, more than the file has`);
    this.sent = this.acknowledged = stored;
    if (stored > 0) this.log.info("reanudar", "success", { stored });
  }

  /** Makes sure a full batch (or the file's last bets) is held past `sent`; false when nothing is left. */
  private fillUnsent(): Promise<boolean> {
    return this.window.fill(this.sent, this.config.batchMaxAmount);
  }

  private async receive(connection: CentralConnection): Promise<Message> {
    return this.unlessRefused(await connection.receive());
  }

  /** A reply that has already arrived, if any. */
  private poll(connection: CentralConnection): Message | undefined {
    const message = connection.poll();
    return message && this.unlessRefused(message);
  }

  private unlessRefused(message: Message): Message {
    if (message.type !== MessageType.Error) return message;
    if (isTransientRefusal(message.reason)) {
      // Turned away for now (at its limit, or stopping): retried like a dropped connection; the hello's
      // cursor makes resuming safe.
      throw new ConnectionLostError(`the central refused for now: ${message.reason}`);
    }
    throw new AgencyFailedError(`the central refused: ${message.reason}`);
  }

  private unexpected(message: Message): Error {
    const detail = message.type === MessageType.Ok ? ` (count ${message.count})` : "";
    return new AgencyFailedError(`unexpected ${messageName(message.type)} reply from the central${detail}`);
  }
}
