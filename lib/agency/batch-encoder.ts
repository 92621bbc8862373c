import type { Bet } from "../bet.ts";
import { BATCH_FRAME_BYTES, FrameWriter, MessageType, writeBetFields } from "../protocol/index.ts";

/**
 * Packs bets into bets frames of at most `maxAmount` bets and `maxFrameBytes` bytes (header included):
 * a batch is cut early when the next bet would pass the byte limit.
 */
export class BatchEncoder {
  private readonly writer = new FrameWriter(BATCH_FRAME_BYTES * 2);

  constructor(
    private readonly agency: number,
    private readonly maxAmount: number,
    private readonly maxFrameBytes: number = BATCH_FRAME_BYTES,
  ) {}

  /**
   * Encodes a frame from bets[from...]; returns it with how many bets it holds (at least one). The frame
   * is a view of the encoder's buffer, valid until the next call: send it (or copy it) at once.
   */
  encode(bets: readonly Bet[], from: number): { frame: Buffer; count: number } {
    const writer = this.writer;
    writer.start(MessageType.Bets).field(String(this.agency));
    const end = Math.min(bets.length, from + this.maxAmount);
    let count = 0;
    for (let i = from; i < end; i++) {
      const before = writer.frameBytes;
      const bet = bets[i]!;
      writeBetFields(writer, {
        firstName: bet.firstName,
        lastName: bet.lastName,
        document: bet.document,
        birthdate: bet.birthdate,
        number: String(bet.number),
      });
      if (writer.frameBytes > this.maxFrameBytes) {
        if (count === 0) {
          writer.discard();
          throw new Error(`a single bet (document ${bet.document}) does not fit in a ${this.maxFrameBytes}-byte frame`);
        }
        writer.rewind(before);
        break;
      }
      count++;
    }
    return { frame: writer.finish().take(), count };
  }
}
