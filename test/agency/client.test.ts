// A real agency process against a scripted central on a real socket: what it does with answers that
// come back together, a refusal among them included, where it resumes from, and the counts from the
// central it checks against what it had acknowledged.
import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { join } from "node:path";
import { decodeMessage, encodeMessage, FrameDecoder, MessageType, messageName, type Message } from "../../lib/protocol/index.ts";
import { makeDataset, readCsv, Scope } from "../support/system.ts";

const scope = new Scope();
let listener: TCPSocketListener | undefined;
afterEach(async () => {
  listener?.stop(true);
  await scope.cleanup();
});

/** What a scripted central saw: its port, how many sessions were opened, and when all of them have closed. */
interface Scripted {
  port: number;
  sessions: () => number;
  /** Resolves once every session opened so far has closed: whatever the agency sent has been seen. */
  closed: () => Promise<void>;
}

/**
 * A central that answers hello with `stored(session)` (sessions count from 1) and hands every later
 * request to `onRequest`, with the socket's session and a way to drop it (reset, or FIN once the
 * replies written so far are out when `graceful`).
 */
function scriptedCentral(
  onRequest: (message: Message, reply: (bytes: Uint8Array) => void, session: number, drop: (graceful?: boolean) => void) => void,
  stored: (session: number) => number = () => 0,
): Scripted {
  let sessions = 0;
  const closes: Promise<void>[] = [];
  listener = Bun.listen<{ push: (chunk: Buffer) => void; closed: () => void }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const session = ++sessions;
        const decoder = new FrameDecoder(64 * 1024);
        const closed = Promise.withResolvers<void>();
        closes.push(closed.promise);
        const drop = (graceful = false) => (graceful ? socket.end() : socket.terminate());
        socket.data = {
          closed: closed.resolve,
          push: (chunk) =>
            decoder.push(chunk, (type, payload) => {
              const message = decodeMessage(type, payload);
              if (message.type === MessageType.Hello) socket.write(encodeMessage({ type: MessageType.Welcome, stored: stored(session) }));
              else onRequest(message, (bytes) => socket.write(bytes), session, drop);
            }),
        };
      },
      data(socket, chunk) {
        socket.data.push(chunk);
      },
      close(socket) {
        socket.data.closed();
      },
    },
  });
  return { port: listener.port, sessions: () => sessions, closed: () => Promise.all(closes).then(() => undefined) };
}

test("OKs that arrive together are all counted, and a refusal among them stops the agency before END", async () => {
  const [file] = await makeDataset(scope.dir("lottery-agency-"), [3000]);
  const requests: Message["type"][] = [];
  const counts: number[] = [];
  const { port } = scriptedCentral((message, reply) => {
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
  const { port } = scriptedCentral((message, reply) => {
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
  const { port } = scriptedCentral(
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

test("an END answered with a count other than the bets acknowledged stops the agency: exit 1, the reason, no winners query", async () => {
  const [file] = await makeDataset(scope.dir("lottery-agency-"), [1000]);
  const requests: Message["type"][] = [];
  let acknowledged = 0;
  const central = scriptedCentral((message, reply) => {
    requests.push(message.type);
    if (message.type === MessageType.Bets) {
      acknowledged += message.bets.count;
      reply(encodeMessage({ type: MessageType.Ok, count: message.bets.count }));
    } else if (message.type === MessageType.End) {
      // The central claims one bet fewer than it acknowledged: some acknowledged bet is not stored.
      reply(encodeMessage({ type: MessageType.Ok, count: acknowledged - 1 }));
    } else if (message.type === MessageType.WinnersQuery) {
      reply(encodeMessage({ type: MessageType.Winners, documents: [] }));
    }
  });
  const agency = scope.agency(1, central.port, file!);
  expect(await agency.done).toBe(1);
  await central.closed();
  expect(acknowledged).toBe(readCsv(file!).length);
  expect(agency.lines.join("\n")).toContain(`agency 1: the central holds ${acknowledged - 1} of our bets, we sent ${acknowledged}`);
  expect(requests.filter((type) => type !== MessageType.Bets)).toEqual([MessageType.End]);
  expect(central.sessions()).toBe(1);
});

test("a welcome below what an earlier session acknowledged stops the agency: exit 1, the reason, nothing sent again", async () => {
  const [file] = await makeDataset(scope.dir("lottery-agency-"), [3000]);
  const batch = 100;
  const acknowledgedBatches = 3;
  const later: Message["type"][] = [];
  // Anything sent after the second hello is a failure: seen at once, not by a timeout of a stalled agency.
  const sentAgain = Promise.withResolvers<string>();
  let firstSessionBatches = 0;
  const central = scriptedCentral(
    (message, reply, session, drop) => {
      if (session > 1) {
        later.push(message.type);
        sentAgain.resolve(messageName(message.type));
        return;
      }
      if (message.type !== MessageType.Bets) return;
      // The first batches are acknowledged; then the session ends, its OKs delivered first.
      if (++firstSessionBatches <= acknowledgedBatches) reply(encodeMessage({ type: MessageType.Ok, count: message.bets.count }));
      if (firstSessionBatches === acknowledgedBatches) drop(true);
    },
    // The next session's welcome holds fewer bets than were acknowledged: acknowledged bets were lost.
    (session) => (session === 1 ? 0 : acknowledgedBatches * batch - 1),
  );
  const agency = scope.agency(1, central.port, file!, { CLI_BATCH_MAXAMOUNT: String(batch), CLI_BATCH_WINDOW: "8" });
  const outcome = await Promise.race([agency.done.then((code) => ({ code })), sentAgain.promise.then((sent) => ({ sent }))]);
  expect(outcome).toEqual({ code: 1 });
  await central.closed();
  expect(agency.lines.join("\n")).toContain(
    `agency 1: the central holds ${acknowledgedBatches * batch - 1} of our bets but had acknowledged ${acknowledgedBatches * batch}`,
  );
  // After the second session's hello, nothing: no bets sent again, no END, no third session.
  expect({ sessions: central.sessions(), later }).toEqual({ sessions: 2, later: [] });
});
