import { writeSync } from "node:fs";
import { withCapacity } from "./util/bytes.ts";
import { utf8Text } from "./util/utf8.ts";

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
function writeOut(bytes: Uint8Array): void {
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(1, bytes, offset);
  } catch {
    // A copy: the bytes are the turn's buffer, which is written into again.
    process.stdout.write(Buffer.from(bytes.subarray(offset)));
  }
}

/**
 * The lines of one event-loop turn leave in one write, after the turn (a busy central logs a line per
 * batch, a busy agency a line per bet: one system call each was 6-8% of the central's time). They are
 * kept as bytes, so that lines made of bytes (Logger.rangeLines) need no string. Every exit writes what is
 * left first, process.exit() and an uncaught error included; only a process killed outright (SIGKILL) can
 * lose the lines of its last turn.
 */
let turn = new Uint8Array(64 * 1024);
let turnLength = 0;
let flushScheduled = false;
/** A turn that logs more than this is written at once: memory stays bounded however much a turn logs. */
const MAX_TURN_BYTES = 256 * 1024;
const utf8 = new TextEncoder();

function flushLines(): void {
  flushScheduled = false;
  if (turnLength === 0) return;
  const bytes = turn.subarray(0, turnLength);
  turnLength = 0;
  writeOut(bytes);
}

/** Room for `bytes` more in the turn's buffer, which is written first when it has grown past its bound. */
function reserve(bytes: number): void {
  if (turnLength > 0 && turnLength + bytes > MAX_TURN_BYTES) flushLines();
  turn = withCapacity(turn, turnLength + bytes, turnLength);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushLines);
  }
}

function writeLine(line: string): void {
  // A UTF-8 character takes at most three bytes per UTF-16 unit.
  reserve(3 * line.length);
  turnLength += utf8.encodeInto(line, turn.subarray(turnLength)).written;
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

const NEWLINE = 0x0a;
// Visible ASCII runs from after the space to the tilde; "|" among it would cut a line (see formatValue).
const SPACE = 0x20;
const TILDE = 0x7e;
const PIPE = 0x7c;

/**
 * Items whose values are bytes of one buffer, for rangeLines: the value under keys[k] of item i is
 * bytes[ranges[i * stride + offsets[k]] .. ranges[i * stride + offsets[k] + 1]), shown as text.
 */
export interface RangeItems {
  readonly keys: readonly string[];
  readonly offsets: readonly number[];
  readonly bytes: Uint8Array;
  readonly ranges: ArrayLike<number>;
  readonly stride: number;
}

export class Logger {
  private readonly threshold: number;
  /** Lines made of bytes are built here (see rangeLines). */
  private scratch: Uint8Array<ArrayBuffer> = new Uint8Array(0);

  /** `sink` takes each line; without one, lines go to stdout, one write per event-loop turn. */
  constructor(
    level: LogLevel = "INFO",
    private readonly sink?: (line: string) => void,
  ) {
    this.threshold = SEVERITY[level];
  }

  enabled(level: LogLevel): boolean {
    return SEVERITY[level] >= this.threshold;
  }

  log(level: LogLevel, action: string, result: LogResult, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const line = `${timestamp()} ${level.padEnd(7)} ${formatLine(action, result, fields)}\n`;
    if (this.sink) this.sink(line);
    else writeLine(line);
  }

  /**
   * One line per item from `from` to `to`, all alike but for values that are bytes of a buffer, with no
   * string made per line (an agency logs a line per bet it sent: a million lines for a million bets).
   * A value that would need quoting is written as formatLine writes it. To stdout the lines are made in
   * the turn's buffer itself.
   */
  rangeLines(level: LogLevel, action: string, result: LogResult, items: RangeItems, from: number, to: number): void {
    if (!this.enabled(level) || to <= from) return;
    const { keys, offsets, bytes, ranges, stride } = items;
    // The constant pieces: the line's start with the first key, then each other key. A line's newline and
    // the next line's start go in one copy.
    const separators = keys.map((key, k) => utf8.encode(`${k === 0 ? `${timestamp()} ${level.padEnd(7)} ${formatLine(action, result)}` : ""} | ${key}: `));
    const first = separators[0]!;
    const next = new Uint8Array(first.length + 1);
    next[0] = NEWLINE;
    next.set(first, 1);
    let total = 0;
    for (let i = from; i < to; i++) {
      const base = i * stride;
      total += 1;
      for (let k = 0; k < keys.length; k++) total += separators[k]!.length + ranges[base + offsets[k]! + 1]! - ranges[base + offsets[k]!]!;
    }
    let out: Uint8Array;
    let at: number;
    if (this.sink) {
      out = this.scratch = withCapacity(this.scratch, total, 0);
      at = 0;
    } else {
      reserve(total);
      out = turn;
      at = turnLength;
    }
    const start = at;
    for (let i = from; i < to; i++) {
      const base = i * stride;
      for (let k = 0; k < keys.length; k++) {
        const separator = k > 0 ? separators[k]! : i > from ? next : first;
        out.set(separator, at);
        at += separator.length;
        const end = ranges[base + offsets[k]! + 1]!;
        let b = ranges[base + offsets[k]!]!;
        // Visible ASCII but "|" is written as it is (a bet's digits always are); anything else, an empty value
        // included, the way formatLine writes it, for all the lines (nothing of them is kept).
        if (b === end) return this.quotedRangeLines(level, action, result, items, from, to);
        for (; b < end; b++) {
          const byte = bytes[b]!;
          if (byte <= SPACE || byte > TILDE || byte === PIPE) return this.quotedRangeLines(level, action, result, items, from, to);
          out[at++] = byte;
        }
      }
    }
    out[at++] = NEWLINE;
    if (!this.sink) {
      turnLength = at;
      return;
    }
    for (const line of utf8Text(out, start, at).split("\n").slice(0, -1)) this.sink(`${line}\n`);
  }

  /** rangeLines for values of which some need quoting: each line made through log(). */
  private quotedRangeLines(level: LogLevel, action: string, result: LogResult, items: RangeItems, from: number, to: number): void {
    const { keys, offsets, bytes, ranges, stride } = items;
    for (let i = from; i < to; i++) {
      const fields: LogFields = {};
      keys.forEach((key, k) => (fields[key] = utf8Text(bytes, ranges[i * stride + offsets[k]!]!, ranges[i * stride + offsets[k]! + 1]!)));
      this.log(level, action, result, fields);
    }
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

