// FrameDecoder: whole frames out of a byte stream however it is split or coalesced, bounded buffering,
// oversized frames refused from their header alone.
import { describe, expect, test } from "bun:test";
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeMessage,
  encodeMessage,
  FrameDecoder,
  FrameTooLargeError,
  HEADER_BYTES,
  MessageType,
  ProtocolError,
  type Message,
} from "../../lib/protocol/index.ts";
import { BetBlock } from "../../lib/bet/bet-block.ts";

interface Frame {
  type: number;
  payload: string; // hex, copied inside the callback since the payload view is only valid there
}

/** A raw frame: size u32 BE | type u8 | payload. */
function frame(type: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  header[4] = type;
  return Buffer.concat([header, body]);
}

const MESSAGES: Message[] = [
  { type: MessageType.Hello, agency: 3 },
  { type: MessageType.Bets, agency: 3, bets: BetBlock.of([{ firstName: "Iñaki", lastName: "Núñez", document: "30904465", birthdate: "1999-03-17", number: "7574" }]) },
  { type: MessageType.Ok, count: 1 },
  { type: MessageType.Echo, payload: new Uint8Array(0) }, // a frame with an empty payload
  { type: MessageType.Error, reason: "x".repeat(600) }, // longer than the decoder's initial buffer
  { type: MessageType.End, agency: 3 },
  { type: MessageType.Winners, documents: ["30904465", "😀"] },
  // Last, a frame with nothing but its header, as an agency with no winners receives: a stream or
  // chunk ending on it must hand it out at once, not keep it as the start of a frame to come.
  { type: MessageType.Winners, documents: [] },
];

// Several frames back to back, as one connection would carry them.
const STREAM = Buffer.concat(MESSAGES.map(encodeMessage));

/** Offsets in STREAM where each frame ends. */
const FRAME_ENDS: number[] = (() => {
  const ends: number[] = [];
  let offset = 0;
  while (offset < STREAM.length) {
    offset += HEADER_BYTES + STREAM.readUInt32BE(offset);
    ends.push(offset);
  }
  return ends;
})();

const EXPECTED: Frame[] = (() => {
  const frames: Frame[] = [];
  let start = 0;
  for (const end of FRAME_ENDS) {
    frames.push({ type: STREAM[start + 4]!, payload: STREAM.subarray(start + HEADER_BYTES, end).toString("hex") });
    start = end;
  }
  return frames;
})();

/** Feeds the chunks to a fresh decoder and returns the frames it yielded. */
function decodeChunks(chunks: Buffer[], max = DEFAULT_MAX_FRAME_BYTES): { frames: Frame[]; decoder: FrameDecoder } {
  const decoder = new FrameDecoder(max);
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (type, payload) => frames.push({ type, payload: payload.toString("hex") }));
  }
  return { frames, decoder };
}

