import { BET_RANGES, BetField, betFieldsError, betNumber, hasWon, isWinningNumber, type Bet } from "../bet/bet.ts";
import type { BetBlock } from "../bet/bet-block.ts";
import type { Logger } from "../log.ts";
import type { StoredBatch } from "../storage/store.ts";
import { rangeText } from "../util/utf8.ts";

/** A batch that passed every rule, with its winners found as it was checked. */
export interface AdmittedBatch extends StoredBatch {
  count: number;
  /** Documents of the batch's winning bets. */
  winners: string[];
}

/** A request the lottery turns down; the reason goes back to the agency. */
export class RefusedError extends Error {
  override readonly name = "RefusedError";
}

/** The central stopped before the draw: a held query gets no answer, its agency will ask again. */
export class DrawCancelledError extends Error {
  override readonly name = "DrawCancelledError";
}

/**
 * The lottery's rules and state, apart from any transport: which agencies exist, how many bets each
 * has stored, who has finished, and the draw, which happens once every agency has sent END. Winners
 * are gathered with hasWon as batches become durable (and from the store's scan at start-up), so the
 * draw needs no second pass over the file; no answer leaves before the draw.
 */
export class Lottery {
  private readonly stored = new Map<number, number>();
  private readonly winnersByAgency = new Map<number, string[]>();
  /** Agencies whose END is durable. */
  private readonly ended = new Set<number>();
  /** Agencies whose END was received: their later bets are refused even before it is durable. */
  private readonly closing = new Set<number>();
  private drawDone = false;
  private readonly draw = Promise.withResolvers<void>();

  constructor(
    readonly agencies: number,
    private readonly log: Logger,
  ) {
    // Held queries may be cancelled by a shutdown; nobody else need observe that rejection.
    this.draw.promise.catch(() => undefined);
  }

  /** Counts a bet found durable in the store at start-up (its scan in BetStore.open). */
  recordStored(bet: Bet): void {
    this.countStored(bet.agency, 1);
    if (hasWon(bet)) this.addWinners(bet.agency, [bet.document]);
  }

  /** Counts an admitted batch once it is durable. */
  recordCommitted(batch: AdmittedBatch): void {
    // Not batch.bets: they were a view of the received frame, read only while the batch was queued.
    this.countStored(batch.agency, batch.count);
    if (batch.winners.length > 0) this.addWinners(batch.agency, batch.winners);
  }

  /** Restores END notices found on disk; the draw happens here if every agency had finished. */
  restoreEnded(agencies: Iterable<number>): void {
    for (const agency of agencies) {
      if (this.isAgency(agency)) {
        this.closing.add(agency);
        this.ended.add(agency);
      }
    }
    this.drawIfComplete();
  }

  storedCount(agency: number): number {
    return this.stored.get(agency) ?? 0;
  }

  endReceived(agency: number): boolean {
    return this.closing.has(agency);
  }

  /** The agency's END is durable. */
  hasEnded(agency: number): boolean {
    return this.ended.has(agency);
  }

  /** Every agency has ended: the draw has taken place. */
  get drawn(): boolean {
    return this.drawDone;
  }

  /** How many winning bets the agency has stored (its winners once the draw has taken place). */
  winnerCount(agency: number): number {
    return this.winnersByAgency.get(agency)?.length ?? 0;
  }

  /** Refuses an agency id outside 1..agencies. */
  checkAgency(agency: number): void {
    if (!this.isAgency(agency)) {
      throw new RefusedError(`agency ${agency} is not one of 1..${this.agencies}`);
    }
  }

  /**
   * Validates a whole batch before anything is written; returns the bets to store or throws
   * RefusedError naming the first bad bet. A batch is stored whole or not at all.
   */
  admit(agency: number, bets: BetBlock): AdmittedBatch {
    this.checkAgency(agency);
    if (this.drawDone) throw new RefusedError("the draw has already taken place");
    if (this.closing.has(agency)) throw new RefusedError(`agency ${agency} has already sent END`);
    // Found once by the block, read here and again by the store's rows.
    const ranges = bets.fieldRanges;
    const bytes = bets.bytesOfFields;
    // One native pass over the frame instead of each name's bytes read for their UTF-8.
    const fieldsAreUtf8 = bets.fieldsAreUtf8;
    const winners: string[] = [];
    for (let i = 0, base = 0; i < bets.count; i++, base += BET_RANGES) {
      const error = betFieldsError(bytes, ranges, base, fieldsAreUtf8);
      if (error) {
        const document = JSON.stringify(bets.text(i).document);
        throw new RefusedError(`bet ${i + 1} of ${bets.count} (document ${document}): ${error}`);
      }
      if (isWinningNumber(betNumber(bytes, ranges, base))) {
        winners.push(rangeText(bytes, ranges, BetField.Document, base));
      }
    }
    return { agency, bets, count: bets.count, winners };
  }

  /** Marks an END as received; returns false when the agency had already sent one. */
  beginEnd(agency: number): boolean {
    this.checkAgency(agency);
    if (this.closing.has(agency)) return false;
    this.closing.add(agency);
    return true;
  }

  /** Marks an END as durable; the last one triggers the draw. */
  completeEnd(agency: number): void {
    this.ended.add(agency);
    this.drawIfComplete();
  }

  /** Settles once the draw has taken place (rejects with DrawCancelledError if the central stops first). */
  drawTaken(): Promise<void> {
    return this.draw.promise;
  }

  /** The documents of the agency's winning bets, once the draw has taken place. */
  async winners(agency: number): Promise<string[]> {
    this.checkAgency(agency);
    await this.draw.promise;
    return this.winnersByAgency.get(agency) ?? [];
  }

  /** Fails every query still waiting for the draw (the central is stopping). */
  cancelWaiting(): void {
    if (!this.drawDone) this.draw.reject(new DrawCancelledError("the central stopped before the draw"));
  }

  private countStored(agency: number, count: number): void {
    this.stored.set(agency, (this.stored.get(agency) ?? 0) + count);
  }

  private addWinners(agency: number, winners: readonly string[]): void {
    const list = this.winnersByAgency.get(agency);
    if (list) list.push(...winners);
    else this.winnersByAgency.set(agency, [...winners]);
  }

  private isAgency(agency: number): boolean {
    return Number.isInteger(agency) && agency >= 1 && agency <= this.agencies;
  }

  private drawIfComplete(): void {
    if (this.drawDone || this.ended.size < this.agencies) return;
    this.drawDone = true;
    this.log.info("sorteo", "success");
    this.draw.resolve();
  }
}

