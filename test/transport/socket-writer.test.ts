import { expect, test } from "bun:test";
import { SocketWriter, type WritableSocket } from "../../lib/transport/socket-writer.ts";

/** A socket that takes at most `budget` bytes per call, like a kernel buffer filling up. */
class ShortWriteSocket implements WritableSocket {
  received: number[] = [];
  budget = 0;
  closed = false;

  write(data: Uint8Array): number {
    if (this.closed) return -1;
    const taken = Math.min(this.budget, data.length);
    this.received.push(...data.subarray(0, taken));
    this.budget -= taken;
    return taken;
  }
}

const bytes = (from: number, count: number) => Uint8Array.from({ length: count }, (_, i) => (from + i) % 256);

test("bytes a short write did not take are queued and go out on drain, in order", async () => {
  const socket = new ShortWriteSocket();
  const writer = new SocketWriter(socket);
  socket.budget = 3;
  writer.write(bytes(0, 10));
  writer.write(bytes(10, 5));
  expect(socket.received).toEqual([0, 1, 2]);
  expect(writer.pending).toBe(12);

  let flushed = false;
  const done = writer.flushed().then(() => (flushed = true));
  socket.budget = 8;
  writer.drain();
  expect(writer.pending).toBe(4);
  expect(flushed).toBe(false);
  socket.budget = 100;
  writer.drain();
  await done;
  expect(socket.received).toEqual([...bytes(0, 15)]);
  expect(writer.pending).toBe(0);
});

test("writeSoon gathers the bytes of one turn into one write after it, and write keeps the order", async () => {
  const socket = new ShortWriteSocket();
  const calls: number[] = [];
  const counting: WritableSocket = { write: (data) => (calls.push(data.length), socket.write(data)) };
  const writer = new SocketWriter(counting);
  socket.budget = 100;
  const reused = bytes(0, 3);
  writer.writeSoon(reused);
  reused.fill(9); // the caller may reuse its buffer at once
  writer.writeSoon(bytes(3, 3));
  expect(calls).toEqual([]);
  expect(writer.pending).toBe(6);
  await writer.flushed();
  expect(calls).toEqual([6]);
  expect(socket.received).toEqual([...bytes(0, 6)]);

  // A plain write sends what was gathered before it, first.
  writer.writeSoon(bytes(6, 2));
  writer.write(bytes(8, 2));
  expect(calls).toEqual([6, 2, 2]);
  expect(socket.received).toEqual([...bytes(0, 10)]);
  await new Promise((resolve) => setImmediate(resolve)); // the scheduled send finds nothing left
  expect(calls).toEqual([6, 2, 2]);
});

test("a closed socket drops what is queued and releases whoever waits for the flush", async () => {
  const socket = new ShortWriteSocket();
  const writer = new SocketWriter(socket);
  writer.write(bytes(0, 4));
  const done = writer.flushed();
  socket.closed = true;
  writer.drain();
  await done;
  expect(writer.pending).toBe(0);
  writer.write(bytes(4, 4));
  expect(socket.received).toEqual([]);
});

test("over a real socket whose peer reads late, every byte arrives once and in order", async () => {
  const total = 16 * 1024 * 1024;
  const payload = bytes(7, total);
  const received = Promise.withResolvers<Uint8Array>();
  const chunks: Buffer[] = [];
  let length = 0;
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        // Not reading at first fills the kernel buffers, so the writer must meet short writes.
        socket.pause();
        setImmediate(() => socket.resume());
      },
      data(_socket, chunk) {
        chunks.push(Buffer.from(chunk));
        length += chunk.length;
        if (length >= total) received.resolve(Buffer.concat(chunks));
      },
    },
  });
  let writer: SocketWriter | undefined;
  let queuedAtSomePoint = 0;
  const client = await Bun.connect({
    hostname: "127.0.0.1",
    port: server.port,
    socket: {
      data() {},
      drain() {
        writer!.drain();
      },
    },
  });
  writer = new SocketWriter(client);
  for (let offset = 0; offset < total; offset += 64 * 1024) {
    writer.write(payload.subarray(offset, offset + 64 * 1024));
    queuedAtSomePoint = Math.max(queuedAtSomePoint, writer.pending);
  }
  const arrived = await received.promise;
  client.end();
  server.stop(true);
  expect(queuedAtSomePoint).toBeGreaterThan(0);
  expect(arrived.length).toBe(total);
  expect(Buffer.from(arrived).equals(Buffer.from(payload))).toBe(true);
});

test("gathered bytes a short write left behind survive the reuse of the gathering buffer", async () => {
  const socket = new ShortWriteSocket();
  const writer = new SocketWriter(socket);
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  socket.budget = 2;
  writer.writeSoon(bytes(0, 6));
  await turn();
  writer.writeSoon(bytes(6, 6));
  await turn();
  socket.budget = 100;
  writer.drain();
  await writer.flushed();
  expect(socket.received).toEqual([...bytes(0, 12)]);
});

test("close drops gathered bytes and releases whoever waits for the flush", async () => {
  const socket = new ShortWriteSocket();
  const writer = new SocketWriter(socket);
  socket.budget = 100;
  writer.writeSoon(bytes(0, 4));
  const done = writer.flushed();
  writer.close();
  await done;
  expect(writer.pending).toBe(0);
  await new Promise((resolve) => setImmediate(resolve));
  expect(socket.received).toEqual([]);
});
