// A real agency on a run longer than a second logs its progress, at most once a second, with `percent`
// from the bytes of its file read; against a central that answers slowly (one OK at a time, paced).
import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { readFileSync } from "node:fs";
import { MessageType } from "../../lib/protocol/index.ts";
import { parseLogLine } from "../support/log-line.ts";
import { MemoryCentral, scriptedCentral, type ScriptedSession } from "../support/scripted-central.ts";
import { makeDataset, Scope } from "../support/system.ts";

const scope = new Scope();
let listener: TCPSocketListener<unknown> | undefined;
let pace: Timer | undefined;
afterEach(async () => {
  clearInterval(pace);
  listener?.stop(true);
  await scope.cleanup();
});

/** OKs go out one per tick of this many milliseconds: 47 batches take over two seconds. */
const OK_PACE_MS = 50;

test("progress lines on a long run: at most one a second, none in its first second, counts and percent that add up", async () => {
  const bets = 6000;
  const [file] = await makeDataset(scope.dir("lottery-progress-"), [bets]);
  const memory = new MemoryCentral();
  const held: { message: Parameters<MemoryCentral["answer"]>[0]; session: ScriptedSession }[] = [];
  listener = scriptedCentral({
    request: (message, session) => {
      if (message.type === MessageType.Bets) held.push({ message, session });
      else memory.answer(message, session);
    },
  });
  pace = setInterval(() => {
    const next = held.shift();
    if (next) memory.answer(next.message, next.session);
  }, OK_PACE_MS);

  const agency = scope.agency(1, listener.port, file!);
  expect(await agency.done).toBe(0);
  expect(memory.documents).toHaveLength(bets);

  const lines = agency.lines.filter((line) => line.includes("action: ")).map(parseLogLine);
  const started = Date.parse(lines.find((line) => line.fields.get("action") === "config")!.time);
  const progress = lines.filter((line) => line.fields.get("action") === "progreso");
  expect(progress.length).toBeGreaterThanOrEqual(1);

  // Where each row of the file ends, in bytes: the bytes read must cover every bet sent.
  const bytes = readFileSync(file!);
  const rowEnds = [0];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) rowEnds.push(i + 1);
  let previous = { at: started, acknowledged: 0, percent: 0 };
  for (const line of progress) {
    expect([...line.fields.keys()]).toEqual(["action", "result", "sent", "acknowledged", "percent"]);
    expect(line.fields.get("result")).toBe("in_progress");
    const at = Date.parse(line.time);
    const sent = Number(line.fields.get("sent"));
    const acknowledged = Number(line.fields.get("acknowledged"));
    const percent = Number(line.fields.get("percent"));
    // The log's clock has millisecond steps: a second apart may read as 999 ms.
    expect(at - previous.at).toBeGreaterThanOrEqual(999);
    expect(acknowledged).toBeGreaterThan(previous.acknowledged);
    expect(acknowledged).toBeLessThanOrEqual(sent);
    expect(sent).toBeLessThanOrEqual(bets);
    expect(percent).toBeGreaterThanOrEqual(Math.max(previous.percent, Math.floor((100 * rowEnds[sent]!) / bytes.length)));
    expect(percent).toBeLessThanOrEqual(100);
    previous = { at, acknowledged, percent };
  }
});
