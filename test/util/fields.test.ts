// The one reader and writer of a field's layout (u32 BE length, then its bytes), which bet blocks and messages share.
import { expect, test } from "bun:test";
import { FIELD_LENGTH_BYTES, fieldEnd, MalformedFieldError, writeFieldLength } from "../../lib/util/fields.ts";

const field = (text: string) => {
  const bytes = Buffer.from(text);
  return Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
};

test("a field ends after its length and its bytes; the next one starts there", () => {
  const two = Buffer.concat([field("Ana"), field("Peña")]);
  expect(FIELD_LENGTH_BYTES).toBe(4);
  expect(fieldEnd(two, 0)).toBe(7);
  expect(fieldEnd(two, 7)).toBe(two.length);
  expect(fieldEnd(Buffer.from([0, 0, 0, 0]), 0)).toBe(4);
});

test("a length cut off, or bytes running past the end, are a MalformedFieldError saying which", () => {
  expect(() => fieldEnd(Buffer.from([0, 0, 0]), 0)).toThrow(new MalformedFieldError("truncated field length"));
  expect(() => fieldEnd(field("Ana").subarray(0, 6), 0)).toThrow(new MalformedFieldError("field runs past the end of the frame"));
  // A length near 2^32 is read unsigned, not as a negative number that would pass the check.
  expect(() => fieldEnd(Buffer.from([0xff, 0xff, 0xff, 0xff, 1]), 0)).toThrow(MalformedFieldError);
});

test("a length written is the length read, big-endian, up to 2^32 - 1", () => {
  for (const length of [0, 1, 0x7f, 0x80, 0x1234, 0xabcdef, 0xffffffff]) {
    const bytes = new Uint8Array(FIELD_LENGTH_BYTES + 1);
    writeFieldLength(bytes, 1, length);
    expect(Buffer.from(bytes).readUInt32BE(1)).toBe(length);
  }
});
