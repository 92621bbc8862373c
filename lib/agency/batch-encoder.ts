import type { BetBlock } from "../bet-block.ts";
import { BATCH_FRAME_BYTES, FrameWriter, MessageType } from "../protocol/index.ts";

/**
 * Packs bets into bets frames of at most `maxAmount` bets and `maxFrameBytes` bytes (header included):
 * a batch is cut early when the next bet would pass the byte limit. The bets are already encoded in
 * the block, so a frame is a header, the agency and one copied range. Frames gather in one buffer
 * until taken, so that several go out in one write.
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

  /** Encodes a frame from the block's bets [from...]; returns how many bets it holds (at least one). */
  encode(bets: BetBlock, from: number): number {
    const writer = this.writer.start(MessageType.Bets).field(String(this.agency));
    const room = this.maxFrameBytes - writer.frameBytes;
    const start = bets.offsetOf(from);
    const last = Math.min(bets.count, from + this.maxAmount);
    let count = 0;
    while (from + count < last && bets.offsetOf(from + count + 1) - start <= room) count++;
    if (count === 0) {
      writer.discard();
      throw new Error(`a single bet (document ${bets.text(from).document}) does not fit in a ${this.maxFrameBytes}-byte frame`);
    }
    writer.raw(bets.bytes(from, from + count)).finish();
    return count;
  }

  /** The frames encoded since the last call, as a view valid until the next encode: send them at once. */
  take(): Buffer {
    return this.writer.take();
  }
}