describe("FrameDecoder splitting", () => {
  test("the stream under test holds frames of every size class", () => {
    expect(EXPECTED.length).toBe(MESSAGES.length);
    expect(EXPECTED.map((f) => f.type)).toEqual(MESSAGES.map((m) => m.type));
    expect(EXPECTED.some((f) => f.payload === "")).toBe(true);
    expect(EXPECTED.at(-1)).toEqual({ type: MessageType.Winners, payload: "" });
  });

  test("the whole stream in one chunk yields every frame (coalesced frames)", () => {
    const { frames, decoder } = decodeChunks([STREAM]);
    expect(frames).toEqual(EXPECTED);
    expect(decoder.buffered).toBe(0);
  });

  test("split into two chunks at every byte offset", () => {
    for (let split = 0; split <= STREAM.length; split++) {
      const { frames, decoder } = decodeChunks([STREAM.subarray(0, split), STREAM.subarray(split)]);
      expect({ split, frames }).toEqual({ split, frames: EXPECTED });
      expect(decoder.buffered).toBe(0);
    }
  });

  test("split into three chunks at every pair of offsets in the first frames", () => {
    // Every pair over the whole stream is quadratic; the first four frames cover headers cut in two
    // places, empty payloads and a frame completed by a chunk that also carries whole frames.
    const limit = FRAME_ENDS[3]!;
    for (let a = 0; a <= limit; a++) {
      for (let b = a; b <= limit; b++) {
        const { frames } = decodeChunks([STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)]);
        expect({ a, b, frames }).toEqual({ a, b, frames: EXPECTED });
      }
    }
  });

  test("one byte at a time, buffering only the frame in progress", () => {
    const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES);
    const frames: Frame[] = [];
    let lastEnd = 0;
    for (let i = 0; i < STREAM.length; i++) {
      decoder.push(STREAM.subarray(i, i + 1), (type, payload) => frames.push({ type, payload: payload.toString("hex") }));
      if (FRAME_ENDS.includes(i + 1)) lastEnd = i + 1;
      // Exactly the bytes since the last whole frame are held: never more than one frame.
      expect(decoder.buffered).toBe(i + 1 - lastEnd);
    }
    expect(frames).toEqual(EXPECTED);
  });

  test("a chunk that ends one frame, carries whole ones and starts another", () => {
    const cut1 = FRAME_ENDS[0]! + 2; // inside the second frame's header
    const cut2 = FRAME_ENDS[4]! + 7; // inside the sixth frame's payload
    const { frames: first, decoder } = decodeChunks([STREAM.subarray(0, cut1)]);
    expect(first).toEqual(EXPECTED.slice(0, 1));
    expect(decoder.buffered).toBe(2);

    const second: Frame[] = [];
    decoder.push(STREAM.subarray(cut1, cut2), (type, payload) => second.push({ type, payload: payload.toString("hex") }));
    expect(second).toEqual(EXPECTED.slice(1, 5));
    expect(decoder.buffered).toBe(7);

    const third: Frame[] = [];
    decoder.push(STREAM.subarray(cut2), (type, payload) => third.push({ type, payload: payload.toString("hex") }));
    expect(third).toEqual(EXPECTED.slice(5));
    expect(decoder.buffered).toBe(0);
  });

  test("buffered stays within one frame for large frames split in small chunks", () => {
    const big = frame(MessageType.Echo, Buffer.alloc(20_000, 0xab));
    const stream = Buffer.concat([big, big, big]);
    const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES);
    let count = 0;
    let peak = 0;
    for (let offset = 0; offset < stream.length; offset += 1000) {
      decoder.push(stream.subarray(offset, offset + 1000), (type, payload) => {
        expect(type).toBe(MessageType.Echo);
        expect(payload.equals(Buffer.alloc(20_000, 0xab))).toBe(true);
        count++;
      });
      peak = Math.max(peak, decoder.buffered);
    }
    expect(count).toBe(3);
    expect(peak).toBeLessThan(big.length);
    expect(decoder.buffered).toBe(0);
  });

  test("frames gathered across chunks keep their bytes when the decoder reuses its buffer", () => {
    // Two cut frames in a row go through the same internal buffer; each must arrive intact.
    const a = frame(MessageType.Echo, "first payload");
    const b = frame(MessageType.Echo, "SECOND");
    const payloads: string[] = [];
    const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES);
    const onFrame = (_: number, payload: Buffer) => payloads.push(payload.toString());
    decoder.push(a.subarray(0, 9), onFrame);
    decoder.push(Buffer.concat([a.subarray(9), b.subarray(0, 3)]), onFrame);
    decoder.push(b.subarray(3), onFrame);
    expect(payloads).toEqual(["first payload", "SECOND"]);
  });

  test("an empty chunk changes nothing", () => {
    const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES);
    const frames: number[] = [];
    decoder.push(STREAM.subarray(0, 3), (type) => frames.push(type));
    decoder.push(Buffer.alloc(0), (type) => frames.push(type));
    expect(decoder.buffered).toBe(3);
    decoder.push(STREAM.subarray(3, FRAME_ENDS[0]), (type) => frames.push(type));
    expect(frames).toEqual([MessageType.Hello]);
  });
});

