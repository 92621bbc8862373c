import { MessageType, ProtocolError } from "./frame.ts";
import { FrameWriter } from "./writer.ts";
import { BetBlock, RangesScratch } from "../bet/bet-block.ts";
import { FIELD_LENGTH_BYTES, fieldEnd, MalformedFieldError } from "../util/fields.ts";

export type Message =
  | { type: MessageType.Hello; agency: number }
  | { type: MessageType.Welcome; stored: number }
  | { type: MessageType.Bets; agency: number; bets: BetBlock }
  | { type: MessageType.Ok; count: number }
  | { type: MessageType.Error; reason: string }
  | { type: MessageType.End; agency: number }
  | { type: MessageType.WinnersQuery; agency: number }
  | { type: MessageType.Winners; documents: string[] }
  | { type: MessageType.Echo; payload: Uint8Array };

export function messageName(type: number): string {
  return MessageType[type as MessageType] ?? `0x${type.toString(16).padStart(2, "0")}`;
}

/** Reads length-prefixed UTF-8 fields from one payload. */
class FieldReader {
  private offset = 0;

  constructor(private readonly payload: Buffer) {}

  get done(): boolean {
    return this.offset === this.payload.length;
  }

  string(): string {
    const start = this.offset + FIELD_LENGTH_BYTES;
    this.offset = fieldEnd(this.payload, this.offset);
    return this.payload.toString("utf8", start, this.offset);
  }

  /** A non-negative decimal integer field, as counts and agency ids are sent. */
  integer(what: string): number {
    const text = this.string();
    if (!/^\d{1,10}$/.test(text) || Number(text) > 0xffffffff) {
      throw new ProtocolError(`${what} must be a non-negative integer, got ${JSON.stringify(text)}`);
    }
    return Number(text);
  }

  /** The bytes after the last field read. */
  rest(): Buffer {
    const rest = this.payload.subarray(this.offset);
    this.offset = this.payload.length;
    return rest;
  }

  end(): void {
    if (!this.done) throw new ProtocolError("unexpected bytes after the last field");
  }
}

/**
 * Parses one frame into a message; throws ProtocolError for unknown types or malformed payloads. A bets
 * message's block reads the payload in place: it is valid as long as the payload is.
 */
export function decodeMessage(type: number, payload: Buffer): Message {
  return decodeWith(type, payload, undefined);
}

/**
 * Decodes the frames of a stream handled one at a time (the central's), with one scratch for the field
 * ranges of their bets blocks instead of an array per frame: a decoded bets block is valid until the next
 * frame is decoded (see RangesScratch).
 */
export class MessageDecoder {
  private readonly ranges = new RangesScratch();

  decode(type: number, payload: Buffer): Message {
    return decodeWith(type, payload, this.ranges);
  }
}

function decodeWith(type: number, payload: Buffer, scratch: RangesScratch | undefined): Message {
  try {
    return parseMessage(type, payload, scratch);
  } catch (error) {
    if (error instanceof MalformedFieldError) throw new ProtocolError(error.message);
    throw error;
  }
}

function parseMessage(type: number, payload: Buffer, scratch: RangesScratch | undefined): Message {
  const reader = new FieldReader(payload);
  let message: Message;
  switch (type) {
    case MessageType.Hello:
    case MessageType.End:
    case MessageType.WinnersQuery:
      message = { type, agency: reader.integer("agency") };
      break;
    case MessageType.Welcome:
      message = { type, stored: reader.integer("stored") };
      break;
    case MessageType.Ok:
      message = { type, count: reader.integer("count") };
      break;
    case MessageType.Error:
      message = { type, reason: reader.string() };
      break;
    case MessageType.Bets:
      return parseBets(reader, scratch);
    case MessageType.Winners:
      return parseWinners(reader);
    case MessageType.Echo:
      // Copied: the payload is a view that the decoder reuses once the callback returns.
      return { type, payload: Uint8Array.prototype.slice.call(payload) };
    default:
      throw new ProtocolError(`unknown message type ${messageName(type)}`);
  }
  reader.end();
  return message;
}

/**
 * The agency, then the bets as a block over the payload, not copied: like the payload, it is valid only
 * until the frame callback returns. The central checks and stores the bets within it.
 */
function parseBets(reader: FieldReader, scratch: RangesScratch | undefined): Message {
  const agency = reader.integer("agency");
  const bets = BetBlock.over(reader.rest(), scratch);
  if (bets.count === 0) throw new ProtocolError("a bets frame must carry at least one bet");
  return { type: MessageType.Bets, agency, bets };
}

function parseWinners(reader: FieldReader): Message {
  const documents: string[] = [];
  while (!reader.done) documents.push(reader.string());
  return { type: MessageType.Winners, documents };
}

/** Appends a whole message as one frame. */
export function writeMessage(writer: FrameWriter, message: Message): FrameWriter {
  writer.start(message.type);
  switch (message.type) {
    case MessageType.Hello:
    case MessageType.End:
    case MessageType.WinnersQuery:
      writer.field(String(message.agency));
      break;
    case MessageType.Welcome:
      writer.field(String(message.stored));
      break;
    case MessageType.Ok:
      writer.field(String(message.count));
      break;
    case MessageType.Error:
      writer.field(message.reason);
      break;
    case MessageType.Bets:
      writer.field(String(message.agency)).raw(message.bets.bytes());
      break;
    case MessageType.Winners:
      for (const document of message.documents) writer.field(document);
      break;
    case MessageType.Echo:
      writer.raw(message.payload);
      break;
  }
  return writer.finish();
}

const shared = new FrameWriter(256);

/** Encodes one message into a buffer of its own. */
export function encodeMessage(message: Message): Buffer {
  return writeMessage(shared, message).flush();
}
