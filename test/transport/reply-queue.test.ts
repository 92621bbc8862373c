// A connection's answers leave in request order, whenever each settles; the queue says how many are in
// progress and when it has emptied.
import { expect, test } from "bun:test";
import { FrameWriter, MessageType, type Message } from "../../lib/protocol/index.ts";
import { ReplyQueue } from "../../lib/transport/reply-queue.ts";
import type { SocketWriter } from "../../lib/transport/socket-writer.ts";

const ok = (count: number): Message => ({ type: MessageType.Ok, count });

/** A socket writer that keeps the frames handed to it. */
function frames() {
  const sent: number[] = [];
  const writer = { writeSoon: (frame: Uint8Array) => sent.push(frame.at(-1)! - 0x30) } as unknown as SocketWriter;
  return { sent, writer };
}

test("a settled answer waits for every one before it; then they leave together, in request order", async () => {
  const queue = new ReplyQueue();
  const { sent, writer } = frames();
  const out = new FrameWriter(64);
  const first = queue.addPending();
  queue.addSettled(ok(2));
  const third = queue.addPending();
  expect(queue.length).toBe(3);
  expect(queue.writeSettled(writer, out)).toBe(0);
  let emptied = false;
  void queue.whenEmpty().then(() => (emptied = true));
  queue.settle(third, ok(3));
  expect(queue.writeSettled(writer, out)).toBe(0);
  queue.settle(first, ok(1));
  expect(queue.writeSettled(writer, out)).toBe(3);
  expect(sent).toEqual([1, 2, 3]);
  expect(queue.length).toBe(0);
  await Promise.resolve();
  expect(emptied).toBe(true);
});

test("an answer of none (a closing connection) takes its turn and sends nothing", () => {
  const queue = new ReplyQueue();
  const { sent, writer } = frames();
  queue.addSettled(undefined);
  queue.addSettled(ok(7));
  expect(queue.writeSettled(writer, new FrameWriter(64))).toBe(2);
  expect(sent).toEqual([7]);
});
