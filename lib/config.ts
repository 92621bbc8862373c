// Settings come from a file (the central's INI, the agency's YAML: the course's formats) and are
// overridden by environment variables; every value is checked at start-up and a bad one stops it with a
// message that names the key and its variable.
import { parseLogLevel, type LogLevel } from "./log.ts";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** One setting: where it lives in the file, which variable overrides it, how its text is read. */
export interface Setting<T> {
  key: string;
  env: string;
  fallback: T;
  read: (text: string) => T;
}

type Values<S> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/** What each setting was given as, before it was read: the text of its variable or its file key; absent for a default. */
type Written<S> = { [K in keyof S]?: string };

export function integer(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || value < min || value > max) {
      throw new Error(`must be an integer from ${min} to ${max}`);
    }
    return value;
  };
}

export function oneOf<T extends string>(...choices: T[]): (text: string) => T {
  return (text) => {
    if (!(choices as string[]).includes(text)) throw new Error(`must be one of ${choices.join(", ")}`);
    return text as T;
  };
}

export function nonEmpty(text: string): string {
  if (text.trim() === "") throw new Error("must not be empty");
  return text;
}

export function logLevel(text: string): LogLevel {
  const level = parseLogLevel(text);
  if (!level) throw new Error("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL");
  return level;
}

/** Milliseconds in one of each unit of a Go duration (the course's client is in Go: "150ms", "5s", "1m30s"). */
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "\u00b5s": 1e-3, "\u03bcs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** One amount and its unit; the units longest first, so that "ms" is not read as "m". */
const PART = `(\\d+(?:\\.\\d*)?|\\.\\d+)(${Object.keys(DURATION_UNITS).sort((a, b) => b.length - a.length).join("|")})`;
const DURATION = new RegExp(`^(?:${PART})+$`);
const DURATION_PART = new RegExp(PART, "g");

/** A Go duration ("150ms", "0m20s", "1.5s"; "0" alone needs no unit) as milliseconds, at most `maxMs`. */
export function duration(maxMs: number): (text: string) => number {
  return (text) => {
    const trimmed = text.trim();
    if (trimmed !== "0" && !DURATION.test(trimmed)) throw new Error('must be a duration such as "150ms", "5s" or "1m30s"');
    let ms = 0;
    for (const [, amount, unit] of trimmed.matchAll(DURATION_PART)) ms += Number(amount) * DURATION_UNITS[unit!]!;
    if (ms > maxMs) throw new Error(`must be at most ${maxMs / 1000} s`);
    return ms;
  };
}

export interface Address {
  host: string;
  port: number;
}

export function address(text: string): Address {
  const match = /^(.+):(\d+)$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new Error("must be HOST:PORT");
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port };
}

const IPV4_PART = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${IPV4_PART}(\\.${IPV4_PART}){3}$`);
const HEX_GROUP = /^[\da-f]{1,4}$/i;
/** IPv6's 128 bits in 16-bit groups. */
const IPV6_GROUPS = 8;

/**
 * Whether an address's host is an IP address (dotted IPv4 or IPv6) rather than a name to resolve. Here
 * rather than node:net's isIP: loading node:net costs a process about 13 ms of CPU at start-up.
 */
export function isIpAddress(host: string): boolean {
  return IPV4.test(host) || isIpv6(host);
}

/** Eight hex groups, or fewer around one "::"; the last two may be a dotted IPv4; maybe a %zone. */
function isIpv6(host: string): boolean {
  const address = host.replace(/%[\w.-]+$/, "");
  const halves = address.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((half) => (half === "" ? [] : half.split(":")));
  let count = groups.length;
  // A dotted IPv4 only as the address's very end.
  if (!address.endsWith(":") && groups.at(-1)?.includes(".")) {
    if (!IPV4.test(groups.pop()!)) return false;
    count++;
  }
  if (!groups.every((group) => HEX_GROUP.test(group))) return false;
  return halves.length === 2 ? count < IPV6_GROUPS : count === IPV6_GROUPS;
}

/**
 * Reads a settings file into key -> value: a missing default file means "defaults only", a missing named
 * file is an error. `.ini` files are INI (the course's server/config.ini, whose keys are the variables'
 * names), anything else YAML (keys are dotted paths: server.address).
 */
async function readFile(path: string, named: boolean): Promise<Map<string, unknown>> {
  const file = Bun.file(path);
  if (!(await file.exists())) {
    if (named) throw new ConfigError(`config file ${path} does not exist`);
    return new Map();
  }
  const text = await file.text();
  if (!path.endsWith(".ini")) return yamlSettings(path, text);
  // Loaded only here, by the central: the agencies and gen-compose.ts (which imports the roles' file names)
  // then need no package at all, so ./generar-compose.sh runs on a checkout without node_modules.
  const { parse } = await import("ini");
  return iniSettings(path, text, parse);
}

function yamlSettings(path: string, text: string): Map<string, unknown> {
  let document: unknown;
  try {
    // Bun's own YAML parser: loading a YAML package cost each process about 0.04 s of CPU at start-up.
    document = Bun.YAML.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(error as Error).message}`);
  }
  if (document == null) return new Map();
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new ConfigError(`config file ${path} must hold a mapping of sections`);
  }
  return flatten(document as Record<string, unknown>);
}

