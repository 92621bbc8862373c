import { writeSync } from "node:fs";

// Log lines have one grep-able shape that other tools rely on:
//   <ISO time> <LEVEL> action: NAME | result: success|fail|in_progress | key: value | ...

export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogResult = "success" | "fail" | "in_progress";
export type LogFields = Record<string, string | number | boolean>;

const SEVERITY: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

/** Parses a level name case-insensitively ("warn" is accepted for WARNING); undefined when unknown. */
export function parseLogLevel(value: string): LogLevel | undefined {
  const upper = value.trim().toUpperCase();
  const level = upper === "WARN" ? "WARNING" : upper;
  return (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : undefined;
}

// A value may not break the line apart: one that could is written as a JSON string, and its "|" as
// \u007c, because the course's parser splits lines on every "|", inside quotes too.
function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /[|\r\n]|^\s|\s$/.test(text) || text === "" ? JSON.stringify(text).replaceAll("|", "\\u007c") : text;
}

export function formatLine(action: string, result: LogResult, fields: LogFields = {}): string {
  let line = `action: ${action} | result: ${result}`;
  for (const key in fields) line += ` | ${key}: ${formatValue(fields[key]!)}`;
  return line;
}

/**
 * Writes to stdout synchronously: on a pipe, process.stdout.write queues what the pipe cannot take yet
 * and process.exit() drops that queue, losing the closing lines of a shutdown. A short write is
 * completed; a failing stdout (a non-blocking pipe that is full, a closed one) costs the lines, never
 * the request being logged.
 */
function writeOut(text: string): void {
  const bytes = Buffer.from(text);
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(1, bytes, offset);
  } catch {
    process.stdout.write(bytes.subarray(offset));
  }
}

/**
 * The lines of one event-loop turn leave in one write, after the turn (a busy central logs a line per
 * batch: one system call each was 6-8% of its time). Every exit writes what is left first, process.exit()
 * and an uncaught error included; only a process killed outright (SIGKILL) can lose the lines of its
 * last turn.
 */
let turnLines = "";
let flushScheduled = false;
/** A turn that logs more than this is written at once: memory stays bounded however much a turn logs. */
const MAX_TURN_CHARS = 64 * 1024;

function flushLines(): void {
  flushScheduled = false;
  if (turnLines === "") return;
  const text = turnLines;
  turnLines = "";
  writeOut(text);
}

function writeLine(line: string): void {
  turnLines += line;
  if (turnLines.length >= MAX_TURN_CHARS) return flushLines();
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flushLines);
}

process.on("exit", flushLines);

/** The ISO time of the current millisecond, made once for every line logged within it. */
let stampMs = -1;
let stamp = "";
function timestamp(): string {
  const ms = Date.now();
  if (ms !== stampMs) {
    stampMs = ms;
    stamp = new Date(ms).toISOString();
  }
  return stamp;
}

export class Logger {
  private readonly threshold: number;

  constructor(
    readonly level: LogLevel = "INFO",
    private readonly sink: (line: string) => void = writeLine,
  ) {
    this.threshold = SEVERITY[level];
  }

  enabled(level: LogLevel): boolean {
    return SEVERITY[level] >= this.threshold;
  }

  log(level: LogLevel, action: string, result: LogResult, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    this.sink(`${timestamp()} ${level.padEnd(7)} ${formatLine(action, result, fields)}\n`);
  }

  debug(action: string, result: LogResult, fields?: LogFields): void {
    this.log("DEBUG", action, result, fields);
  }
  info(action: string, result: LogResult, fields?: LogFields): void {
    this.log("INFO", action, result, fields);
  }
  warning(action: string, result: LogResult, fields?: LogFields): void {
    this.log("WARNING", action, result, fields);
  }
  error(action: string, result: LogResult, fields?: LogFields): void {
    this.log("ERROR", action, result, fields);
  }
}
