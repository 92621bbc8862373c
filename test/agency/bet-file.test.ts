// BetFile: an agency's bets file read in chunks into blocks of encoded bets, invalid rows reported.
import { afterEach, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BetFile, type InvalidRow } from "../../lib/agency/bet-file.ts";
import type { BetFields } from "../../lib/bet/bet.ts";
import { Scope } from "../support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

async function readAll(path: string): Promise<{ bets: BetFields[]; invalid: InvalidRow[]; blocks: number; distinctBlocks: number }> {
  const invalid: InvalidRow[] = [];
  const file = new BetFile(path, (row) => invalid.push(row));
  const bets: BetFields[] = [];
  const seen = new Set<object>();
  let blocks = 0;
  for await (const block of file.blocks()) {
    bets.push(...block.toFields());
    blocks++;
    seen.add(block);
    // What the agency does once a block's bets are acknowledged: later blocks reuse its memory.
    file.recycle(block);
  }
  return { bets, invalid, blocks, distinctBlocks: seen.size };
}

test("rows cut by the 64 KiB reads, quoted ones included, come out whole, in order, across reused blocks", async () => {
  const path = join(scope.dir("lottery-betfile-"), "bets.csv");
  const rows: string[] = [];
  const expected: BetFields[] = [];
  for (let i = 0; i < 5000; i++) {
    // Rows of varying length, so that the read boundaries fall at every kind of place in a row.
    const firstName = i % 7 === 0 ? `Ana "${i}", María` : `Ana${"ñ".repeat(i % 13)}`;
    const bet = { firstName, lastName: "Pérez", document: String(30_000_000 + i), birthdate: "1990-01-01", number: String(i % 10_000) };
    expected.push(bet);
    const name = i % 7 === 0 ? `"${firstName.replaceAll('"', '""')}"` : firstName;
    rows.push(`${name},${bet.lastName},${bet.document},${bet.birthdate},${bet.number}\r\n`);
  }
  writeFileSync(path, rows.join(""));
  const { bets, invalid, blocks, distinctBlocks } = await readAll(path);
  expect(invalid).toEqual([]);
  expect(bets).toEqual(expected);
  expect(blocks).toBeGreaterThan(2);
  // Each block was handed back before the next read: one block served them all.
  expect(distinctBlocks).toBe(1);
});

test("a row that is not UTF-8 is reported with its line, and the rows around it are kept", async () => {
  const path = join(scope.dir("lottery-betfile-"), "bets.csv");
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from("Ana,Pérez,1,1990-01-01,1\n"),
      Buffer.from("Jos\xe9,P\xe9rez,2,1990-01-01,2\n", "latin1"), // a Latin-1 file's row
      Buffer.from("Luis,Peña,3,1990-01-01,3\n"),
    ]),
  );
  const { bets, invalid } = await readAll(path);
  expect(bets.map((bet) => bet.document)).toEqual(["1", "3"]);
  expect(invalid).toEqual([{ line: 2, error: "first_name is not valid UTF-8" }]);
});

test("a missing file is named in the error", async () => {
  const path = join(scope.dir("lottery-betfile-"), "missing.csv");
  await expect(readAll(path)).rejects.toThrow(`bets file ${path} does not exist`);
});

test("a file closed before its first read (a stop during start-up) is never opened", async () => {
  const path = join(scope.dir("lottery-betfile-"), "bets.csv");
  writeFileSync(path, "Ana,Pérez,30000000,1990-01-01,7574\n");
  const file = new BetFile(path, () => {});
  const openFiles = () => readdirSync("/proc/self/fd").length;
  const before = openFiles();
  file.close();
  expect(await Array.fromAsync(file.blocks())).toEqual([]);
  expect(openFiles()).toBe(before);
});
