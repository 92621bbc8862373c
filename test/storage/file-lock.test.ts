// The storage lock with real centrals: one central per storage file, and a killed one does not block the next.
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ROOT, startBun, waitForLine } from "../../lib/tooling/processes.ts";
import { Scope } from "../support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

/** A central started on `storage` that is expected not to start: its exit status and output. */
async function refusedCentral(storage: string): Promise<{ code: number; output: string }> {
  const running = startBun("server2", ["run", "central.ts"], { ...process.env, SERVER_PORT: "0", STORAGE_FILEPATH: storage, LOTTERY_AGENCIES: "1" }, undefined, ROOT);
  scope.processes.push(running);
  // Whichever comes first: its exit, or its listen line (a central that skipped the lock would run on).
  const listened = await Promise.race([
    running.done.then(() => false),
    waitForLine(running, /action: listen \| result: success/).then(() => true, () => false),
  ]);
  expect(listened, `a second central on ${storage} started:\n${running.lines.join("\n")}`).toBe(false);
  return { code: await running.done, output: running.lines.join("\n") };
}

test("a second central on the same storage refuses to start, naming the file and the holder; after SIGKILL the next starts", async () => {
  const storage = join(scope.dir("lottery-lock-"), "bets.csv");
  const first = await scope.central(storage, { LOTTERY_AGENCIES: "1" });

  const second = await refusedCentral(storage);
  expect(second.code).not.toBe(0);
  expect(second.output).toContain(`storage ${storage} is in use by another central (pid ${first.process.pid} on host ${hostname()}`);
  expect(second.output).not.toContain("action: listen");
  // The first goes on serving.
  expect(first.process.exitCode).toBeNull();

  first.process.kill("SIGKILL");
  await first.done;
  // The lock file still names a process, and a live one at that: the lock goes by the kernel's lock,
  // not by the PID written in it (in containers every central is PID 1).
  writeFileSync(`${storage}.lock`, `pid ${process.pid} on host ${hostname()}\n`);
  const third = await scope.central(storage, { LOTTERY_AGENCIES: "1" });
  expect(third.lines.join("\n")).toContain("action: listen | result: success");

  // And it holds the lock in turn.
  const fourth = await refusedCentral(storage);
  expect(fourth.code).not.toBe(0);
  expect(fourth.output).toContain(`(pid ${third.process.pid} on host ${hostname()}`);
});
