// `bun run local` on a terminal: live per-agency progress (bar, count, rate) above the processes' log,
// read from the central's /status. The block keeps the top lines of the screen and the log scrolls in a
// scroll region below it (DECSTBM). Lines scrolled out of a region that does not start at the top never
// reach the terminal's scrollback, so at the end (or on Ctrl-C) the region is lifted and the log written
// again in the ordinary flow, the block after it as the run's summary. On anything but a terminal (CI, a
// pipe), or one too small for the block and a few log lines, the log lines pass through as they come.
import type { Status } from "../../operations/status.ts";
import { CsvParser } from "../../storage/csv-reader.ts";

/** How often /status is read, and the block redrawn with the log lines that came meanwhile. */
const POLL_MS = 250;
const DRAW_MS = 100;
/** The rate is the change in the count over about this long. */
const RATE_WINDOW_MS = 1500;
/** The bar's width within what the terminal leaves beside the figures. */
const BAR_WIDTH = { min: 8, max: 40 };
/** The longest state written after a bar ("12,345,678 bets/s, draw pending"). */
const STATE_WIDTH = 32;
/** Log lines the screen must have room for below the block, or the block is not drawn. */
const MIN_LOG_ROWS = 5;
const CSI = "\x1b[";
/** DECSC / DECRC: save and restore the cursor, so that drawing the block leaves it where the log goes on. */
const SAVE_CURSOR = "\x1b7";
const RESTORE_CURSOR = "\x1b8";

interface Row {
  stored: number;
  ended: boolean;
  /** [time in ms, stored] over the last RATE_WINDOW_MS. */
  samples: [number, number][];
}

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

/** Counts the records of an agency's file (blank lines are none), reading it as the agency does. */
export async function countRows(path: string): Promise<number> {
  const parser = new CsvParser();
  let rows = 0;
  const count = () => rows++;
  for await (const chunk of Bun.file(path).stream()) parser.push(chunk, count);
  parser.finish(count);
  return rows;
}

const number = (value: number) => Math.round(value).toLocaleString("en-US");

export class Progress {
  private readonly rows: Row[];
  /** Log text not written yet, and all of it since the block went up (written again at the end). */
  private pending = "";
  private transcript: string[] = [];
  /** The terminal height the scroll region was set for; 0 while the block is not up. */
  private height = 0;
  private draw: Pick<Status["draw"], "completed" | "winners"> = { completed: false, winners: null };
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private drawTimer: ReturnType<typeof setInterval> | undefined;
  /** The read of /status in progress: one at a time. */
  private polling: Promise<void> | undefined;
  private dirty = false;
  private readonly interrupted = () => this.interrupt();

  /** `totals`: each agency's bets, for its bar. Live only when `out` is a terminal with room for the block. */
  constructor(
    private readonly out: Output,
    private readonly names: string[],
    private readonly totals: number[],
  ) {
    this.rows = totals.map(() => ({ stored: 0, ended: false, samples: [] }));
  }

  /** Whether the block is on screen, the log scrolling below it. */
  get live(): boolean {
    return this.height > 0;
  }

  /** A line of the log. */
  log(line: string): void {
    const text = `${line}\n`;
    if (!this.live) {
      this.out.write(text);
      return;
    }
    this.pending += text;
    this.transcript.push(text);
    this.dirty = true;
  }

  /**
   * Puts the block up and starts reading the central's /status on `httpPort`, on a terminal with room
   * for it. What the screen showed is pushed into the scrollback first (newlines from wherever the
   * cursor is), so that nothing is drawn over.
   */
  follow(httpPort: number): void {
    const height = this.out.rows ?? 0;
    if (this.out.isTTY !== true || height < this.blockHeight + MIN_LOG_ROWS) return;
    this.height = height;
    this.out.write("\n".repeat(height - 1) + this.region(this.blockHeight + 1));
    process.on("SIGINT", this.interrupted);
    this.pollTimer = setInterval(() => void this.poll(httpPort), POLL_MS);
    this.drawTimer = setInterval(() => this.flush(), DRAW_MS);
    this.dirty = true;
    void this.poll(httpPort);
  }

  /** Stops following: the screen is the terminal's again, with the log and then the last figures as the summary. */
  async stop(httpPort?: number): Promise<void> {
    clearInterval(this.pollTimer);
    clearInterval(this.drawTimer);
    if (!this.live) return;
    await this.polling;
    if (httpPort !== undefined) await this.poll(httpPort);
    this.finish();
  }

