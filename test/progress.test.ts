// `bun run local`'s progress (lib/local/progress.ts): on a terminal, a block of bars below the log that
// is redrawn in place from the central's /status; elsewhere, the log lines alone, as they came.
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { countRows, Progress, type Output } from "../lib/local/progress.ts";
import { Scope } from "./support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

/** A central's /status stand-in whose figures the test sets; resolves `asked` at each request. */
function fakeCentral() {
  let status = { agencies: [] as { agency: number; stored: number; ended: boolean }[], draw: { completed: false, winners: null as number | null } };
  let asked = Promise.withResolvers<void>();
  const server = Bun.serve({
    port: 0,
    fetch: () => {
      queueMicrotask(() => asked.resolve());
      return Response.json(status);
    },
  });
  return {
    port: server.port!,
    set: (next: typeof status) => {
      status = next;
      asked = Promise.withResolvers<void>();
    },
    stop: () => server.stop(true),
  };
}

/** A terminal 100 columns wide that keeps what is written; `written()` resolves at the next write. */
function terminal(): Output & { text: string; written: () => Promise<string> } {
  let next = Promise.withResolvers<string>();
  return {
    isTTY: true,
    columns: 100,
    text: "",
    write(chunk: string) {
      this.text += chunk;
      next.resolve(chunk);
      next = Promise.withResolvers<string>();
    },
    written: () => next.promise,
  };
}

test("on a terminal: the log goes above a block of bars, counts and state, redrawn in place; it stays as the summary", async () => {
  const central = fakeCentral();
  const out = terminal();
  try {
    const progress = new Progress(out, ["client1", "client2"], [1000, 500]);
    central.set({ agencies: [{ agency: 1, stored: 250, ended: false }, { agency: 2, stored: 0, ended: false }], draw: { completed: false, winners: null } });
    progress.follow(central.port);
    progress.log("server   | first line");
    await progress.stop(central.port);
    expect(out.text).toContain("server   | first line\n");
    expect(out.text).toMatch(/client1 +█+░+ +250 \/ 1,000 +25%/);
    expect(out.text).toMatch(/total +█*░+ +250 \/ 1,500 +17% +.*draw pending/);

    // A second run of figures: the block before is erased (cursor up its 3 lines, clear) before the new one.
    const again = terminal();
    const next = new Progress(again, ["client1", "client2"], [1000, 500]);
    const first = again.written();
    next.follow(central.port);
    expect(await first).toContain("250 / 1,000");
    central.set({ agencies: [{ agency: 1, stored: 1000, ended: true }, { agency: 2, stored: 500, ended: true }], draw: { completed: true, winners: 7 } });
    next.log("client1  | done");
    await next.stop(central.port);
    expect(again.text).toContain("\x1b[3F\x1b[Jclient1  | done\n");
    const last = again.text.slice(again.text.lastIndexOf("\x1b[J"));
    expect(last).toMatch(/client1 +█{8,} +1,000 \/ 1,000 +100% +ended/);
    expect(last).toMatch(/total .* draw done: 7 winners/);
    for (const line of last.split("\n")) expect(line.length).toBeLessThan(100);
    // After the summary, lines go straight out below it.
    next.log("server   | shutdown");
    expect(again.text.endsWith("server   | shutdown\n")).toBe(true);
  } finally {
    central.stop();
  }
});

test("elsewhere (a pipe, CI): the log lines alone, as they came", async () => {
  const out = { ...terminal(), isTTY: false };
  const progress = new Progress(out, ["client1"], [10]);
  progress.follow(1);
  progress.log("a");
  progress.log("b");
  await progress.stop();
  expect(out.text).toBe("a\nb\n");
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
