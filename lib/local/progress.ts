// `bun run local` on a terminal: live per-agency progress (bar, count, rate) kept below the processes'
// log, read from the central's /status. On anything but a terminal (CI, a pipe) the log lines pass
// through as they come and nothing else is drawn.
import type { Status } from "../http/status.ts";

/** How often /status is read, and the block redrawn with the log lines that came meanwhile. */
const POLL_MS = 250;
const DRAW_MS = 100;
/** The rate is the change in the count over about this long. */
const RATE_WINDOW_MS = 1500;
/** The bar's width within what the terminal leaves beside the figures. */
const BAR_WIDTH = { min: 8, max: 40 };
/** The longest state written after a bar ("12,345,678 bets/s, draw pending"). */
const STATE_WIDTH = 32;

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
}

/** Counts the data rows of an agency's file (its lines that are not empty), reading it in chunks. */
export async function countRows(path: string): Promise<number> {
  let rows = 0;
  let lineHasBytes = false;
  for await (const chunk of Bun.file(path).stream()) {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === 10) {
        if (lineHasBytes) rows++;
        lineHasBytes = false;
      } else if (byte !== 13) lineHasBytes = true;
    }
  }
  return lineHasBytes ? rows + 1 : rows;
}

const number = (value: number) => Math.round(value).toLocaleString("en-US");

export class Progress {
  private readonly rows: Row[];
  private pending = "";
  /** Lines of the block now on screen, erased before anything is written below the log. */
  private drawn = 0;
  private draw: { completed: boolean; winners: number | null } = { completed: false, winners: null };
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private drawTimer: ReturnType<typeof setInterval> | undefined;
  /** The read of /status in progress: one at a time. */
  private polling: Promise<void> | undefined;
  private dirty = false;
  /** After stop, log lines go straight out again, under the summary. */
  private stopped = false;

  /** `totals`: each agency's bets, for its bar. Live only when `out` is a terminal. */
  constructor(
    private readonly out: Output,
    private readonly names: string[],
    private readonly totals: number[],
  ) {
    this.rows = totals.map(() => ({ stored: 0, ended: false, samples: [] }));
  }

  get live(): boolean {
    return this.out.isTTY === true;
  }

  /** A line of the log. */
  log(line: string): void {
    if (!this.live || this.stopped) {
      this.out.write(`${line}\n`);
      return;
    }
    this.pending += `${line}\n`;
    this.dirty = true;
  }

  /** Starts reading the central's /status on `httpPort` (live mode only). */
  follow(httpPort: number): void {
    if (!this.live) return;
    this.pollTimer = setInterval(() => void this.poll(httpPort), POLL_MS);
    this.drawTimer = setInterval(() => this.flush(), DRAW_MS);
    void this.poll(httpPort);
  }

  /** Stops following; the last block stays on screen as the run's summary. */
  async stop(httpPort?: number): Promise<void> {
    clearInterval(this.pollTimer);
    clearInterval(this.drawTimer);
    if (!this.live) return;
    await this.polling;
    if (httpPort !== undefined) await this.poll(httpPort);
    this.dirty = true;
    this.flush();
    this.drawn = 0;
    this.stopped = true;
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

  private flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const erase = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : "";
    const block = this.block();
    this.out.write(erase + this.pending + block.join("\n") + "\n");
    this.pending = "";
    this.drawn = block.length;
  }

  /** The progress lines, each cut to the terminal's width so that none wraps. */
  private block(): string[] {
    const width = Math.max(...this.names.map((name) => name.length), "total".length) + 2;
    const digits = number(Math.max(...this.totals, 1)).length;
    const columns = this.out.columns || 120; // 0 from a terminal of unknown size
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
