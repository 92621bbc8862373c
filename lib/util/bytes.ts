// Growing buffers, shared by the parsers, writers and logs that keep one and reuse it.

/** The typed arrays kept as growing buffers: bytes, field ranges, samples. */
type GrowingArray = Uint8Array | Int32Array | Float64Array;

/** Allocators for withCapacity's other kinds of array. */
export const int32Array = (size: number): Int32Array<ArrayBuffer> => new Int32Array(size);
export const float64Array = (size: number): Float64Array<ArrayBuffer> => new Float64Array(size);

/**
 * A buffer of at least `size` elements starting with the first `kept` ones of `buffer`: itself when big
 * enough, else a new one from `allocate` (a Uint8Array unless told otherwise, such as a Buffer or an
 * Int32Array), twice the old size if that is more, but never past `limit` when it is known.
 */
export function withCapacity<T extends Uint8Array>(buffer: T, size: number, kept: number, allocate?: (size: number) => T, limit?: number): T;
export function withCapacity<T extends GrowingArray>(buffer: T, size: number, kept: number, allocate: (size: number) => T, limit?: number): T;
export function withCapacity<T extends GrowingArray>(
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
