// A field, as the bets and the frames carry their values: its byte length as a u32 big-endian, then its
// bytes. One reader and one writer of that layout for the bet blocks and the messages alike.

/** The length before each field's bytes. */
export const FIELD_LENGTH_BYTES = 4;

/** Bytes that do not hold whole fields. */
export class MalformedFieldError extends Error {
  override readonly name = "MalformedFieldError";
}

/**
 * Where the field at `offset` of `bytes` ends (its bytes start FIELD_LENGTH_BYTES after `offset`); throws
 * MalformedFieldError when its length is cut off or its bytes run past the end.
 */
export function fieldEnd(bytes: Uint8Array, offset: number): number {
  if (bytes.length - offset < FIELD_LENGTH_BYTES) throw new MalformedFieldError("truncated field length");
  const end = offset + FIELD_LENGTH_BYTES + readLength(bytes, offset);
  if (end > bytes.length) throw new MalformedFieldError("field runs past the end of the frame");
  return end;
}

/**
 * A field's u32 BE length. Read byte by byte rather than through a DataView: a view of received bytes
 * would need its ArrayBuffer, which a Buffer from the socket may have to create first.
 */
function readLength(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Writes a field's u32 BE length at `offset` (its bytes then go FIELD_LENGTH_BYTES after it). */
export function writeFieldLength(bytes: Uint8Array, offset: number, length: number): void {
  bytes[offset] = length >>> 24;
  bytes[offset + 1] = (length >>> 16) & 0xff;
  bytes[offset + 2] = (length >>> 8) & 0xff;
  bytes[offset + 3] = length & 0xff;
}
