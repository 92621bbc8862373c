// `bun run local`'s progress (lib/tooling/local/progress.ts): on a terminal, a block of bars on the top lines,
// redrawn in place from the central's /status, with the log scrolling below it; at the end the log and
// the block as its summary in the scrollback. Elsewhere, the log lines alone, as they came.
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { countRows, Progress, type Output } from "../../../lib/tooling/local/progress.ts";
import { Scope } from "../../support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

type FakeStatus = { agencies: { agency: number; stored: number; ended: boolean }[]; draw: { completed: boolean; winners: number | null } };

/** A central's /status stand-in whose figures the test sets. */
function fakeCentral() {
  let status: FakeStatus = { agencies: [], draw: { completed: false, winners: null } };
  const server = Bun.serve({ port: 0, fetch: () => Response.json(status) });
  return {
    port: server.port!,
    set: (next: FakeStatus) => (status = next),
    stop: () => server.stop(true),
  };
}

/**
 * A terminal that keeps what it shows as a screen of `rows` lines and a scrollback, and understands the
 * controls the progress may use: cursor position, scroll region (DECSTBM), save and restore cursor,
 * erase line and erase below; any other escape fails the test. As xterm and tmux do, a line scrolled out
 * of a region that does not start at the top is lost rather than kept. "\n" starts a new line (the
 * tty's ONLCR). `text` is every byte written.
 */
class Terminal implements Output {
  readonly isTTY = true;
  text = "";
  readonly screen: string[];
  readonly scrollback: string[] = [];
  region: [number, number];
  private row = 0;
  private col = 0;
  private saved: [number, number] = [0, 0];
  private waiters: (() => void)[] = [];

  constructor(
    readonly columns: number,
    public rows: number,
  ) {
    this.screen = Array.from({ length: rows }, () => "");
    this.region = [0, rows - 1];
  }

  /** Lines added or taken at the bottom; as in xterm, the scroll region is reset to the whole screen. */
  resize(rows: number): void {
    while (this.screen.length < rows) this.screen.push("");
    this.screen.length = rows;
    this.rows = rows;
    this.region = [0, rows - 1];
    this.row = Math.min(this.row, rows - 1);
  }

