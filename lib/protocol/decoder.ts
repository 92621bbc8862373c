import { withCapacity } from "../util/bytes.ts";
import { FrameTooLargeError, HEADER_BYTES, SIZE_BYTES } from "./frame.ts";

const NO_BYTES = Buffer.alloc(0);

/**
 * Receives a frame whose payload is a view into the decoder's buffers: it is valid only until
 * the callback returns, so callers parse or copy it there.
 */
export type FrameCallback = (type: number, payload: Buffer) => void;

/**
 * Turns a byte stream, split or coalesced in any way, into whole frames.
 *
 * Frames wholly inside a received chunk are handed out as views of that chunk, never copied. Only a
 * frame cut by a chunk boundary is gathered into one owned buffer, and only up to that frame's end,
 * so the buffer never holds more than one maximal frame: memory per connection stays bounded.
 */
export class FrameDecoder {
  /**
   * The frame cut by a chunk boundary, gathered; allocated only when a frame is cut, and let go once it
   * is whole: with thousands of connections, most hold no cut frame, and a connection's cut frames
   * come one at a time.
   */
  private partial: Buffer = NO_BYTES;
  private partialLength = 0;

  constructor(private readonly maxPayloadBytes: number) {}

  /** Bytes received that do not yet form a whole frame. */
  get buffered(): number {
    return this.partialLength;
  }

  /** Feeds one received chunk; throws FrameTooLargeError as soon as an oversized header is seen. */
  push(chunk: Buffer, onFrame: FrameCallback): void {
    let offset = this.partialLength > 0 ? this.completePartial(chunk, onFrame) : 0;
    if (offset < 0) return;

    let frameEnd = 0;
    while (chunk.length - offset >= HEADER_BYTES) {
      frameEnd = offset + HEADER_BYTES + this.payloadSize(chunk, offset);
      if (frameEnd > chunk.length) break;
      onFrame(chunk[offset + SIZE_BYTES]!, chunk.subarray(offset + HEADER_BYTES, frameEnd));
      offset = frameEnd;
    }
    // The cut frame's length is known once its header is in (else frameEnd <= offset).
    if (offset < chunk.length) this.gather(chunk, offset, chunk.length, frameEnd - offset);
  }

  private reset(): void {
    this.partial = NO_BYTES;
    this.partialLength = 0;
  }

  /** Moves bytes from the chunk into the cut frame; returns where the chunk's own frames start, or -1. */
  private completePartial(chunk: Buffer, onFrame: FrameCallback): number {
    let offset = 0;
    if (this.partialLength < HEADER_BYTES) {
      offset = Math.min(HEADER_BYTES - this.partialLength, chunk.length);
      this.gather(chunk, 0, offset);
      if (this.partialLength < HEADER_BYTES) return -1;
    }
    const frameLength = HEADER_BYTES + this.payloadSize(this.partial, 0);
    const taken = Math.min(frameLength - this.partialLength, chunk.length - offset);
    this.gather(chunk, offset, offset + taken, frameLength);
    offset += taken;
    if (this.partialLength < frameLength) return -1;
    this.partialLength = 0;
    const frame = this.partial;
    this.partial = NO_BYTES;
    onFrame(frame[SIZE_BYTES]!, frame.subarray(HEADER_BYTES, frameLength));
    return offset;
  }

  private payloadSize(bytes: Buffer, offset: number): number {
    const size = bytes.readUInt32BE(offset);
    if (size > this.maxPayloadBytes) {
      this.reset();
      throw new FrameTooLargeError(size, this.maxPayloadBytes);
    }
    return size;
  }

  /**
   * Appends bytes[start, end) to the cut frame, whose whole length is `frameBytes` when known: the buffer
   * doubles as bytes arrive, up to that length, and never grows on a header's word alone (a peer that
   * sends only headers makes it allocate no more than it sent).
   */
  private gather(bytes: Buffer, start: number, end: number, frameBytes = 0): void {
    const needed = this.partialLength + end - start;
    this.partial = withCapacity(this.partial, needed, this.partialLength, Buffer.allocUnsafe, frameBytes > 0 ? frameBytes : Infinity);
    bytes.copy(this.partial, this.partialLength, start, end);
    this.partialLength = needed;
  }

}
