// The two roles' runtime settings are set in four places: the processes the project starts and the
// generated compose and stack files read lib/runtime-env.ts; the package scripts and the image must say
// the same, or `bun run central` and the containers run otherwise than what was measured.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../lib/local/processes.ts";
import { AGENCY_ENV, CENTRAL_ENV, RUNTIME_ENV } from "../lib/runtime-env.ts";

const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
/** The NAME=value pairs a shell command sets before it runs. */
const assignments = (command: string) => Object.fromEntries([...command.matchAll(/\b(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));

test("the central's package script sets the central's settings", () => {
  expect(assignments(scripts.central!)).toEqual({ ...RUNTIME_ENV, ...CENTRAL_ENV });
});

test("the agency's package script sets the agencies' settings", () => {
  expect(assignments(scripts.agency!)).toEqual({ ...RUNTIME_ENV, ...AGENCY_ENV });
});

test("the image's defaults are the settings every process starts from", () => {
  const line = readFileSync(join(ROOT, "Dockerfile"), "utf8").split("\n").find((l) => l.startsWith("ENV BUN_JSC_"));
  expect(assignments(line ?? "")).toEqual(RUNTIME_ENV);
});
