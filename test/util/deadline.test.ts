// beforeDeadline: the work's outcome if it comes in time, false if the deadline comes first.
import { expect, test } from "bun:test";
import { beforeDeadline } from "../../lib/util/deadline.ts";

test("work settled in time is true; work that never settles is false at the deadline; a rejection passes through", async () => {
  expect(await beforeDeadline(Promise.resolve(), performance.now() + 60_000)).toBe(true);
  expect(await beforeDeadline(new Promise(() => {}), performance.now())).toBe(false);
  await expect(beforeDeadline(Promise.reject(new Error("broken")), performance.now() + 60_000)).rejects.toThrow("broken");
});
