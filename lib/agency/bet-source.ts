import type { BetFields } from "../bet/bet.ts";
import { BetBlock } from "../bet/bet-block.ts";

/** Where an agency's bets come from, in order, a block at a time: its file, or exercise 5's single bet. */
export interface BetSource {
  /** What the config line and the log name it by. */
  readonly name: string;
  /** Bytes read so far, and the whole source's size: how far through it the agency is. */
  readonly bytesRead: number;
  readonly size: number;
  /** The valid bets, in order, a block at a time. */
  blocks(): AsyncGenerator<BetBlock>;
  /** Takes back a block whose bets are no longer needed, for reuse. */
  recycle(block: BetBlock): void;
  /** Stops reading and releases what the source holds. */
  close(): void;
}

/** Exercise 5: the one bet the environment gives (NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO), sent as a file of one would be. */
export class SingleBet implements BetSource {
  static readonly NAME = "none (single bet)";
  readonly name = SingleBet.NAME;
  readonly size = 1;
  bytesRead = 0;

  constructor(private readonly bet: BetFields) {}

  async *blocks(): AsyncGenerator<BetBlock> {
    this.bytesRead = 1;
    yield BetBlock.of([this.bet]);
  }

  recycle(): void {}

  close(): void {}
}
