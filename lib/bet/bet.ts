// The bet model and the rules every bet must pass. The agency checks rows with these rules before
// sending them and the central checks them again on receipt: one definition, shared by both. The
// rules read a bet's fields as byte ranges of UTF-8 text, so neither side makes a string per field.
import { isUtf8, rangeText, utf8Text } from "../util/utf8.ts";

/** A bet as read from a file or a frame: text fields, not yet validated. */
export interface BetFields {
  firstName: string;
  lastName: string;
  document: string;
  birthdate: string;
  number: string;
}

/** A validated bet of one agency. */
export interface Bet {
  agency: number;
  firstName: string;
  lastName: string;
  document: string;
  birthdate: string;
  number: number;
}

/** A bet's fields in the order files and frames carry them. */
export const BetField = { FirstName: 0, LastName: 1, Document: 2, Birthdate: 3, Number: 4 } as const;
export const BET_FIELD_COUNT = 5;
/** Entries of one bet in a list of field ranges (see FieldRanges): a start and an end per field. */
export const BET_RANGES = 2 * BET_FIELD_COUNT;

/** A bet's fields as byte ranges: field i is bytes[ranges[2i] .. ranges[2i + 1]), in BetField order. */
export type FieldRanges = Int32Array;

export function newFieldRanges(): FieldRanges {
  return new Int32Array(2 * BET_FIELD_COUNT);
}

// Where each field's range starts in FieldRanges; its end is the next slot.
const FIRST_NAME = 2 * BetField.FirstName;
const LAST_NAME = 2 * BetField.LastName;
const DOCUMENT = 2 * BetField.Document;
const BIRTHDATE = 2 * BetField.Birthdate;
const NUMBER = 2 * BetField.Number;

/** The number drawn, as the statement fixes it. */
export const LOTTERY_WINNER_NUMBER = 7574;

export function hasWon(bet: Bet): boolean {
  return isWinningNumber(bet.number);
}

/** hasWon for a bet still in bytes, whose number was read from them: no Bet object per bet checked. */
export function isWinningNumber(number: number): boolean {
  return number === LOTTERY_WINNER_NUMBER;
}

export const MAX_NAME_LENGTH = 100;
const MAX_DOCUMENT_DIGITS = 10;
const MAX_NUMBER_DIGITS = 4;
const EARLIEST_BIRTH_YEAR = 1900;
const NOT_BLANK = /\S/;

/** A bet that breaks a rule; the message names the field. */
export class InvalidBetError extends Error {
  override readonly name = "InvalidBetError";
}

export function isValidAgency(agency: number): boolean {
  return Number.isSafeInteger(agency) && agency >= 1;
}

/**
 * The rules, over one bet's five fields given as byte ranges (see FieldRanges), from ranges[base] on
 * (a block's ranges hold every bet's). Returns undefined for a valid bet, or the message of the first
 * broken rule. `fieldsAreUtf8`: the caller knows every field to be well-formed UTF-8 on its own (see
 * BetBlock.fieldsAreUtf8), so the names' bytes need not be read for that.
 */
export function betFieldsError(bytes: Uint8Array, ranges: ArrayLike<number>, base = 0, fieldsAreUtf8 = false): string | undefined {
  const nameError =
    checkName("first_name", bytes, ranges[base + FIRST_NAME]!, ranges[base + FIRST_NAME + 1]!, fieldsAreUtf8) ??
    checkName("last_name", bytes, ranges[base + LAST_NAME]!, ranges[base + LAST_NAME + 1]!, fieldsAreUtf8);
  if (nameError) return nameError;
  if (digitsValue(bytes, ranges[base + DOCUMENT]!, ranges[base + DOCUMENT + 1]!, MAX_DOCUMENT_DIGITS) < 0) {
    return `document must be 1 to ${MAX_DOCUMENT_DIGITS} digits, got ${quoted(bytes, ranges, base, BetField.Document)}`;
  }
  if (!isPastDate(bytes, ranges[base + BIRTHDATE]!, ranges[base + BIRTHDATE + 1]!)) {
    return `birthdate must be a past date as YYYY-MM-DD, got ${quoted(bytes, ranges, base, BetField.Birthdate)}`;
  }
  if (betNumber(bytes, ranges, base) < 0) {
    return `number must be an integer from 0 to 9999, got ${quoted(bytes, ranges, base, BetField.Number)}`;
  }
  return undefined;
}

/** The bet's number as an integer, or -1 when the field is not 1 to 4 digits (ranges from `base` on). */
export function betNumber(bytes: Uint8Array, ranges: ArrayLike<number>, base = 0): number {
  return digitsValue(bytes, ranges[base + NUMBER]!, ranges[base + NUMBER + 1]!, MAX_NUMBER_DIGITS);
}

/** Returns the validated bet, or throws InvalidBetError naming the first broken rule. */
export function validateBet(agency: number, fields: BetFields): Bet {
  if (!isValidAgency(agency)) throw new InvalidBetError(`agency must be a positive integer, got ${agency}`);
  const { bytes, ranges } = encodeFields(fields);
  const error = betFieldsError(bytes, ranges);
  if (error) throw new InvalidBetError(error);
  return { agency, ...fields, number: betNumber(bytes, ranges) };
}

