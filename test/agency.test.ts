// A real agency process against a scripted central on a real socket: what it does with answers that
// come back together, a refusal among them included, and where it resumes from.
import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { join } from "node:path";
import { decodeMessage, encodeMessage, FrameDecoder, MessageType, type Message } from "../lib/protocol/index.ts";
import { makeDataset, readCsv, Scope } from "./support/system.ts";

const scope = new Scope();
let listener: TCPSocketListener | undefined;
afterEach(async () => {
  listener?.stop(true);
  await scope.cleanup();
});

/**
 * A central that answers hello with `stored(session)` (sessions count from 1) and hands every later
 * request to `onRequest`, with the socket's session and a way to drop it.
 */
function scriptedCentral(
  onRequest: (message: Message, reply: (bytes: Uint8Array) => void, session: number, drop: () => void) => void,
  stored: (session: number) => number = () => 0,
): number {
  let sessions = 0;
  listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const session = ++sessions;
        const decoder = new FrameDecoder(64 * 1024);
        socket.data = (chunk: Buffer) =>
          decoder.push(chunk, (type, payload) => {
            const message = decodeMessage(type, payload);
            if (message.type === MessageType.Hello) socket.write(encodeMessage({ type: MessageType.Welcome, stored: stored(session) }));
            else onRequest(message, (bytes) => socket.write(bytes), session, () => socket.terminate());
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

test("resuming far into the file sends exactly the bets after the central's count, across many blocks", async () => {
  const [file] = await makeDataset(scope.dir("lottery-agency-"), [10_000]);
  const stored = 9_000;
  const sent: string[] = [];
  const port = scriptedCentral((message, reply) => {
    if (message.type === MessageType.Bets) {
      sent.push(...message.bets.toFields().map((bet) => bet.document));
      reply(encodeMessage({ type: MessageType.Ok, count: message.bets.count }));
    } else if (message.type === MessageType.End) {
      reply(encodeMessage({ type: MessageType.Ok, count: stored + sent.length }));
    } else if (message.type === MessageType.WinnersQuery) {
      reply(encodeMessage({ type: MessageType.Winners, documents: [] }));
    }
  }, () => stored);
  const agency = scope.agency(1, port, file!);
  expect(await agency.done).toBe(0);
  // The file spans several 64 KiB reads: the skip goes across blocks.
  expect(Bun.file(file!).size).toBeGreaterThan(4 * 64 * 1024);
  expect(sent).toEqual(readCsv(file!).slice(stored).map((row) => row[2]!));
});

test("a lost session resumes from the central's count, which lies among bets sent but not acknowledged", async () => {
  const [file] = await makeDataset(scope.dir("lottery-agency-"), [10_000]);
  const batch = 128;
  const window = 32;
  const acknowledgedBatches = 30;
  // Stored by the central, though their OKs were lost with the first session: mid-way through the window.
  const stored = acknowledgedBatches * batch + 200;
  const resent: string[] = [];
  let firstSessionBatches = 0;
  const port = scriptedCentral(
    (message, reply, session, drop) => {
      const ok = (count: number) => reply(encodeMessage({ type: MessageType.Ok, count }));
      if (message.type === MessageType.Bets && session === 1) {
        // Answers the first batches only, then drops the session once the window is full of unanswered ones.
        if (++firstSessionBatches <= acknowledgedBatches) ok(message.bets.count);
        else if (firstSessionBatches === acknowledgedBatches + window) drop();
      } else if (message.type === MessageType.Bets) {
        resent.push(...message.bets.toFields().map((bet) => bet.document));
        ok(message.bets.count);
      } else if (message.type === MessageType.End) {
        ok(stored + resent.length);
      } else if (message.type === MessageType.WinnersQuery) {
        reply(encodeMessage({ type: MessageType.Winners, documents: [] }));
      }
    },
    (session) => (session === 1 ? 0 : stored),
  );
  const agency = scope.agency(1, port, file!, { CLI_BATCH_MAXAMOUNT: String(batch), CLI_BATCH_WINDOW: String(window) });
  expect(await agency.done).toBe(0);
  // The bets sent again come from blocks kept since the first session: none was reused before its OK.
  expect(resent).toEqual(readCsv(file!).slice(stored).map((row) => row[2]!));
});
