import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COURSE_SIZES, generateDataset } from "../../lib/tooling/generate-data.ts";
import { readCsv, scratchDir } from "../support/system.ts";

const ROOT = join(import.meta.dir, "..", "..");

test("the committed .data/ is exactly what `bun run gen-data` makes, in the course's format and sizes", async () => {
  const scratch = scratchDir("lottery-gen-");
  try {
    const files = await generateDataset(scratch.path, COURSE_SIZES);
    let winners = 0;
    for (const [i, file] of files.entries()) {
      const committed = readFileSync(join(ROOT, ".data", `agency-${i + 1}.csv`));
      expect(readFileSync(file).equals(committed)).toBe(true);
      const text = committed.toString("utf8");
      // CRLF everywhere, no bare LF; UTF-8 names with accents; five fields a row.
      expect(text.split("\r\n").length - 1).toBe(COURSE_SIZES[i]!);
      expect(text.replaceAll("\r\n", "")).not.toContain("\n");
      const rows = readCsv(file);
      expect(rows).toHaveLength(COURSE_SIZES[i]!);
      for (const row of rows) expect(row).toHaveLength(5);
      winners += rows.filter((row) => row[4] === "7574").length;
    }
    expect(files.map((file) => readFileSync(file, "utf8")).join("")).toMatch(/[áéíóúñ]/);
    // A few winners, as in the course's dataset.
    expect(winners).toBeGreaterThan(0);
    expect(winners).toBeLessThan(40);
  } finally {
    scratch.cleanup();
  }
});

test("the generator is deterministic for a seed and differs between seeds", async () => {
  const scratch = scratchDir("lottery-gen-");
  try {
    const [a] = await generateDataset(join(scratch.path, "a"), [500], 42);
    const [b] = await generateDataset(join(scratch.path, "b"), [500], 42);
    const [c] = await generateDataset(join(scratch.path, "c"), [500], 43);
    expect(readFileSync(a!).equals(readFileSync(b!))).toBe(true);
    expect(readFileSync(a!).equals(readFileSync(c!))).toBe(false);
  } finally {
    scratch.cleanup();
  }
});
