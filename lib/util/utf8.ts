// UTF-8 over byte ranges: bets travel as bytes, and become text only where text is needed.

/** bytes[start..end) as text. A U+FEFF inside is kept: it is data, not a BOM. */
export function utf8Text(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("utf8");
}

/**
 * Field i of a list of ranges as text: field i is bytes[ranges[base + 2i] .. ranges[base + 2i + 1]) (a
 * block's ranges hold every bet's, each from its own base).
 */
export function rangeText(bytes: Uint8Array, ranges: ArrayLike<number>, i: number, base = 0): string {
  return utf8Text(bytes, ranges[base + 2 * i]!, ranges[base + 2 * i + 1]!);
}

/**
 * Whether bytes[start..end) is well-formed UTF-8 (RFC 3629: shortest forms only, no surrogates,
 * nothing past U+10FFFF). A loop rather than node:buffer's isUtf8, which would need a view per name.
 */
export function isUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; ) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let length: number;
    // The second byte's range depends on the lead: it rules out overlong forms, surrogates and > U+10FFFF.
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f;
    } else return false;
    if (i + length > end) return false;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return false;
    for (let k = 2; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return false;
    i += length;
  }
  return true;
}
