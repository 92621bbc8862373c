// The UTF-8 check the bet rules use on names, against node:buffer's isUtf8 as the reference.
import { expect, test } from "bun:test";
import { isUtf8 as reference } from "node:buffer";
import { mulberry32 } from "../../lib/util/random.ts";
import { isUtf8, utf8Text } from "../../lib/util/utf8.ts";

test("agrees with node:buffer on every 1- and 2-byte sequence and on the edge cases of longer ones", () => {
  const cases: number[][] = [];
  for (let a = 0; a < 256; a++) {
    cases.push([a]);
    for (let b = 0; b < 256; b++) cases.push([a, b]);
  }
  const edges = [
    [0xe0, 0x9f, 0x80], [0xe0, 0xa0, 0x80], // overlong / shortest 3-byte
    [0xed, 0x9f, 0xbf], [0xed, 0xa0, 0x80], // last before the surrogates / a surrogate
    [0xef, 0xbf, 0xbf], [0xf0, 0x8f, 0xbf, 0xbf], [0xf0, 0x90, 0x80, 0x80], // U+FFFF / overlong / U+10000
    [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], // U+10FFFF / past it
    [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xe2, 0x82, 0x41], // cut, or a continuation missing
    [0xf0, 0x9f, 0x98, 0x41], [0xf4, 0x8f, 0xbf, 0x41], // a 4-byte character whose last byte is not a continuation
  ];
  cases.push(...edges);
  const mismatches = cases.filter((bytes) => isUtf8(Uint8Array.from(bytes), 0, bytes.length) !== reference(Uint8Array.from(bytes)));
  expect(mismatches).toEqual([]);
});

test("reads only its range: a character cut at the range's end is not completed by the bytes after it", () => {
  const bytes = Buffer.from("añb");
  expect(isUtf8(bytes, 0, 4)).toBe(true);
  expect(isUtf8(bytes, 0, 2)).toBe(false);
  expect(utf8Text(bytes.subarray(1), 0, 2)).toBe("ñ");
});

test("agrees with node:buffer on random 3- to 5-byte sequences made mostly of lead and continuation bytes", () => {
  const random = mulberry32(7);
  // Lead bytes of 2-, 3- and 4-byte characters, continuation bytes, and a few others.
  const pool = [0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0x41, 0xc0];
  const mismatches: number[][] = [];
  for (let i = 0; i < 100_000; i++) {
    const bytes = Uint8Array.from({ length: 3 + Math.floor(random() * 3) }, () => pool[Math.floor(random() * pool.length)]!);
    if (isUtf8(bytes, 0, bytes.length) !== reference(bytes)) mismatches.push([...bytes]);
  }
  expect(mismatches).toEqual([]);
});
