// Stop signals taken before an entry point has loaded its modules: one that comes early is kept and handed
// to the handler once there is one; later ones go to it directly. In a process of its own, with real signals.
import { expect, test } from "bun:test";

const startup = new URL("../lib/startup.ts", import.meta.url).pathname;

/** Runs `body` in a Bun process with StopSignals imported; resolves with its output. */
async function run(body: string): Promise<string> {
  const script = `import { StopSignals } from ${JSON.stringify(startup)};\nconst turn = () => new Promise((r) => setImmediate(r));\n${body}`;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(child.stdout).text();
  expect(await child.exited).toBe(0);
  return out;
}

test("a SIGTERM before there is a handler is kept, not lost, and handed over once there is one", async () => {
  const out = await run(`
    const signals = new StopSignals();
    process.kill(process.pid, "SIGTERM");
    // The signal is delivered on the event loop: the process is still here, and nothing handled it yet.
    for (let i = 0; i < 100; i++) await turn();
    console.log("alive");
    signals.handle((signal) => console.log("handled " + signal));
  `);
  expect(out).toBe("alive\nhandled SIGTERM\n");
});

test("with a handler, each signal goes to it", async () => {
  const out = await run(`
    const signals = new StopSignals();
    let seen = 0;
    signals.handle((signal) => { console.log("handled " + signal); if (++seen === 2) process.exit(0); });
    process.kill(process.pid, "SIGINT");
    for (let i = 0; i < 100; i++) await turn();
    process.kill(process.pid, "SIGTERM");
    setInterval(() => {}, 1000);
  `);
  expect(out).toBe("handled SIGINT\nhandled SIGTERM\n");
});