  write(chunk: string): void {
    this.text += chunk;
    for (const [token, params, final, escape] of chunk.matchAll(/\x1b\[([\d;]*)([A-Za-z])|\x1b(.)|\n|[^\x1b\n]+/g)) {
      const [a, b] = (params ?? "").split(";").map((n) => (n ? Number(n) : undefined));
      if (token === "\n") this.newLine();
      else if (escape === "7") this.saved = [this.row, this.col];
      else if (escape === "8") [this.row, this.col] = this.saved;
      else if (final === "H") [this.row, this.col] = [(a ?? 1) - 1, (b ?? 1) - 1];
      else if (final === "r") [this.region, this.row, this.col] = [[(a ?? 1) - 1, (b ?? this.rows) - 1], 0, 0];
      else if (final === "K" && a === 2) this.screen[this.row] = "";
      else if (final === "J" && a === undefined) {
        this.screen[this.row] = this.screen[this.row]!.slice(0, this.col);
        for (let i = this.row + 1; i < this.rows; i++) this.screen[i] = "";
      } else if (final !== undefined || escape !== undefined) throw new Error(`unexpected control ${JSON.stringify(token)}`);
      else this.print(token);
    }
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Resolves once `seen()` holds after a write. */
  async until(seen: () => boolean): Promise<void> {
    while (!seen()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** The scrollback, then the screen, without the blank lines at the end. */
  get all(): string[] {
    const lines = [...this.scrollback, ...this.screen];
    while (lines.at(-1) === "") lines.pop();
    return lines;
  }

  private print(text: string): void {
    for (const char of text) {
      if (this.col >= this.columns) this.newLine();
      const line = this.screen[this.row]!.padEnd(this.col);
      this.screen[this.row] = line.slice(0, this.col) + char + line.slice(this.col + 1);
      this.col++;
    }
  }

  private newLine(): void {
    this.col = 0;
    const [top, bottom] = this.region;
    if (this.row !== bottom) {
      this.row = Math.min(this.row + 1, this.rows - 1);
      return;
    }
    const [gone] = this.screen.splice(top, 1);
    if (top === 0) this.scrollback.push(gone!);
    this.screen.splice(bottom, 0, "");
  }
}

const agencies = (one: number, two: number, ended = false) => [
  { agency: 1, stored: one, ended },
  { agency: 2, stored: two, ended },
];

test("on a terminal: the block keeps the top lines while the log scrolls below it; at the end, the log then the summary", async () => {
  const central = fakeCentral();
  const term = new Terminal(100, 12);
  try {
    term.write("$ bun run local\n");
    const progress = new Progress(term, ["client1", "client2"], [1000, 500]);
    progress.log("server   | before the block");
    central.set({ agencies: agencies(250, 0), draw: { completed: false, winners: null } });
    progress.follow(central.port);
    await term.until(() => term.screen[0]!.includes("250 / 1,000"));
    // What the screen showed went to the scrollback; nothing was drawn over it.
    expect(term.scrollback).toEqual(["$ bun run local", "server   | before the block"]);
    // The block: both agencies, the total, a rule; the log's scroll region is the 8 lines below.
    expect(term.region).toEqual([4, 11]);

    const lines = Array.from({ length: 20 }, (_, i) => `server   | line ${i + 1}`);
    for (const line of lines) progress.log(line);
    central.set({ agencies: agencies(600, 100), draw: { completed: false, winners: null } });
    // The cursor waits on the region's last line, under the last line written.
    await term.until(() => term.screen[10] === "server   | line 20" && term.screen[0]!.includes("600 / 1,000"));
    expect(term.screen[0]).toMatch(/^client1 +█+░+ +600 \/ 1,000 +60%/);
    expect(term.screen[1]).toMatch(/^client2 +█+░+ +100 \/ 500 +20%/);
    expect(term.screen[2]).toMatch(/^total +█+░+ +700 \/ 1,500 +47% .*draw pending$/);
    expect(term.screen[3]).toMatch(/^─{50,}$/);
    expect(term.screen.slice(4)).toEqual([...lines.slice(-7), ""]);
    for (const line of term.screen) expect(line.length).toBeLessThan(100);

    central.set({ agencies: agencies(1000, 500, true), draw: { completed: true, winners: 7 } });
    progress.log("client1  | done");
    await progress.stop(central.port);
    // The whole screen is the terminal's again; everything is in the ordinary flow, once and in order.
    expect(term.region).toEqual([0, 11]);
    const all = term.all;
    expect(all.slice(0, 23)).toEqual(["$ bun run local", "server   | before the block", ...lines, "client1  | done"]);
    expect(all.slice(23)).toHaveLength(3);
    expect(all[23]).toMatch(/^client1 +█{8,} +1,000 \/ 1,000 +100% +ended$/);
    expect(all[24]).toMatch(/^client2 +█{8,} +500 \/ 500 +100% +ended$/);
    expect(all[25]).toMatch(/^total .* draw done: 7 winners$/);
    // After the summary, lines go straight out below it.
    progress.log("server   | shutdown");
    expect(term.all.at(-1)).toBe("server   | shutdown");
  } finally {
    central.stop();
  }
});

test("a terminal resized during the run: the log's region follows its last line, the block stays on top", async () => {
  const central = fakeCentral();
  const term = new Terminal(100, 12);
  try {
    const progress = new Progress(term, ["client1"], [10]);
    central.set({ agencies: [{ agency: 1, stored: 5, ended: false }], draw: { completed: false, winners: null } });
    progress.follow(central.port);
    await term.until(() => term.screen[0]!.includes("5 / 10"));
    expect(term.region).toEqual([3, 11]);
    term.resize(20);
    progress.log("client1  | after the resize");
    await term.until(() => term.screen[18] === "client1  | after the resize");
    expect(term.region).toEqual([3, 19]);
    expect(term.screen[0]).toMatch(/^client1 +█+░+ +5 \/ 10 +50%/);
    await progress.stop();
    expect(term.region).toEqual([0, 19]);
  } finally {
    central.stop();
  }
});

test("elsewhere (a pipe, CI) or on a terminal too small for the block: the log lines alone, as they came", async () => {
  const pipe = { text: "", write: (chunk: string) => (pipe.text += chunk) };
  const small = new Terminal(100, 7); // one agency: 3 lines of block and 5 of log would need 8
  for (const out of [pipe, small]) {
    const progress = new Progress(out, ["client1"], [10]);
    progress.follow(1);
    progress.log("a");
    progress.log("b");
    await progress.stop();
    expect(out.text).toBe("a\nb\n");
  }
});

test("Ctrl-C during the run: the terminal is given back with the log and the last figures, and the process ends by SIGINT", async () => {
  // A process of its own, as the signal ends it; its terminal is its stdout, read back here.
  const script = `
    import { Progress } from ${JSON.stringify(join(import.meta.dir, "..", "..", "..", "lib", "tooling", "local", "progress.ts"))};
    const out = { isTTY: true, columns: 80, rows: 12, write: (text) => process.stdout.write(text) };
    const progress = new Progress(out, ["client1"], [10]);
    progress.follow(1); // nothing listens on port 1: the block keeps its first figures
    progress.log("client1  | working");
    process.kill(process.pid, "SIGINT");
  `;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const [output, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect(stderr).toBe("");
  expect(child.signalCode).toBe("SIGINT");
  const term = new Terminal(80, 12);
  term.write(output);
  expect(term.region).toEqual([0, 11]);
  const [log, agency, total, ...rest] = term.all;
  expect(log).toBe("client1  | working");
  expect(agency).toMatch(/^client1 +░+ +0 \/ 10 +0%/);
  expect(total).toMatch(/^total .* draw pending$/);
  expect(rest).toEqual([]);
});

test("an agency's rows are its non-empty lines, CRLF or LF, with or without a last line feed", async () => {
  const dir = scope.dir("lottery-progress-");
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  expect(await countRows(file("a.csv", "a,b\r\nc,d\r\n"))).toBe(2);
  expect(await countRows(file("b.csv", "a,b\nc,d"))).toBe(1 + 1);
  expect(await countRows(file("c.csv", "a\n\n\nb\r\n\r\n"))).toBe(2);
  expect(await countRows(file("d.csv", ""))).toBe(0);
});