/** A YAML mapping's leaves by their dotted paths: {server: {address: …}} gives server.address. */
function flatten(node: Record<string, unknown>, prefix = "", into = new Map<string, unknown>()): Map<string, unknown> {
  for (const [name, value] of Object.entries(node)) {
    const key = prefix + name;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      flatten(value as Record<string, unknown>, `${key}.`, into);
    } else {
      into.set(key, value);
    }
  }
  return into;
}

/** The course's INI: settings in `[DEFAULT]` (or before any section); no other section means anything here. */
function iniSettings(path: string, text: string, parseIni: (text: string) => Record<string, unknown>): Map<string, unknown> {
  const settings = new Map<string, unknown>();
  for (const [name, value] of Object.entries(parseIni(text))) {
    if (value === null || typeof value !== "object") settings.set(name, value);
    else if (name === "DEFAULT") for (const [key, inner] of Object.entries(value)) settings.set(key, inner);
    else throw new ConfigError(`unknown section [${name}] in ${path}: every setting goes in [DEFAULT]`);
  }
  return settings;
}

/**
 * Loads the settings: the file (`path`, or `fallbackPath` when none is named) gives values, the
 * environment overrides them, defaults fill the rest. Unknown keys in the file are errors (typos).
 */
export async function loadConfig<S extends Record<string, Setting<unknown>>>(
  settings: S,
  options: { path?: string; fallbackPath: string; env?: Record<string, string | undefined> },
): Promise<Values<S> & { source: string; written: Written<S> }> {
  const env = options.env ?? process.env;
  const source = options.path || options.fallbackPath;
  const fromFile = await readFile(source, Boolean(options.path));
  const known = new Set(Object.values(settings).map((setting) => setting.key));
  for (const key of fromFile.keys()) {
    if (!known.has(key)) throw new ConfigError(`unknown config key ${key} in ${source}`);
  }

  const written: Record<string, string> = {};
  const values: Record<string, unknown> = { source, written };
  for (const [name, setting] of Object.entries(settings)) {
    const fromEnv = env[setting.env];
    const raw = fromEnv !== undefined && fromEnv !== "" ? fromEnv : fromFile.get(setting.key);
    if (raw === undefined || raw === null) {
      values[name] = setting.fallback;
      continue;
    }
    const origin = fromEnv !== undefined && fromEnv !== "" ? `env ${setting.env}` : `key ${setting.key} in ${source}, env ${setting.env} unset`;
    written[name] = String(raw);
    try {
      values[name] = setting.read(String(raw));
    } catch (error) {
      throw new ConfigError(`invalid ${setting.key} (${origin}): ${(error as Error).message}, got ${JSON.stringify(String(raw))}`);
    }
  }
  return values as Values<S> & { source: string; written: Written<S> };
}