describe("FrameDecoder limits", () => {
  const MAX = 1024;

  test("a frame of exactly the maximum payload is accepted", () => {
    const { frames } = decodeChunks([frame(MessageType.Echo, Buffer.alloc(MAX, 1))], MAX);
    expect(frames.length).toBe(1);
    expect(frames[0]!.payload.length).toBe(MAX * 2);
  });

  test("a cut frame's buffer holds no more than what arrived, up to the frame, and is let go once the frame is whole", () => {
    const whole = frame(MessageType.Echo, Buffer.alloc(MAX, 7));
    const decoder = new FrameDecoder(MAX);
    // Its capacity is the memory a connection holds: not seen through the decoder's API, so read here.
    const capacity = () => (decoder as unknown as { partial: Buffer }).partial.length;
    const frames: number[] = [];
    const onFrame = (_type: number, payload: Buffer) => frames.push(payload.length);
    // A header that promises MAX bytes, and ten of them: a peer sending headers alone must cost what it sent.
    decoder.push(whole.subarray(0, HEADER_BYTES + 10), onFrame);
    expect(capacity()).toBeLessThanOrEqual(2 * (HEADER_BYTES + 10));
    for (let at = HEADER_BYTES + 10; at < whole.length; at += 100) {
      expect(capacity()).toBeLessThanOrEqual(whole.length);
      decoder.push(whole.subarray(at, at + 100), onFrame);
    }
    expect({ frames, capacity: capacity() }).toEqual({ frames: [MAX], capacity: 0 });
  });

  test("an oversized frame is refused from its header alone, before any payload arrives", () => {
    const header = frame(MessageType.Bets, Buffer.alloc(0));
    header.writeUInt32BE(MAX + 1, 0);
    const decoder = new FrameDecoder(MAX);
    let thrownAt = -1;
    let error: unknown;
    for (let i = 0; i < header.length && thrownAt < 0; i++) {
      try {
        decoder.push(header.subarray(i, i + 1), () => {});
      } catch (caught) {
        thrownAt = i;
        error = caught;
      }
    }
    // Refused no later than the last header byte: the payload is never waited for nor buffered.
    expect(thrownAt).toBeGreaterThanOrEqual(0);
    expect(thrownAt).toBeLessThan(HEADER_BYTES);
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as FrameTooLargeError).size).toBe(MAX + 1);
    expect((error as FrameTooLargeError).max).toBe(MAX);
    expect(decoder.buffered).toBeLessThanOrEqual(HEADER_BYTES);
  });

  test("a huge declared size is refused at once, whole header in one chunk", () => {
    const header = Buffer.from([0xff, 0xff, 0xff, 0xff, MessageType.Bets]);
    expect(() => decodeChunks([header], MAX)).toThrow(FrameTooLargeError);
  });

  test("frames before an oversized one in the same chunk are delivered first", () => {
    const oversized = Buffer.from([0, 0, 0x10, 0, MessageType.Bets]); // declares 4096 bytes
    const good = frame(MessageType.Echo, "ok");
    const decoder = new FrameDecoder(MAX);
    const seen: string[] = [];
    expect(() =>
      decoder.push(Buffer.concat([good, good, oversized]), (_, payload) => seen.push(payload.toString())),
    ).toThrow(FrameTooLargeError);
    expect(seen).toEqual(["ok", "ok"]);
  });

  test("an oversized header completing a cut frame's successor is refused", () => {
    const good = frame(MessageType.Echo, "ok");
    const oversized = Buffer.from([0, 0, 0x10, 0, MessageType.Bets]);
    const decoder = new FrameDecoder(MAX);
    const seen: string[] = [];
    decoder.push(good.subarray(0, 4), (_, p) => seen.push(p.toString()));
    expect(() => decoder.push(Buffer.concat([good.subarray(4), oversized]), (_, p) => seen.push(p.toString()))).toThrow(
      FrameTooLargeError,
    );
    expect(seen).toEqual(["ok"]);
  });

  test("frames of unknown types pass the decoder; decodeMessage refuses them", () => {
    const { frames } = decodeChunks([frame(0x5a, "zzz")]);
    expect(frames).toEqual([{ type: 0x5a, payload: Buffer.from("zzz").toString("hex") }]);
    expect(() => decodeMessage(0x5a, Buffer.from("zzz"))).toThrow(ProtocolError);
  });
});
