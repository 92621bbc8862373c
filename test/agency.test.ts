// A real agency process against a scripted central on a real socket: what it does with answers that
// come back together, a refusal among them included.
import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { join } from "node:path";
import { decodeMessage, encodeMessage, FrameDecoder, MessageType, type Message } from "../lib/protocol/index.ts";
import { makeDataset, Scope } from "./support/system.ts";

const scope = new Scope();
let listener: TCPSocketListener | undefined;
afterEach(async () => {
  listener?.stop(true);
  await scope.cleanup();
});

/** A central that answers hello with `stored: 0` and hands every later request to `onRequest`. */
function scriptedCentral(onRequest: (message: Message, reply: (bytes: Uint8Array) => void) => void): number {
  listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const decoder = new FrameDecoder(64 * 1024);
        socket.data = (chunk: Buffer) =>
          decoder.push(chunk, (type, payload) => {
            const message = decodeMessage(type, payload);
            if (message.type === MessageType.Hello) socket.write(encodeMessage({ type: MessageType.Welcome, stored: 0 }));
            else onRequest(message, (bytes) => socket.write(bytes));
          });
      },
      data(socket, chunk) {
        (socket.data as (chunk: Buffer) => void)(chunk);
      },
    },
  });
  return listener.port;
}

test("OKs that arrive together are all counted, and a refusal among them stops the agency before END", async () => {
  const [file] = await makeDataset(scope.dir("lottery-agency-"), [3000]);
  const requests: Message["type"][] = [];
  const counts: number[] = [];
  const port = scriptedCentral((message, reply) => {
    requests.push(message.type);
    if (message.type !== MessageType.Bets) return;
    counts.push(message.bets.count);
    // The answers to the first four batches leave in one write: three OKs, then a refusal.
    if (counts.length === 4) {
      reply(
        Buffer.concat([
          ...counts.slice(0, 3).map((count) => encodeMessage({ type: MessageType.Ok, count })),
          encodeMessage({ type: MessageType.Error, reason: "no more, thanks" }),
        ]),
      );
    }
  });
  const agency = scope.agency(1, port, file!, { CLI_BATCH_WINDOW: "8" });
  expect(await agency.done).toBe(1);
  expect(agency.lines.join("\n")).toContain("the central refused: no more, thanks");
  // A window of 8 went out before any answer. The three OKs and the refusal were read together, so no
  // slot was refilled before the refusal was seen: nothing more was sent, and no END.
  expect(requests).toEqual(new Array(8).fill(MessageType.Bets));
});
