// The lottery's rules apart from any transport: a batch is admitted whole or not at all, an agency's
// END counts once however often it comes, and the draw waits for every agency.
import { expect, test } from "bun:test";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { Lottery, RefusedError } from "../../lib/central/lottery.ts";
import { Logger } from "../../lib/log.ts";

const WINNING = "7574";
const bet = (document: string, number = "1") => ({ firstName: "Ana", lastName: "Peña", document, birthdate: "1990-01-01", number });
const SORTEO = /action: sorteo \| result: success/;

function lottery(agencies: number) {
  const lines: string[] = [];
  return { lottery: new Lottery(agencies, new Logger("INFO", (line) => lines.push(line))), draws: () => lines.filter((line) => SORTEO.test(line)).length };
}

/** Whether the draw has taken place, seen through a winners query (answered only after it). */
async function drawn(lottery: Lottery, agency: number): Promise<boolean> {
  let answered = false;
  void lottery.winners(agency).then(() => (answered = true));
  // The query resolves within a few microtasks once the draw is done; a macrotask turn is past them.
  await new Promise((resolve) => setImmediate(resolve));
  return answered;
}

test("a batch with one bad bet is refused whole: its valid bets, a winner among them, are not admitted", () => {
  const { lottery: rules } = lottery(1);
  const refused = BetBlock.of([bet("1", WINNING), bet("2"), bet("x3")]);
  expect(() => rules.admit(1, refused)).toThrow(new RefusedError('bet 3 of 3 (document "x3"): document must be 1 to 10 digits, got "x3"'));
  // A later batch is admitted alone: nothing of the refused one was kept for it.
  const admitted = rules.admit(1, BetBlock.of([bet("4", WINNING), bet("5")]));
  expect({ agency: admitted.agency, count: admitted.count, winners: admitted.winners }).toEqual({ agency: 1, count: 2, winners: ["4"] });
  expect(rules.storedCount(1)).toBe(0);
  rules.recordCommitted(admitted);
  expect(rules.storedCount(1)).toBe(2);
});

test("the refused batch's winners never reach the draw", async () => {
  const { lottery: rules } = lottery(1);
  expect(() => rules.admit(1, BetBlock.of([bet("1", WINNING), bet("2", "10000")]))).toThrow(RefusedError);
  rules.recordCommitted(rules.admit(1, BetBlock.of([bet("3", WINNING)])));
  expect(rules.beginEnd(1)).toBe(true);
  rules.completeEnd(1);
  expect(await rules.winners(1)).toEqual(["3"]);
  expect(rules.storedCount(1)).toBe(1);
});

test("a repeated END counts once: with two agencies, agency 1 ending twice makes no draw", async () => {
  const { lottery: rules, draws } = lottery(2);
  expect(rules.beginEnd(1)).toBe(true);
  rules.completeEnd(1);
  expect(rules.beginEnd(1)).toBe(false);
  // Even marked durable again, it is the same agency's END.
  rules.completeEnd(1);
  expect(draws()).toBe(0);
  expect(await drawn(rules, 1)).toBe(false);
  // Agency 2 has not finished: it may still bet.
  expect(rules.endReceived(2)).toBe(false);
  expect(rules.admit(2, BetBlock.of([bet("1")])).count).toBe(1);

  expect(rules.beginEnd(2)).toBe(true);
  rules.completeEnd(2);
  expect(draws()).toBe(1);
  expect(await drawn(rules, 1)).toBe(true);
  expect(() => rules.admit(2, BetBlock.of([bet("2")]))).toThrow(new RefusedError("the draw has already taken place"));
});

test("END notices restored twice for one agency count once: no draw until every agency's is there", async () => {
  const { lottery: rules, draws } = lottery(2);
  rules.restoreEnded([1, 1]);
  expect(draws()).toBe(0);
  expect(await drawn(rules, 2)).toBe(false);
  expect(rules.beginEnd(1)).toBe(false);
  expect(rules.beginEnd(2)).toBe(true);
  rules.completeEnd(2);
  expect(draws()).toBe(1);
});

test("an END received but not yet durable refuses the agency's later bets, and does not count toward the draw", async () => {
  const { lottery: rules, draws } = lottery(1);
  expect(rules.beginEnd(1)).toBe(true);
  expect(() => rules.admit(1, BetBlock.of([bet("1")]))).toThrow(new RefusedError("agency 1 has already sent END"));
  expect(draws()).toBe(0);
  expect(await drawn(rules, 1)).toBe(false);
  rules.completeEnd(1);
  expect(draws()).toBe(1);
});

/** A received bets payload built by hand, as over() reads it: per field a u32 BE byte length, then its bytes. */
function frame(...bets: (string | Uint8Array)[][]): Buffer {
  return Buffer.concat(
    bets.flat().map((field) => {
      const bytes = typeof field === "string" ? Buffer.from(field) : field;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
}
const fields = (firstName: string | Uint8Array, lastName: string | Uint8Array = "Peña") => [firstName, lastName, "1", "1990-01-01", "2"];

test("names are checked as UTF-8 each on its own, also where the frame as a whole is valid UTF-8", () => {
  const { lottery: rules } = lottery(1);
  // No visible ASCII character in the second bet: its names are visible for their Unicode letters.
  expect(rules.admit(1, BetBlock.over(frame(fields("José"), fields("李", "Ñúñé 😀")))).count).toBe(2);
  // Valid UTF-8 as a whole, but all spaces: only Unicode ones (U+00A0, U+3000), so "empty".
  expect(() => rules.admit(1, BetBlock.over(frame(fields("Ana"), fields("\u00a0\u3000"))))).toThrow(
    new RefusedError('bet 2 of 2 (document "1"): first_name must not be empty'),
  );
  // A broken name makes the frame broken too.
  expect(() => rules.admit(1, BetBlock.over(frame(fields("Ana"), fields("Ana", Buffer.from([0x41, 0xc3])))))).toThrow(
    new RefusedError('bet 2 of 2 (document "1"): last_name is not valid UTF-8'),
  );
  // A 195-byte name starting with a continuation byte: its length's last byte, 0xC3, makes a valid
  // "é" with it in the frame, yet the name alone is not UTF-8.
  const straddling = Buffer.concat([Buffer.from([0xa9]), Buffer.alloc(194, "a")]);
  expect(() => rules.admit(1, BetBlock.over(frame(fields(straddling))))).toThrow(
    new RefusedError('bet 1 of 1 (document "1"): first_name is not valid UTF-8'),
  );
});
