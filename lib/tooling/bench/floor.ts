// The raw floor the system is compared with: the same file bytes pushed by the same number of concurrent
// loopback TCP connections into one appended, synced file, with no framing, validation or replies.
//   bun lib/tooling/bench/floor.ts receive OUT CONNECTIONS   prints "port: N", exits once every sender is done
//   bun lib/tooling/bench/floor.ts send PORT FILE
import { closeSync, fdatasyncSync, openSync } from "node:fs";
import { Waiters } from "../../util/waiters.ts";

const [mode, ...args] = process.argv.slice(2);

if (mode === "receive") {
  const [out, connections] = [args[0]!, Number(args[1])];
  const fd = openSync(out, "a");
  const sink = Bun.file(fd).writer({ highWaterMark: 1 << 20 });
  let open = connections;
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(_socket, chunk) {
        sink.write(chunk);
      },
      async close() {
        if (--open > 0) return;
        await sink.end();
        fdatasyncSync(fd);
        closeSync(fd);
        listener.stop();
        process.exit(0);
      },
    },
  });
  console.log(`port: ${listener.port}`);
} else if (mode === "send") {
  const [port, file] = [Number(args[0]), args[1]!];
  const drained = new Waiters();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data() {},
      drain() {
        drained.wake();
      },
    },
  });
  for await (const chunk of Bun.file(file).stream()) {
    let offset = 0;
    while (offset < chunk.length) {
      const written = socket.write(chunk, offset);
      if (written < 0) throw new Error("connection lost");
      offset += written;
      if (offset < chunk.length) await drained.wait();
    }
  }
  socket.end();
} else {
  console.error("usage: floor.ts receive OUT CONNECTIONS | send PORT FILE");
  process.exit(2);
}
