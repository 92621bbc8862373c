import { withCapacity } from "../util/bytes.ts";
import { writeFieldLength } from "../util/fields.ts";
import { FIELD_LENGTH_BYTES, HEADER_BYTES, SIZE_BYTES } from "./frame.ts";

/**
 * Builds frames into one reused, growing buffer: start a frame, add fields, finish it.
 * Several frames can be built back to back and taken together with `flush()`.
 */
export class FrameWriter {
  private buffer: Buffer;
  private length = 0;
  private frameStart = -1;

  constructor(initialBytes = 8 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written: the finished frames and the one being built. */
  get bytes(): number {
    return this.length;
  }

  /** Bytes of the frame being built, header included. */
  get frameBytes(): number {
    return this.frameStart < 0 ? 0 : this.length - this.frameStart;
  }

  start(type: number): this {
    if (this.frameStart >= 0) throw new Error("FrameWriter: previous frame not finished");
    this.ensure(HEADER_BYTES);
    this.frameStart = this.length;
    this.buffer[this.length + SIZE_BYTES] = type;
    this.length += HEADER_BYTES;
    return this;
  }

  field(value: string): this {
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes: reserve the worst case, write once.
    this.ensure(FIELD_LENGTH_BYTES + value.length * 3);
    const written = this.buffer.write(value, this.length + FIELD_LENGTH_BYTES, "utf8");
    writeFieldLength(this.buffer, this.length, written);
    this.length += FIELD_LENGTH_BYTES + written;
    return this;
  }

  /** Appends raw payload bytes (an echo payload, which is not made of fields). */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  /** Fills in the frame's size. */
  finish(): this {
    if (this.frameStart < 0) throw new Error("FrameWriter: no frame started");
    this.buffer.writeUInt32BE(this.length - this.frameStart - HEADER_BYTES, this.frameStart);
    this.frameStart = -1;
    return this;
  }

  /** Drops the frame being built, keeping the finished ones. */
  discard(): void {
    if (this.frameStart >= 0) this.length = this.frameStart;
    this.frameStart = -1;
  }

  /** Returns a copy of the finished frames and empties the writer for reuse. */
  flush(): Buffer {
    return Buffer.from(this.take());
  }

  /**
   * Returns the finished frames without copying them and empties the writer: the view is valid only
   * until the next frame is started. For a caller that writes them out at once (a SocketWriter copies
   * whatever it has to keep).
   */
  take(): Buffer {
    if (this.frameStart >= 0) throw new Error("FrameWriter: frame not finished");
    const frames = this.buffer.subarray(0, this.length);
    this.length = 0;
    return frames;
  }

  private ensure(extra: number): void {
    this.buffer = withCapacity(this.buffer, this.length + extra, this.length, Buffer.allocUnsafe);
  }
}
