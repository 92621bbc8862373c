// Waiters: a wake resolves what waits now, and only that.
import { expect, test } from "bun:test";
import { Waiters } from "../../lib/util/waiters.ts";

test("wake resolves every wait so far; a later wait waits for the next wake", async () => {
  const waiters = new Waiters();
  waiters.wake(); // nothing waits: nothing to keep
  const woken: string[] = [];
  void waiters.wait().then(() => woken.push("first"));
  void waiters.wait().then(() => woken.push("second"));
  waiters.wake();
  const later = waiters.wait().then(() => woken.push("later"));
  await Promise.resolve();
  expect(woken).toEqual(["first", "second"]);
  waiters.wake();
  await later;
  expect(woken).toEqual(["first", "second", "later"]);
});
