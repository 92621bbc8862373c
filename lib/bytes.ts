// Growing byte buffers, shared by the parsers and writers that keep one and reuse it.

/** A buffer of at least `size` bytes starting with the first `kept` bytes of `buffer`: itself when big enough. */
export function withCapacity(buffer: Uint8Array, size: number, kept: number): Uint8Array {
  if (size <= buffer.length) return buffer;
  const grown = new Uint8Array(Math.max(size, 2 * buffer.length));
  grown.set(buffer.subarray(0, kept));
  return grown;
}
