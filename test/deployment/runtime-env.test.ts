// The two roles' runtime settings are set in three places: the processes the project starts read
// lib/deployment/runtime-env.ts; the package scripts and the two images must say the same, or `bun run central` and
// the containers run otherwise than what was measured.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../lib/tooling/processes.ts";
import { AGENCY_ENV, CENTRAL_ENV, RUNTIME_ENV } from "../../lib/deployment/runtime-env.ts";

const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
/** The NAME=value pairs a shell command sets before it runs. */
const assignments = (command: string) => Object.fromEntries([...command.matchAll(/\b(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));

test("the central's package script sets the central's settings", () => {
  expect(assignments(scripts.central!)).toEqual({ ...RUNTIME_ENV, ...CENTRAL_ENV });
});

test("the agency's package script sets the agencies' settings", () => {
  expect(assignments(scripts.agency!)).toEqual({ ...RUNTIME_ENV, ...AGENCY_ENV });
});

/** The NAME=value pairs of a Dockerfile's ENV line. */
const imageEnv = (dockerfile: string) => assignments(readFileSync(join(ROOT, dockerfile), "utf8").split("\n").find((l) => l.startsWith("ENV ")) ?? "");

test("the central's image sets the central's settings", () => {
  expect(imageEnv("server/Dockerfile")).toEqual({ ...RUNTIME_ENV, ...CENTRAL_ENV });
});

test("the agency's image sets the agencies' settings", () => {
  expect(imageEnv("client/Dockerfile")).toEqual({ ...RUNTIME_ENV, ...AGENCY_ENV });
});

test("both images are built from the same base, as the CI's Bun", () => {
  const from = (dockerfile: string) => readFileSync(join(ROOT, dockerfile), "utf8").match(/^FROM (\S+)$/m)?.[1];
  expect(from("client/Dockerfile")).toBe(from("server/Dockerfile")!);
  expect(from("server/Dockerfile")).toBe(`oven/bun:${Bun.version}-alpine`);
});
