// A "|" inside a logged value, from real processes: the line still splits into the same fields the
// way the course's parser splits it (on every "|"), and the value reads back whole.
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { MessageType } from "../../lib/protocol/index.ts";
import { parseLogLine } from "../support/log-line.ts";
import { Scope, waitForLine } from "../support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

const BAD_BIRTHDATE = "1999|03-17";

/** The line carrying `action: NAME`, split as the course's parser does. */
function fieldsOf(lines: string[], action: string): Map<string, string> {
  const line = lines.find((candidate) => candidate.includes(`action: ${action} |`));
  if (!line) throw new Error(`no ${action} line in:\n${lines.join("\n")}`);
  return parseLogLine(line).fields;
}

/** A quoted value as logged: a JSON string. */
function unquote(value: string): string {
  return JSON.parse(value) as string;
}

test("an agency's invalid birthdate with a | is logged as one field, in a file run and as a single bet", async () => {
  const dir = scope.dir("lottery-pipe-");
  const file = join(dir, "agency-1.csv");
  writeFileSync(file, `Ana,Pérez,30904465,${BAD_BIRTHDATE},7574\r\n`);
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "1" });
  const run = scope.agency(1, central.port, file);
  expect(await run.done).toBe(3);
  const invalid = fieldsOf(run.lines, "apuesta_invalida");
  expect([...invalid.keys()]).toEqual(["action", "result", "line", "error"]);
  expect(unquote(invalid.get("error")!)).toBe(`birthdate must be a past date as YYYY-MM-DD, got "${BAD_BIRTHDATE}"`);

  // The single bet is checked before connecting.
  const single = scope.agency(1, central.port, file, { NOMBRE: "Ana", APELLIDO: "Pérez", DOCUMENTO: "30904465", NACIMIENTO: BAD_BIRTHDATE, NUMERO: "7574" });
  expect(await single.done).toBe(1);
  const sent = fieldsOf(single.lines, "apuesta_enviada");
  expect([...sent.keys()]).toEqual(["action", "result", "dni", "numero", "error"]);
  expect(unquote(sent.get("error")!)).toContain(`got "${BAD_BIRTHDATE}"`);
});

test("the central's refusal of a batch with such a birthdate is logged as one field too", async () => {
  const central = await scope.central(join(scope.dir("lottery-pipe-"), "bets.csv"));
  const client = await scope.client(central.port);
  expect((await client.request({ type: MessageType.Hello, agency: 1 })).type).toBe(MessageType.Welcome);
  const bets = BetBlock.of([{ firstName: "Ana", lastName: "Pérez", document: "30904465", birthdate: BAD_BIRTHDATE, number: "7574" }]);
  expect((await client.request({ type: MessageType.Bets, agency: 1, bets })).type).toBe(MessageType.Error);
  // The line reaches us through the central's stdout, the refusal through its socket: either may come first.
  await waitForLine(central, /action: apuesta_recibida \|/);
  const refused = fieldsOf(central.lines, "apuesta_recibida");
  expect([...refused.keys()]).toEqual(["action", "result", "cantidad", "agency", "error"]);
  expect(unquote(refused.get("error")!)).toContain(`got "${BAD_BIRTHDATE}"`);
});
