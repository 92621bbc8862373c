// Framing shared by the central and the agencies:
//   frame = size: u32 BE | type: u8 | payload (size bytes)
//   payload = field*, field = length: u32 BE | UTF-8 bytes

// the size prefix counts only the payload, not the header
export const SIZE_BYTES = 4;
// one ASCII letter or digit identifies the message
const TYPE_BYTES = 1;
export const HEADER_BYTES = SIZE_BYTES + TYPE_BYTES;
// every payload field carries its byte length before its bytes (lib/util/fields.ts)
export { FIELD_LENGTH_BYTES } from "../util/fields.ts";

/** Default ceiling for a declared payload size; larger frames are refused before being buffered. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
/** Largest answer an agency takes from the central: a winners answer may hold some 700,000 documents. */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;
/** Agencies keep each bets frame, header included, within this many bytes. */
export const BATCH_FRAME_BYTES = 8 * 1024;

export enum MessageType {
  Hello = 0x48, // H: an agency introduces itself
  Welcome = 0x41, // A: how many of that agency's bets the central already holds
  Bets = 0x42, // B: one or many bets of one agency
  Ok = 0x30, // 0: a bets frame was stored whole
  Error = 0x45, // E: a request was refused
  End = 0x46, // F: the agency has sent all its bets
  WinnersQuery = 0x51, // Q: which of my bets won?
  Winners = 0x57, // W: the documents of the agency's winning bets
  Echo = 0x50, // P: payload sent back unchanged (health checks)
}

/** A protocol violation: the peer sent something that cannot be understood. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

/** The declared payload size passes the configured ceiling; raised before any of the payload is buffered. */
export class FrameTooLargeError extends ProtocolError {
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`frame of ${size} bytes exceeds the limit of ${max} bytes`);
  }
}
