// The bet model and the rules every bet must pass. The agency checks rows with these rules before
// sending them and the central checks them again on receipt: one definition, shared by both.

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

/** The number drawn, as the statement fixes it. */
export const LOTTERY_WINNER_NUMBER = 7574;

export function hasWon(bet: Bet): boolean {
  return bet.number === LOTTERY_WINNER_NUMBER;
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

/** Returns the validated bet, or throws InvalidBetError naming the first broken rule. */
export function validateBet(agency: number, fields: BetFields): Bet {
  if (!isValidAgency(agency)) throw new InvalidBetError(`agency must be a positive integer, got ${agency}`);
  checkName("first_name", fields.firstName);
  checkName("last_name", fields.lastName);
  if (!isDigits(fields.document, 1, MAX_DOCUMENT_DIGITS)) {
    throw new InvalidBetError(`document must be 1 to ${MAX_DOCUMENT_DIGITS} digits, got ${JSON.stringify(fields.document)}`);
  }
  if (!isPastDate(fields.birthdate)) {
    throw new InvalidBetError(`birthdate must be a past date as YYYY-MM-DD, got ${JSON.stringify(fields.birthdate)}`);
  }
  if (!isDigits(fields.number, 1, MAX_NUMBER_DIGITS)) {
    throw new InvalidBetError(`number must be an integer from 0 to 9999, got ${JSON.stringify(fields.number)}`);
  }
  return {
    agency,
    firstName: fields.firstName,
    lastName: fields.lastName,
    document: fields.document,
    birthdate: fields.birthdate,
    number: Number(fields.number),
  };
}

function checkName(field: string, value: string): void {
  if (!NOT_BLANK.test(value)) throw new InvalidBetError(`${field} must not be empty`);
  // Code points, so that accented and 4-byte characters count as one.
  if (value.length > MAX_NAME_LENGTH && [...value].length > MAX_NAME_LENGTH) {
    throw new InvalidBetError(`${field} must be at most ${MAX_NAME_LENGTH} characters`);
  }
}

// Character checks rather than regular expressions: validation runs for every bet, on both sides.
function isDigits(text: string, min: number, max: number): boolean {
  if (text.length < min || text.length > max) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** YYYY-MM-DD, a real calendar day, from 1900 up to today. */
function isPastDate(text: string): boolean {
  if (text.length !== 10 || text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d) return false;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  if (year < EARLIEST_BIRTH_YEAR || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (month === 2 && leap ? 1 : 0)) return false;
  // A year before the one this process started in is past without looking at the clock.
  return year < START_YEAR || text <= today();
}

const START_YEAR = new Date().getUTCFullYear();

// Today's date as YYYY-MM-DD, recomputed at most once a minute.
let todayText = "";
let todayExpires = 0;
function today(): string {
  const now = Date.now();
  if (now >= todayExpires) {
    todayText = new Date(now).toISOString().slice(0, 10);
    todayExpires = now + 60_000;
  }
  return todayText;
}