  /** Ctrl-C: the terminal is given back as at the end, then the process ends as it would have. */
  private interrupt(): void {
    clearInterval(this.pollTimer);
    clearInterval(this.drawTimer);
    this.finish();
    process.kill(process.pid, "SIGINT");
  }

  /** Lifts the scroll region, clears the screen and writes the log and the summary where the scrollback keeps them. */
  private finish(): void {
    process.off("SIGINT", this.interrupted);
    this.out.write(`${CSI}r${CSI}H${CSI}J${this.transcript.join("")}${this.block().join("\n")}\n`);
    this.transcript = [];
    this.pending = "";
    this.height = 0;
  }

  /** The agencies' lines, the total's and a rule under them. */
  private get blockHeight(): number {
    return this.rows.length + 2;
  }

  /** The log's scroll region, below the block, to the terminal's last line; the cursor goes to its line `cursorRow`. */
  private region(cursorRow: number): string {
    return `${CSI}${this.blockHeight + 1};${this.height}r${CSI}${cursorRow};1H`;
  }

  private poll(httpPort: number): Promise<void> {
    this.polling ??= this.read(httpPort).finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async read(httpPort: number): Promise<void> {
    try {
      const response = await fetch(`http://127.0.0.1:${httpPort}/status`);
      const status = (await response.json()) as Status;
      const now = performance.now();
      for (const agency of status.agencies) {
        const row = this.rows[agency.agency - 1];
        if (!row) continue;
        row.stored = agency.stored;
        row.ended = agency.ended;
        row.samples.push([now, agency.stored]);
        while (row.samples.length > 2 && now - row.samples[0]![0] > RATE_WINDOW_MS) row.samples.shift();
      }
      this.draw = status.draw;
      this.dirty = true;
    } catch {
      // The central is starting or stopping: the block keeps its last figures.
    }
  }

  /** Writes the log lines that came, then redraws the block over the top lines and puts the cursor back. */
  private flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    let text = this.pending;
    // A resized terminal: the region follows its new last line, and the log goes on from a fresh line there.
    const height = this.out.rows ?? 0;
    if (height !== this.height && height >= this.blockHeight + MIN_LOG_ROWS) {
      this.height = height;
      text = `${this.region(height)}\n${text}`;
    }
    const columns = this.columns;
    const lines = [...this.block(), "─".repeat(columns - 1)];
    const block = lines.map((line, i) => `${CSI}${i + 1};1H${CSI}2K${line}`).join("");
    this.out.write(`${text}${SAVE_CURSOR}${block}${RESTORE_CURSOR}`);
    this.pending = "";
  }

  private get columns(): number {
    return this.out.columns || 120; // 0 from a terminal of unknown size
  }

  /** The progress lines, each cut to the terminal's width so that none wraps. */
  private block(): string[] {
    const width = Math.max(...this.names.map((name) => name.length), "total".length) + 2;
    const digits = number(Math.max(...this.totals, 1)).length;
    const columns = this.columns;
    // name, bar, " stored / total ", "100%  ", state
    const barWidth = Math.max(BAR_WIDTH.min, Math.min(BAR_WIDTH.max, columns - 1 - width - (2 * digits + 5) - 6 - STATE_WIDTH));
    const line = (name: string, stored: number, total: number, rate: number, state: string) => {
      const share = total > 0 ? Math.min(1, stored / total) : 1;
      const filled = Math.round(share * barWidth);
      const bar = "█".repeat(filled) + "░".repeat(barWidth - filled);
      return `${name.padEnd(width)}${bar} ${number(stored).padStart(digits)} / ${number(total).padEnd(digits)} ${(share * 100).toFixed(0).padStart(3)}%  ${state || `${number(rate)} bets/s`}`;
    };
    const rateOf = (row: Row) => {
      const first = row.samples[0];
      const last = row.samples.at(-1);
      return first && last && last[0] > first[0] ? ((last[1] - first[1]) * 1000) / (last[0] - first[0]) : 0;
    };
    const lines = this.rows.map((row, i) => line(this.names[i]!, row.stored, this.totals[i]!, rateOf(row), row.ended ? "ended" : ""));
    const stored = this.rows.reduce((sum, row) => sum + row.stored, 0);
    const total = this.totals.reduce((sum, value) => sum + value, 0);
    const rate = this.rows.reduce((sum, row) => sum + rateOf(row), 0);
    const draw = this.draw.completed ? `draw done: ${number(this.draw.winners ?? 0)} winners` : `${number(rate)} bets/s, draw pending`;
    lines.push(line("total", stored, total, rate, draw));
    return lines.map((text) => (text.length > columns - 1 ? text.slice(0, columns - 1) : text));
  }
}
