// Bet rules shared by the agency (before sending) and the central (on receipt), and the draw's rule.
import { describe, expect, test } from "bun:test";
import { betFieldsError, hasWon, InvalidBetError, isValidAgency, LOTTERY_WINNER_NUMBER, MAX_NAME_LENGTH, validateBet, type BetFields } from "../../lib/bet/bet.ts";
import { CsvParser } from "../../lib/storage/csv-reader.ts";
import { agencyRows } from "../../lib/tooling/generate-data.ts";
import { awayFromMidnight, dayFromToday } from "../support/dates.ts";

const VALID: BetFields = { firstName: "Santiago Lionel", lastName: "Lorca", document: "30904465", birthdate: "1999-03-17", number: "7574" };

/** The validation error's message for the bet with `change` applied; fails the test if it passes. */
function refusal(change: Partial<BetFields>, agency = 1): string {
  try {
    validateBet(agency, { ...VALID, ...change });
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidBetError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(change)}`);
}

describe("valid bets", () => {
  test("a course-like row passes and comes back typed", () => {
    expect(validateBet(3, VALID)).toEqual({
      agency: 3,
      firstName: "Santiago Lionel",
      lastName: "Lorca",
      document: "30904465",
      birthdate: "1999-03-17",
      number: 7574,
    });
  });

  test("every row of a generated course-format dataset passes", () => {
    const text = [...agencyRows(1, 2000, 42)].join("");
    const parser = new CsvParser();
    const errors: string[] = [];
    let rows = 0;
    parser.push(Buffer.from(text), (record) => {
      const error = record.error ?? betFieldsError(record.bytes, record.ranges);
      if (error) errors.push(`${record.line}: ${error}`);
      rows++;
    });
    expect(rows).toBe(2000);
    expect(errors).toEqual([]);
  });

  test("names with accents, commas, quotes and 4-byte characters pass", () => {
    for (const name of ["María José", "O'Brien", 'Juan "el Toro"', "Núñez, Ibáñez", "Zoë 😀", "李"]) {
      expect(validateBet(1, { ...VALID, firstName: name, lastName: name }).firstName).toBe(name);
    }
  });

  test("names up to the limit count characters, not UTF-16 units", () => {
    const emoji = "😀".repeat(MAX_NAME_LENGTH); // 200 UTF-16 units, 100 characters
    expect(validateBet(1, { ...VALID, firstName: emoji }).firstName).toBe(emoji);
    expect(validateBet(1, { ...VALID, lastName: "é".repeat(MAX_NAME_LENGTH) }).lastName.length).toBe(MAX_NAME_LENGTH);
  });

  test("boundary values of document, number and birthdate pass", () => {
    expect(validateBet(1, { ...VALID, document: "0" }).document).toBe("0");
    expect(validateBet(1, { ...VALID, document: "1234567890" }).document).toBe("1234567890");
    expect(validateBet(1, { ...VALID, number: "0" }).number).toBe(0);
    expect(validateBet(1, { ...VALID, number: "9999" }).number).toBe(9999);
    expect(validateBet(1, { ...VALID, number: "0042" }).number).toBe(42);
    for (const birthdate of ["1900-01-01", "2000-02-29", "2024-02-29", "1999-12-31", dayFromToday(-2)]) {
      expect(validateBet(1, { ...VALID, birthdate }).birthdate).toBe(birthdate);
    }
  });
});

describe("each rule fails with a message naming its field", () => {
  test("agency", () => {
    for (const agency of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(refusal({}, agency)).toMatch(/^agency must be a positive integer/);
      expect(isValidAgency(agency)).toBe(false);
    }
    expect(isValidAgency(1)).toBe(true);
  });

  test("empty or blank names", () => {
    for (const blank of ["", " ", "   ", "\t", "\u00a0"]) {
      expect(refusal({ firstName: blank })).toBe("first_name must not be empty");
      expect(refusal({ lastName: blank })).toBe("last_name must not be empty");
    }
  });

  test("names past the length limit", () => {
    expect(refusal({ firstName: "a".repeat(MAX_NAME_LENGTH + 1) })).toMatch(/^first_name must be at most 100 characters/);
    expect(refusal({ lastName: "😀".repeat(MAX_NAME_LENGTH + 1) })).toMatch(/^last_name must be at most 100 characters/);
  });

  test("names that are not valid UTF-8 are refused, not stored as replacement characters", () => {
    // Rows arrive as bytes: a Latin-1 file, or a cut multi-byte character, is an invalid name.
    const fields = [Buffer.from("Jos"), Buffer.from([0xe9]), Buffer.from("Lorca30904465" + "1999-03-177574")];
    const bytes = Buffer.concat(fields);
    const ranges = [0, 4, 4, 9, 9, 17, 17, 27, 27, 31];
    expect(betFieldsError(bytes, ranges)).toBe("first_name is not valid UTF-8");
    const cut = Buffer.concat([Buffer.from("Ana"), Buffer.from("ñ").subarray(0, 1), Buffer.from("30904465" + "1999-03-177574")]);
    expect(betFieldsError(cut, [0, 3, 3, 4, 4, 12, 12, 22, 22, 26])).toBe("last_name is not valid UTF-8");
    expect(betFieldsError(Buffer.from("AnaÑandú30904465" + "1999-03-177574"), [0, 3, 3, 10, 10, 18, 18, 28, 28, 32])).toBeUndefined();
  });

  test("bad documents", () => {
    for (const document of ["", "12345678901", "12.345.678", "-1", "1e5", " 123", "123 ", "abc", "١٢٣", "３０"]) {
      expect(refusal({ document })).toBe(`document must be 1 to 10 digits, got ${JSON.stringify(document)}`);
    }
  });

  test("malformed birthdates", () => {
    for (const birthdate of ["", "1999-3-17", "17/03/1999", "1999/03/17", "99-03-17", "1999-03-17 ", "1999-03-17T00:00", "199a-03-17", "1999-0a-17", "1999-03-1x", "1999-+3-17", "1999-03- 7", "1999-03-1/", "１９９９-03-17"]) {
      expect(refusal({ birthdate })).toMatch(/^birthdate must be a past date as YYYY-MM-DD/);
    }
  });

  test("impossible calendar dates", () => {
    for (const birthdate of ["2023-02-29", "1900-02-29", "2023-04-31", "2023-13-01", "2023-00-10", "2023-01-00", "2023-01-32", "1899-12-31", "0000-01-01"]) {
      expect(refusal({ birthdate })).toMatch(/^birthdate must be a past date/);
    }
  });

  test("the birthdate boundary: today (UTC) is accepted, tomorrow is refused", async () => {
    await awayFromMidnight();
    const today = dayFromToday(0);
    expect(validateBet(1, { ...VALID, birthdate: today }).birthdate).toBe(today);
    expect(refusal({ birthdate: dayFromToday(1) })).toBe(`birthdate must be a past date as YYYY-MM-DD, got ${JSON.stringify(dayFromToday(1))}`);
  }, 90_000);

  test("future birthdates", () => {
    for (const birthdate of [dayFromToday(2), dayFromToday(400), "2999-01-01", "9999-12-31"]) {
      expect(refusal({ birthdate })).toBe(`birthdate must be a past date as YYYY-MM-DD, got ${JSON.stringify(birthdate)}`);
    }
  });

  test("numbers out of range or not digits", () => {
    for (const number of ["", "10000", "-1", "7.5", "+1", " 7", "7 ", "abc", "1e3", "٧٥٧٤"]) {
      expect(refusal({ number })).toBe(`number must be an integer from 0 to 9999, got ${JSON.stringify(number)}`);
    }
  });

  test("the first broken rule is the one reported", () => {
    expect(refusal({ firstName: "", document: "x", number: "x" })).toMatch(/^first_name/);
    expect(refusal({ document: "x", number: "x" })).toMatch(/^document/);
  });
});

describe("hasWon", () => {
  const bet = (number: number) => validateBet(1, { ...VALID, number: String(number) });

  test("the statement's number wins", () => {
    expect(LOTTERY_WINNER_NUMBER).toBe(7574);
    expect(hasWon(bet(7574))).toBe(true);
  });

  test("any other number loses", () => {
    for (const number of [0, 7573, 7575, 4757, 9999]) expect(hasWon(bet(number))).toBe(false);
  });
});
