// Growing byte buffers, shared by the parsers and writers that keep one and reuse it.

/**
 * A buffer of at least `size` bytes starting with the first `kept` bytes of `buffer`: itself when big
 * enough, else a new one from `allocate` (a Uint8Array unless told otherwise, such as a Buffer), twice
 * the old size if that is more, but never past `limit` when it is known.
 */
export function withCapacity<T extends Uint8Array>(
  buffer: T,
  size: number,
  kept: number,
  allocate: (size: number) => T = (length) => new Uint8Array(length) as T,
  limit = Infinity,
): T {
  if (size <= buffer.length) return buffer;
  const grown = allocate(Math.max(size, Math.min(2 * buffer.length, limit)));
  grown.set(buffer.subarray(0, kept));
  return grown;
}
