import { expect, test } from "bun:test";
import { join } from "node:path";
import { startBun } from "../lib/local/processes.ts";

const ROOT = join(import.meta.dir, "..");

test("`bun run local` runs a central and the agencies, prefixes lines as compose does and sums up", async () => {
  const run = startBun("local", ["run", "lib/local/runner.ts"], { ...process.env, LOTTERY_AGENCIES: "2" }, undefined, ROOT);
  expect(await run.done).toBe(0);
  const lines = run.lines;
  expect(lines.some((line) => line.startsWith("server   | ") && line.includes("action: sorteo | result: success"))).toBe(true);
  for (const client of ["client1  | ", "client2  | "]) {
    expect(lines.some((line) => line.startsWith(client) && line.includes("action: consulta_ganadores | result: success"))).toBe(true);
  }
  // The summary: one row per agency with its stored bets (the .data files' sizes), then the verdict.
  expect(lines.find((line) => /^ +1 \| +26936 \| +\d+ \| 0$/.test(line))).toBeDefined();
  expect(lines.find((line) => /^ +2 \| +25518 \| +\d+ \| 0$/.test(line))).toBeDefined();
  expect(lines.at(-1)).toMatch(/^OK: 52454 bets stored by 2 agencies in [\d.]+ s; central exit 0;/);
}, 60_000);

test("`bun run local` refuses to start without the agencies' files, and says how to make them", async () => {
  const run = startBun("local", ["run", "lib/local/runner.ts"], { ...process.env, LOTTERY_AGENCIES: "7" }, undefined, ROOT);
  expect(await run.done).toBe(2);
  expect(run.lines.join("\n")).toContain("missing data files");
  expect(run.lines.join("\n")).toContain("bun run gen-data --agencies 7");
});

test("`bun run local` with an unknown option prints its usage and exits 2", async () => {
  const run = startBun("local", ["run", "lib/local/runner.ts", "--tsl"], process.env, undefined, ROOT);
  expect(await run.done).toBe(2);
  expect(run.lines.join("\n")).toContain("usage: bun run local [--tls]");
});
