import type { BetBlock } from "../bet/bet-block.ts";
import { BATCH_FRAME_BYTES, FrameWriter, MessageType } from "../protocol/index.ts";

/**
 * Packs bets into bets frames of at most `maxAmount` bets and `maxFrameBytes` bytes (header included):
 * a batch is cut early when the next bet would pass the byte limit. The bets are already encoded in
 * blocks, so a frame is a header, the agency and a copied range of each block it spans (one, or two
 * where a block ends). Frames gather in one buffer until taken, so that several go out in one write.
 */
export class BatchEncoder {
  private readonly writer = new FrameWriter(BATCH_FRAME_BYTES * 2);

  constructor(
    private readonly agency: number,
    private readonly maxAmount: number,
    private readonly maxFrameBytes: number = BATCH_FRAME_BYTES,
  ) {}

  /** Bytes of the frames encoded and not yet taken. */
  get bufferedBytes(): number {
    return this.writer.bytes;
  }

  /**
   * Encodes a frame from the bets that start at bet `from` of `blocks[first]` and go on into the blocks
   * after it; returns how many bets it holds (at least one).
   */
  encode(blocks: readonly BetBlock[], first: number, from: number): number {
    const writer = this.writer.start(MessageType.Bets).field(String(this.agency));
    let room = this.maxFrameBytes - writer.frameBytes;
    let count = 0;
    for (let b = first; b < blocks.length && count < this.maxAmount; b++, from = 0) {
      const bets = blocks[b]!;
      const start = bets.offsetOf(from);
      const last = Math.min(bets.count, from + this.maxAmount - count);
      // Nearly always the whole run fits: one look at its end; otherwise bet by bet up to the byte limit.
      let taken = bets.offsetOf(last) - start <= room ? last - from : 0;
      if (taken === 0) while (from + taken < last && bets.offsetOf(from + taken + 1) - start <= room) taken++;
      if (taken > 0) writer.raw(bets.bytes(from, from + taken));
      room -= bets.offsetOf(from + taken) - start;
      count += taken;
      // A bet left in this block did not fit: the frame is full.
      if (from + taken < bets.count) break;
    }
    if (count === 0) {
      writer.discard();
      const document = blocks[first]!.text(from).document;
      throw new Error(`a single bet (document ${document}) does not fit in a ${this.maxFrameBytes}-byte frame`);
    }
    writer.finish();
    return count;
  }

  /** The frames encoded since the last call, as a view valid until the next encode: send them at once. */
  take(): Buffer {
    return this.writer.take();
  }
}
