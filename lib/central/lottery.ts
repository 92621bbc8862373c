import { hasWon, InvalidBetError, validateBet, type Bet, type BetFields } from "../bet.ts";
import type { Logger } from "../log.ts";

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
 * are gathered with hasWon as batches become durable (and from loadBets at start-up), so the draw
 * needs no second pass over the file; no answer leaves before the draw.
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

  /** Counts a bet that is durable in the store: at start-up from loadBets, later from each commit. */
  record(bet: Bet): void {
    this.stored.set(bet.agency, (this.stored.get(bet.agency) ?? 0) + 1);
    if (hasWon(bet)) {
      const list = this.winnersByAgency.get(bet.agency);
      if (list) list.push(bet.document);
      else this.winnersByAgency.set(bet.agency, [bet.document]);
    }
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
  admit(agency: number, batch: readonly BetFields[]): Bet[] {
    this.checkAgency(agency);
    if (this.drawDone) throw new RefusedError("the draw has already taken place");
    if (this.closing.has(agency)) throw new RefusedError(`agency ${agency} has already sent END`);
    const bets: Bet[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      try {
        bets[i] = validateBet(agency, batch[i]!);
      } catch (error) {
        if (!(error instanceof InvalidBetError)) throw error;
        const document = JSON.stringify(batch[i]!.document);
        throw new RefusedError(`bet ${i + 1} of ${batch.length} (document ${document}): ${error.message}`);
      }
    }
    return bets;
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

