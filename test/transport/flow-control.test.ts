// Flow control on fake connections: a connection over its own limits is throttled until both are down to
// half; a full backlog makes every reader wait; as it empties, they read again oldest first, as many as
// the room holds.
import { expect, test } from "bun:test";
import type { ClientSocket, Flow } from "../../lib/transport/connection.ts";
import { FlowControl } from "../../lib/transport/flow-control.ts";
import { Backlog } from "../../lib/transport/backlog.ts";

/** A socket whose load the test sets; it records whether it is paused. */
function fakeSocket(name: string) {
  const socket = {
    name,
    paused: false,
    data: { flow: "reading" as Flow, replies: { length: 0 }, writer: { queued: 0 } },
    pause: () => (socket.paused = true),
    resume: () => (socket.paused = false),
  };
  return socket;
}
const as = (socket: ReturnType<typeof fakeSocket>) => socket as unknown as ClientSocket;
const turn = () => new Promise((resolve) => setImmediate(resolve));

test("64 requests in progress throttle a connection; it reads again at 32, not before", () => {
  const flow = new FlowControl(new Backlog(1000, 128));
  const a = fakeSocket("a");
  flow.start(as(a));
  a.data.replies.length = 64;
  flow.update(as(a));
  expect([a.data.flow, a.paused]).toEqual(["throttled", true]);
  a.data.replies.length = 33;
  flow.update(as(a));
  expect(a.data.flow).toBe("throttled");
  a.data.replies.length = 32;
  flow.update(as(a));
  expect(a.data.flow).toBe("throttled");
  a.data.replies.length = 31;
  flow.update(as(a));
  expect([a.data.flow, a.paused]).toEqual(["reading", false]);
  // Reply bytes its client has not taken count the same way (1 MiB, then half).
  a.data.writer.queued = 1024 * 1024 + 1;
  flow.update(as(a));
  expect(a.data.flow).toBe("throttled");
});

test("a full backlog makes every reader wait; as it empties they read again oldest first, as the room holds", async () => {
  const backlog = new Backlog(256, 128);
  const flow = new FlowControl(backlog);
  const sockets = ["a", "b", "c", "d"].map(fakeSocket);
  for (const socket of sockets) flow.start(as(socket));
  backlog.add(256);
  flow.update(as(sockets[2]!));
  expect(sockets.map((s) => [s.data.flow, s.paused])).toEqual(sockets.map(() => ["waiting", true]));
  expect(flow.isWaiting(as(sockets[0]!))).toBe(true);
  // Empty again: room for two readers of 128 bets, the two that stopped first.
  backlog.remove(256);
  expect(sockets.map((s) => s.data.flow)).toEqual(["reading", "reading", "waiting", "waiting"]);
  // The next ones a poll later (two event-loop turns), not at once.
  await turn();
  expect(sockets.map((s) => s.data.flow)).toEqual(["reading", "reading", "waiting", "waiting"]);
  await turn();
  await turn();
  expect(sockets.map((s) => s.data.flow)).toEqual(["reading", "reading", "reading", "reading"]);
});

test("a throttled connection freed of its own limits takes its turn behind those already waiting", () => {
  const backlog = new Backlog(256, 128);
  const flow = new FlowControl(backlog);
  const [a, b] = ["a", "b"].map(fakeSocket) as [ReturnType<typeof fakeSocket>, ReturnType<typeof fakeSocket>];
  flow.start(as(a));
  flow.start(as(b));
  a.data.replies.length = 64;
  flow.update(as(a));
  backlog.add(256);
  flow.update(as(b));
  expect([a.data.flow, b.data.flow]).toEqual(["throttled", "waiting"]);
  a.data.replies.length = 0;
  flow.update(as(a));
  expect(a.data.flow).toBe("waiting");
  flow.forget(as(b));
  expect(flow.isWaiting(as(b))).toBe(false);
});
