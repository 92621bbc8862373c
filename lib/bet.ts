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
const DOCUMENT = /^\d{1,10}$/;
const NUMBER = /^\d{1,4}$/;
const BIRTHDATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const EARLIEST_BIRTH_YEAR = 1900;

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
  if (!DOCUMENT.test(fields.document)) {
    throw new InvalidBetError(`document must be 1 to 10 digits, got ${JSON.stringify(fields.document)}`);
  }
  checkBirthdate(fields.birthdate);
  if (!NUMBER.test(fields.number)) {
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
  if (value.trim() === "") throw new InvalidBetError(`${field} must not be empty`);
  // Code points, so that accented and 4-byte characters count as one.
  if (value.length > MAX_NAME_LENGTH && [...value].length > MAX_NAME_LENGTH) {
    throw new InvalidBetError(`${field} must be at most ${MAX_NAME_LENGTH} characters`);
  }
}

function checkBirthdate(value: string): void {
  const match = BIRTHDATE.exec(value);
  const invalid = () => new InvalidBetError(`birthdate must be a past date as YYYY-MM-DD, got ${JSON.stringify(value)}`);
  if (!match) throw invalid();
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (year < EARLIEST_BIRTH_YEAR || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw invalid();
  }
  if (value > today()) throw invalid();
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// Today's date as YYYY-MM-DD, recomputed at most once a minute: validation runs per bet.
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