/** A bet's fields as UTF-8 bytes and their ranges, for the rules and the blocks that read bytes. */
export function encodeFields(fields: BetFields): { bytes: Buffer; ranges: FieldRanges } {
  // Each field on its own: joined first, a lone surrogate at one's end and one at the next's start
  // would make one character, and the ranges would no longer match the bytes.
  const parts = [fields.firstName, fields.lastName, fields.document, fields.birthdate, fields.number].map((text) => Buffer.from(text));
  const ranges = newFieldRanges();
  let offset = 0;
  parts.forEach((part, i) => {
    ranges[2 * i] = offset;
    ranges[2 * i + 1] = offset += part.length;
  });
  return { bytes: Buffer.concat(parts, offset), ranges };
}

function checkName(field: string, bytes: Uint8Array, start: number, end: number, knownUtf8: boolean): string | undefined {
  // Nearly every name starts with a visible ASCII byte: look for one, then (unless the name is known
  // to be well-formed UTF-8) only OR the rest together to learn whether any byte is past ASCII.
  let i = start;
  let high = 0;
  for (; i < end; i++) {
    const byte = bytes[i]!;
    high |= byte;
    // Visible: ASCII and not white space as /\s/ sees it (tab, LF, VT, FF, CR and space).
    if (byte < 0x80 && byte !== 0x20 && (byte < 0x09 || byte > 0x0d)) break;
  }
  let visible = i < end;
  if (!knownUtf8) {
    for (; i < end; i++) high |= bytes[i]!;
    if (high >= 0x80 && !isUtf8(bytes, start, end)) return `${field} is not valid UTF-8`;
  }
  // Only a name without a visible ASCII character can be all Unicode spaces (U+00A0, U+3000...); the
  // search for one read all its bytes, so `high` tells whether any is past ASCII.
  if (!visible && high >= 0x80) visible = NOT_BLANK.test(utf8Text(bytes, start, end));
  if (!visible) return `${field} must not be empty`;
  // Characters are never more than bytes: only a long name needs its code points counted.
  if (end - start > MAX_NAME_LENGTH && codePoints(bytes, start, end) > MAX_NAME_LENGTH) {
    return `${field} must be at most ${MAX_NAME_LENGTH} characters`;
  }
  return undefined;
}

/** Code points in UTF-8 bytes[start..end): every byte but a continuation byte, so accented and 4-byte characters count as one. */
function codePoints(bytes: Uint8Array, start: number, end: number): number {
  let characters = 0;
  for (let i = start; i < end; i++) if ((bytes[i]! & 0xc0) !== 0x80) characters++;
  return characters;
}

/** The value of 1 to maxDigits ASCII digits, or -1. */
function digitsValue(bytes: Uint8Array, start: number, end: number, maxDigits: number): number {
  if (end <= start || end - start > maxDigits) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = bytes[i]! - 0x30;
    if (!(digit >= 0 && digit <= 9)) return -1; // also refuses a byte past the end (NaN)
    value = value * 10 + digit;
  }
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DASH = 0x2d;

/** YYYY-MM-DD, a real calendar day, from 1900 up to today. */
function isPastDate(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 10 || bytes[start + 4] !== DASH || bytes[start + 7] !== DASH) return false;
  // Digit by digit, no loop: a byte that is not a digit makes its part negative (see digit).
  const year = 1000 * digit(bytes, start) + 100 * digit(bytes, start + 1) + 10 * digit(bytes, start + 2) + digit(bytes, start + 3);
  const month = 10 * digit(bytes, start + 5) + digit(bytes, start + 6);
  const day = 10 * digit(bytes, start + 8) + digit(bytes, start + 9);
  if (year < EARLIEST_BIRTH_YEAR || month < 1 || month > 12 || day < 1) return false;
  if (day > 28 && day > DAYS_IN_MONTH[month - 1]! + (month === 2 && isLeapYear(year) ? 1 : 0)) return false;
  // A year before the one this process started in is past without looking at the clock.
  return year < START_YEAR || year * 10_000 + month * 100 + day <= today();
}

/** The digit at bytes[i], or a negative number large enough to make any part it is in negative. */
function digit(bytes: Uint8Array, i: number): number {
  const value = bytes[i]! - 0x30;
  return value >= 0 && value <= 9 ? value : -100_000;
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

const START_YEAR = new Date().getUTCFullYear();

// Today's date as the number YYYYMMDD, recomputed at most once a minute.
let todayValue = 0;
let todayExpires = 0;
function today(): number {
  const now = Date.now();
  if (now >= todayExpires) {
    const date = new Date(now);
    todayValue = date.getUTCFullYear() * 10_000 + (date.getUTCMonth() + 1) * 100 + date.getUTCDate();
    todayExpires = now + 60_000;
  }
  return todayValue;
}

/** A field's text in quotes, for an error message. */
function quoted(bytes: Uint8Array, ranges: ArrayLike<number>, base: number, field: number): string {
  return JSON.stringify(rangeText(bytes, ranges, field, base));
}
