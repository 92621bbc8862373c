import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startBun } from "../../../lib/tooling/processes.ts";
import { certificateFiles } from "../../../lib/deployment/certs.ts";

const ROOT = join(import.meta.dir, "..", "..", "..");

test("`bun run local` runs a central and the agencies, prefixes lines as compose does and sums up", async () => {
  const run = startBun("local", ["run", "lib/tooling/local/runner.ts"], { ...process.env, LOTTERY_AGENCIES: "2" }, undefined, ROOT);
  expect(await run.done).toBe(0);
  const lines = run.lines;
  expect(lines.some((line) => line.startsWith("server   | ") && line.includes("action: sorteo | result: success"))).toBe(true);
  for (const client of ["client1  | ", "client2  | "]) {
    expect(lines.some((line) => line.startsWith(client) && line.includes("action: consulta_ganadores | result: success"))).toBe(true);
  }
  // The summary: one row per agency with its stored bets (the .data files' sizes), then the verdict.
  expect(lines.find((line) => /^ +1 \| +26936 \| +\d+ \| 0$/.test(line))).toBeDefined();
  expect(lines.find((line) => /^ +2 \| +25518 \| +\d+ \| 0$/.test(line))).toBeDefined();
  expect(lines.at(-2)).toMatch(/^OK: 52454 bets stored by 2 agencies in [\d.]+ s; central exit 0;/);
  // The 52,454 confirmations do not scroll past: they are in each agency's log under .run/, which it names.
  expect(lines.filter((line) => line.includes("action: apuesta_enviada |"))).toEqual([]);
  expect(lines.at(-1)).toContain(".run/server.log, ");
  const confirmed = (id: number) => readFileSync(join(ROOT, ".run", `client${id}.log`), "utf8").split("\n").filter((line) => line.includes("action: apuesta_enviada | result: success |"));
  expect([confirmed(1).length, confirmed(2).length]).toEqual([26936, 25518]);
  expect(readFileSync(join(ROOT, ".run", "server.log"), "utf8")).toContain("action: sorteo | result: success");
}, 60_000);

test("`bun run local` refuses to start without the agencies' files, and says how to make them", async () => {
  const run = startBun("local", ["run", "lib/tooling/local/runner.ts"], { ...process.env, LOTTERY_AGENCIES: "7" }, undefined, ROOT);
  expect(await run.done).toBe(2);
  expect(run.lines.join("\n")).toContain("missing data files");
  expect(run.lines.join("\n")).toContain("bun run gen-data --agencies 7");
});

test("`bun run local` with an unknown option prints its usage and exits 2", async () => {
  const run = startBun("local", ["run", "lib/tooling/local/runner.ts", "--tsl"], process.env, undefined, ROOT);
  expect(await run.done).toBe(2);
  expect(run.lines.join("\n")).toContain("usage: bun run local [--tls]");
});

test("`bun run local --tls` runs the whole system over mutual TLS with certificates made for the run", async () => {
  const run = startBun("local", ["run", "lib/tooling/local/runner.ts", "--tls"], { ...process.env, LOTTERY_AGENCIES: "2" }, undefined, ROOT);
  expect(await run.done).toBe(0);
  const lines = run.lines;
  expect(lines.find((line) => line.startsWith("server   | ") && line.includes("action: config | result: success"))).toContain("tls: on");
  for (const client of ["client1  | ", "client2  | "]) {
    expect(lines.some((line) => line.startsWith(client) && line.includes("action: consulta_ganadores | result: success"))).toBe(true);
  }
  expect(lines.find((line) => /^ +1 \| +26936 \| +\d+ \| 0$/.test(line))).toBeDefined();
  expect(lines.find((line) => /^ +2 \| +25518 \| +\d+ \| 0$/.test(line))).toBeDefined();
  expect(lines.at(-2)).toMatch(/^OK: 52454 bets stored by 2 agencies in [\d.]+ s; central exit 0; .*; mutual TLS, certificates .*\.run\/certs$/);
  // Each agency stored its bets under its own certificate (the central refuses a certificate acting for another).
  expect(lines.filter((line) => line.includes("acceso_denegado") || line.includes("action: tls | result: fail"))).toEqual([]);
  expect(readdirSync(join(ROOT, ".run", "certs")).sort()).toEqual(certificateFiles(2).sort());
}, 60_000);
