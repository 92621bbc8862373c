import type { BetBlock } from "../bet/bet-block.ts";
import type { BatchEncoder } from "./batch-encoder.ts";
import type { BetSource } from "./bet-source.ts";

/**
 * The agency's bets between the oldest one the central has not acknowledged and the latest one read, as
 * the blocks its source gave them in, so that any of them can be sent (again, after a reconnect) without
 * reading the source twice. Positions count the source's valid bets from 0.
 */
export class BetWindow {
  private readonly blocks: BetBlock[] = [];
  /** The position of the first block's first bet. */
  private first = 0;
  /** The position after the last bet read. */
  private loaded = 0;
  private reader: AsyncGenerator<BetBlock> | undefined;
  private exhausted = false;

  constructor(private readonly source: BetSource) {}

  /** Makes sure `count` bets past `position` are held, or the source's last ones; false when none is left past it. */
  async fill(position: number, count: number): Promise<boolean> {
    while (this.loaded - position < count && (await this.read()));
    return position < this.loaded;
  }

  /**
   * Lines the window up with `position`, the first bet not to send again (one the central holds or has
   * acknowledged): blocks wholly before it are let go as they are read, so a long skip holds one at a time.
   * False when the source has fewer bets.
   */
  async skipTo(position: number): Promise<boolean> {
    for (this.release(position); this.loaded < position; this.release(position)) {
      if (!(await this.read())) return false;
    }
    return true;
  }

  /** Encodes the batch that starts at `position` (held); returns how many bets it took. */
  encodeFrom(encoder: BatchEncoder, position: number): number {
    let first = this.first;
    for (const [block, { count }] of this.blocks.entries()) {
      if (position < first + count) return encoder.encode(this.blocks, block, position - first);
      first += count;
    }
    throw new Error(`bet ${position} is not held`);
  }

  /** Each held block's part of the bets from `from` to `to`, as indexes into the block. */
  forEach(from: number, to: number, each: (block: BetBlock, start: number, end: number) => void): void {
    let first = this.first;
    for (const block of this.blocks) {
      const end = first + block.count;
      if (end > from && first < to) each(block, Math.max(from, first) - first, Math.min(to, end) - first);
      if (end >= to) break;
      first = end;
    }
  }

  /** Lets go of the blocks wholly before `position` (acknowledged, or stored by an earlier run): the source reuses them. */
  release(position: number): void {
    while (this.blocks.length > 0 && this.first + this.blocks[0]!.count <= position) {
      const block = this.blocks.shift()!;
      this.first += block.count;
      this.source.recycle(block);
    }
  }

  /** Reads the source's next block of valid bets; false at its end. */
  private async read(): Promise<boolean> {
    if (this.exhausted) return false;
    this.reader ??= this.source.blocks();
    const next = await this.reader.next();
    if (next.done) {
      this.exhausted = true;
      return false;
    }
    this.blocks.push(next.value);
    this.loaded += next.value.count;
    return true;
  }
}
