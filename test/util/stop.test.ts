// Stop: a wait ends at the stop or at its own end, whichever comes first.
import { expect, test } from "bun:test";
import { Stop } from "../../lib/util/stop.ts";

test("a wait ends with what it waits for, or at once when the stop comes", async () => {
  const stop = new Stop();
  expect(stop.requested).toBe(false);
  await stop.until(Promise.resolve());
  const held = Promise.withResolvers<void>();
  let ended = false;
  const waiting = stop.until(held.promise).then(() => (ended = true));
  await Promise.resolve();
  expect(ended).toBe(false);
  stop.request();
  await waiting;
  expect(stop.requested).toBe(true);
  // After the stop, every wait ends at once.
  await stop.until(new Promise(() => {}));
});
