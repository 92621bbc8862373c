// BetStore: the statement's store_bets/load_bets contract on a CSV file, concurrent appends under the
// promise-chain lock, streaming reads, crash recovery of a torn last row, END notices.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bet } from "../../lib/bet/bet.ts";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { agencyRows } from "../../lib/tooling/generate-data.ts";
import { PromiseLock } from "../../lib/storage/lock.ts";
import { BetStore, CorruptStorageError, StorageFailedError, type StoredBatch, type SyncMode } from "../../lib/storage/store.ts";
import { before, heldSyncs, type HeldSyncs } from "../support/held-sync.ts";
import { betRow, storedBatches } from "../support/rows.ts";

let dir = "";
let path = "";
const opened: BetStore[] = [];
const held: HeldSyncs[] = [];

/** Syncs held until the test releases them (and released at the latest after it). */
function holdSyncs(): HeldSyncs {
  const syncs = heldSyncs();
  held.push(syncs);
  return syncs;
}

/** An open store whose syncs the test releases by hand. */
async function openHeldStore(sync: SyncMode = "always") {
  const syncs = holdSyncs();
  const { store } = await openStore(sync, undefined, undefined, syncs.sync);
  return { store, syncs };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "lottery-store-"));
  path = join(dir, "bets.csv");
});

afterEach(async () => {
  // Held syncs first: a store closes only once its queued writes are through.
  for (const syncs of held.splice(0)) syncs.releaseAll();
  for (const store of opened.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openStore(
  sync: SyncMode = "always",
  onCommit?: (batch: StoredBatch) => void,
  onBet?: (bet: Bet) => void,
  syncFile?: (fd: number) => Promise<void>,
) {
  const store = new BetStore(path, sync, onCommit, syncFile);
  opened.push(store);
  const recovery = await store.open(onBet);
  return { store, recovery };
}

/** Stores bets as the central would hand them over: one batch per run of the same agency. */
function storeAll(store: BetStore, bets: readonly Bet[]): Promise<void> {
  return Promise.all(storedBatches(bets).map((batch) => store.storeBets(batch))).then(() => undefined);
}

async function loadAll(store: BetStore): Promise<Bet[]> {
  const bets: Bet[] = [];
  for await (const bet of store.loadBets()) bets.push(bet);
  return bets;
}

function bet(change: Partial<Bet> = {}): Bet {
  return { agency: 1, firstName: "Ana", lastName: "Pérez", document: "30904465", birthdate: "1999-03-17", number: 7574, ...change };
}

// Fields that need quoting or multi-byte UTF-8, and the bytes Python's csv.writer writes for them.
const TRICKY: Bet[] = [
  bet({ agency: 1, firstName: "a,b", lastName: 'say "hi"', document: "30904465", birthdate: "1999-03-17", number: 7574 }),
  bet({ agency: 2, firstName: "multi\r\nline", lastName: "lf\nonly", document: "1", birthdate: "2000-02-29", number: 0 }),
  bet({ agency: 3, firstName: "cr\ralone", lastName: "José Ñúñez", document: "2", birthdate: "1980-01-01", number: 42 }),
  bet({ agency: 4, firstName: "😀 emoji", lastName: " spaced ", document: "3", birthdate: "1990-12-31", number: 9999 }),
  bet({ agency: 5, firstName: '"', lastName: '","', document: "4", birthdate: "1991-01-01", number: 1 }),
];
const TRICKY_CSV =
  '1,"a,b","say ""hi""",30904465,1999-03-17,7574\r\n' +
  '2,"multi\r\nline","lf\nonly",1,2000-02-29,0\r\n' +
  '3,"cr\ralone",José Ñúñez,2,1980-01-01,42\r\n' +
  "4,😀 emoji, spaced ,3,1990-12-31,9999\r\n" +
  '5,"""",""",""",4,1991-01-01,1\r\n';

describe("the betRow oracle of these tests", () => {
  test("writes agency,first_name,last_name,document,birthdate,number as Python's csv module would", () => {
    expect(TRICKY.map(betRow).join("")).toBe(TRICKY_CSV);
  });
});

describe("storeBets and loadBets", () => {
  test("tricky fields round trip, and the file holds exactly Python's bytes", async () => {
    const { store, recovery } = await openStore();
    expect(recovery).toEqual({ bets: 0, cutBytes: 0, ended: [] });
    await storeAll(store, TRICKY);
    expect(readFileSync(path, "utf8")).toBe(TRICKY_CSV);
    expect(await loadAll(store)).toEqual(TRICKY);
  });

  test("a store reopened on the file hands back every stored bet in file order", async () => {
    const first = await openStore();
    await storeAll(first.store, TRICKY.slice(0, 2));
    await storeAll(first.store, TRICKY.slice(2));
    await first.store.close();
    opened.length = 0;

    const seen: Bet[] = [];
    const { recovery } = await openStore("always", undefined, (b) => seen.push(b));
    expect(recovery).toEqual({ bets: TRICKY.length, cutBytes: 0, ended: [] });
    expect(seen).toEqual(TRICKY);
  });

  test("bets with the same document are all kept", async () => {
    const { store } = await openStore();
    await storeAll(store, [bet({ number: 1 }), bet({ number: 1 })]);
    await storeAll(store, [bet({ number: 1 })]);
    expect((await loadAll(store)).length).toBe(3);
  });

  test("a number sent with leading zeros is stored as the number it is", async () => {
    const { store } = await openStore();
    const fields = { firstName: "Ana", lastName: "Pérez", document: "0012", birthdate: "1999-03-17", number: "0042" };
    await store.storeBets({ agency: 7, bets: BetBlock.of([fields]) });
    expect(readFileSync(path, "utf8")).toBe("7,Ana,Pérez,0012,1999-03-17,42\r\n");
  });

  test("a batch that cannot be formatted whole is refused and leaves nothing for the next group", async () => {
    const { store } = await openStore();
    const fields = (document: string, number: string) => ({ firstName: "Ana", lastName: "Pérez", document, birthdate: "1999-03-17", number });
    // A good batch queued in the same group: the rollback must keep its row.
    const earlier = store.storeBets({ agency: 1, bets: BetBlock.of([fields("0", "0")]) });
    // The store trusts its callers to have validated; a number that is not one fails half-way through the batch.
    await expect(store.storeBets({ agency: 1, bets: BetBlock.of([fields("1", "1"), fields("2", "x")]) })).rejects.toThrow(RangeError);
    await earlier;
    await store.storeBets({ agency: 1, bets: BetBlock.of([fields("3", "3")]) });
    expect(readFileSync(path, "utf8")).toBe("1,Ana,Pérez,0,1999-03-17,0\r\n1,Ana,Pérez,3,1999-03-17,3\r\n");
  });

  test("a batch refused part-way stores none of its valid bets and is never committed; its group's other batches are", async () => {
    const committed: string[] = [];
    const { store } = await openStore("always", (batch) => committed.push(batch.bets.toFields().map((b) => b.document).join("+")));
    const fields = (document: string, number = document) => ({ firstName: "Ana", lastName: "Pérez", document, birthdate: "1999-03-17", number });
    // Three batches queued together: they would share one write and one sync.
    const earlier = store.storeBets({ agency: 1, bets: BetBlock.of([fields("1")]) });
    const refused = store.storeBets({ agency: 1, bets: BetBlock.of([fields("2"), fields("3"), fields("4", "x")]) });
    const later = store.storeBets({ agency: 1, bets: BetBlock.of([fields("5"), fields("6")]) });
    await expect(refused).rejects.toThrow(RangeError);
    await Promise.all([earlier, later]);
    expect(committed).toEqual(["1", "5+6"]);
    expect((await loadAll(store)).map((b) => b.document)).toEqual(["1", "5", "6"]);
    await store.close();
    opened.length = 0;
    const { recovery } = await openStore();
    expect(recovery.bets).toBe(3);
  });

  test("loadBets on a missing file yields nothing", async () => {
    const store = new BetStore(join(dir, "missing.csv"));
    expect(await loadAll(store)).toEqual([]);
  });

  // All 50 calls at once (one group commit), or 10 clients storing 5 batches each in turn, as
  // connections do (groups of varying sizes form while a write and sync are running).
  const patterns = { "all at once": 50, "from 10 clients in turn": 10 } as const;
  for (const sync of ["always", "never"] as const) {
    for (const [pattern, clients] of Object.entries(patterns)) {
      test(`50 storeBets calls ${pattern} keep every row whole and each batch's rows together (sync ${sync})`, async () => {
        const committed: number[] = [];
        const { store } = await openStore(sync, (batch) => committed.push(Number(batch.bets.text(0).lastName.split(",")[0])));
        // Fields that need quoting, so a row cut or interleaved with another would not parse back the same.
        const batches = Array.from({ length: 50 }, (_, b) =>
          Array.from({ length: 1 + ((b * 37) % 200) }, (_, i) =>
            bet({ agency: 1 + (b % 5), firstName: `Ñandú "${b}"\r\n#${i}`, lastName: `${b},${i}`, document: String(b * 1000 + i), number: i }),
          ),
        );
        const blocks = batches.map((batch) => batch.map(betRow).join(""));

        const store1 = async (b: number) => {
          await storeAll(store, batches[b]!);
          // The caller hears of its batch only once the batch is in the file, whole, and committed.
          expect(readFileSync(path, "utf8").includes(blocks[b]!)).toBe(true);
          expect(committed).toContain(b);
        };
        await Promise.all(
          Array.from({ length: clients }, async (_, client) => {
            for (let b = client; b < batches.length; b += clients) await store1(b);
          }),
        );

        // The file is the batches' blocks back to back, each exactly once.
        const text = readFileSync(path, "utf8");
        let offset = 0;
        const order: number[] = [];
        while (offset < text.length) {
          const b = blocks.findIndex((block, index) => !order.includes(index) && text.startsWith(block, offset));
          expect(b).toBeGreaterThanOrEqual(0);
          order.push(b);
          offset += blocks[b]!.length;
        }
        expect(order.toSorted((x, y) => x - y)).toEqual(batches.map((_, b) => b));

        expect(await loadAll(store)).toEqual(order.flatMap((b) => batches[b]!));
        expect(committed.toSorted((x, y) => x - y)).toEqual(batches.map((_, b) => b));
      });
    }
  }

  test("idle resolves once the queued writes are in the file", async () => {
    const { store } = await openStore();
    void storeAll(store, [bet({ number: 1 })]);
    void storeAll(store, [bet({ number: 2 })]);
    await store.idle();
    expect(readFileSync(path, "utf8")).toBe(betRow(bet({ number: 1 })) + betRow(bet({ number: 2 })));
  });

  test("storeBets is refused before open and after close", async () => {
    const store = new BetStore(path);
    await expect(storeAll(store, [bet()])).rejects.toThrow("store is not open");
    await store.open();
    await storeAll(store, [bet()]);
    await store.close();
    await expect(storeAll(store, [bet()])).rejects.toThrow("store is not open");
    await expect(store.recordEnd(1)).rejects.toThrow("store is not open");
    expect(readFileSync(path, "utf8")).toBe(betRow(bet()));
  });

  test("a write asked for while close() runs is refused or stored, never acknowledged and lost", async () => {
    // The outcome may depend on how the close and the write interleave: try each sync mode a few times.
    for (let round = 0; round < 10; round++) {
      const file = join(dir, `closing-${round}.csv`);
      const store = new BetStore(file, round % 2 === 0 ? "never" : "always");
      await store.open();
      await storeAll(store, [bet({ number: 1 })]);
      const closed = store.close();
      const late = storeAll(store, [bet({ number: 2 })]).then(
        () => "stored",
        () => "refused",
      );
      const lateEnd = store.recordEnd(4).then(
        () => "stored",
        () => "refused",
      );
      await closed;
      // The central sends OK on this promise: it must tell the truth about the file.
      const rows = (await late) === "stored" ? [bet({ number: 1 }), bet({ number: 2 })] : [bet({ number: 1 })];
      expect({ round, text: readFileSync(file, "utf8") }).toEqual({ round, text: rows.map(betRow).join("") });
      expect(readFileSync(`${file}.ends`, "utf8")).toBe((await lateEnd) === "stored" ? "4\n" : "");
    }
  });

  test("a whole row that is not a bet stops open() rather than being dropped", async () => {
    writeFileSync(path, betRow(bet()) + "1,only,four,fields\r\n");
    const store = new BetStore(path);
    const error = await store.open().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CorruptStorageError);
    expect((error as Error).message).toContain(`${path}:2`);
    expect(readFileSync(path, "utf8")).toBe(betRow(bet()) + "1,only,four,fields\r\n");
  });
});

describe("loadBets streams", () => {
  test("bets are yielded as their rows arrive, before the file ends", async () => {
    // A named pipe: its end of file comes only when the writer closes, so a reader that waited for
    // the whole file would never see the first bet while the writer still holds the pipe open.
    const fifo = join(dir, "pipe.csv");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const store = new BetStore(fifo);
    const bets = store.loadBets();
    const first = bets.next();
    // Read-write, so opening does not block waiting for the reader (Linux semantics).
    const fd = openSync(fifo, "r+");
    try {
      writeSync(fd, betRow(TRICKY[0]!));
      expect((await first).value).toEqual(TRICKY[0]);
      writeSync(fd, betRow(TRICKY[1]!) + betRow(TRICKY[2]!));
      expect((await bets.next()).value).toEqual(TRICKY[1]);
      expect((await bets.next()).value).toEqual(TRICKY[2]);
    } finally {
      closeSync(fd);
    }
    expect((await bets.next()).done).toBe(true);
  }, 10_000);

  test("a file of 200k rows is read with memory that does not grow with it, and can be left early", async () => {
    const rows = 200_000;
    const sink = Bun.file(path).writer({ highWaterMark: 1 << 20 });
    for (const row of agencyRows(3, rows, 1)) sink.write(`3,${row}`);
    await sink.end();
    const fileBytes = Bun.file(path).size;
    const store = new BetStore(path);

    for await (const first of store.loadBets()) {
      expect(first.agency).toBe(3);
      break; // leaving early must release the file and not spoil later reads
    }

    const heap = () => {
      Bun.gc(true);
      return process.memoryUsage().heapUsed;
    };
    // Heap after a full collection at checkpoints: the first one sets the level (about one chunk's
    // worth of rows is alive while it is handed out); later ones must stay near it.
    const checkpoints: number[] = [];
    let count = 0;
    let winners = 0;
    for await (const b of store.loadBets()) {
      count++;
      if (b.number === 7574) winners++;
      if (count % 25_000 === 0) checkpoints.push(heap());
    }
    expect(count).toBe(rows);
    expect(winners).toBe([...agencyRows(3, rows, 1)].filter((row) => row.endsWith(",7574\r\n")).length);
    const growth = Math.max(...checkpoints) - checkpoints[0]!;
    // Loose on purpose: keeping the bets would add several times the file's size over the scan.
    expect(growth).toBeLessThan(fileBytes / 4);
  }, 60_000); // generating and scanning 9 MB on a loaded 2-core machine
});

describe("recovery at open()", () => {
  const whole = [bet({ number: 1 }), bet({ firstName: "Multi\r\nLine", number: 2 }), bet({ number: 3 })];
  const wholeCsv = whole.map(betRow).join("");

  const torn: [string, Buffer][] = [
    ["a row cut mid-field", Buffer.from("1,Juan,Pé", "utf8")],
    ["a row cut inside a UTF-8 character", Buffer.from("1,Juan,Pé", "utf8").subarray(0, -1)],
    ["a row whose quoted field holds a CRLF", Buffer.from('1,"Ana\r\nMaría",Gó', "utf8")],
    ["a row cut right after the CRLF inside its quoted field", Buffer.from('1,"Ana\r\n', "utf8")],
    ["a row cut between CR and LF", Buffer.from("1,Juan,Pérez,30904465,1999-03-17,7574\r", "utf8")],
    ["a row cut at its first byte", Buffer.from("1", "utf8")],
  ];

  for (const [name, tail] of torn) {
    test(`${name} is cut off and reported`, async () => {
      writeFileSync(path, Buffer.concat([Buffer.from(wholeCsv), tail]));
      const { store, recovery } = await openStore();
      expect(recovery).toEqual({ bets: whole.length, cutBytes: tail.length, ended: [] });
      expect(readFileSync(path, "utf8")).toBe(wholeCsv);

      // Appends after recovery start on a clean row boundary.
      await storeAll(store, [bet({ number: 4 })]);
      expect(await loadAll(store)).toEqual([...whole, bet({ number: 4 })]);
    });
  }

  test("a file of whole rows is left alone", async () => {
    writeFileSync(path, wholeCsv);
    const { recovery } = await openStore();
    expect(recovery).toEqual({ bets: whole.length, cutBytes: 0, ended: [] });
    expect(readFileSync(path, "utf8")).toBe(wholeCsv);
  });
});

describe("END notices", () => {
  test("recordEnd round trips through a reopen, a repeated notice as it was written", async () => {
    const first = await openStore();
    await first.store.recordEnd(2);
    await first.store.recordEnd(5);
    await first.store.recordEnd(2);
    await first.store.close();
    opened.length = 0;
    const { recovery } = await openStore();
    // The store keeps what was written; the lottery counts a repeated END once (lottery.test).
    expect(recovery.ended).toEqual([2, 5, 2]);
  });

  test("a torn END line is ignored and cut, so the next notice starts a line of its own", async () => {
    writeFileSync(`${path}.ends`, "2\n5\n4");
    const { store, recovery } = await openStore();
    expect(recovery.ended).toEqual([2, 5]);
    await store.recordEnd(3);
    expect(readFileSync(`${path}.ends`, "utf8")).toBe("2\n5\n3\n");
  });

  test("open() on a fresh path creates both files", async () => {
    const { store, recovery } = await openStore("never");
    expect(recovery).toEqual({ bets: 0, cutBytes: 0, ended: [] });
    expect(existsSync(path)).toBe(true);
    expect(existsSync(store.endsPath)).toBe(true);
    await store.recordEnd(7);
    expect(readFileSync(store.endsPath, "utf8")).toBe("7\n");
  });
});

describe("PromiseLock", () => {
  test("tasks run one at a time in the order queued", async () => {
    const lock = new PromiseLock();
    const events: string[] = [];
    const task = (name: string) => async () => {
      events.push(`${name} start`);
      await Promise.resolve();
      await Promise.resolve();
      events.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([lock.run(task("a")), lock.run(task("b")), lock.run(task("c"))]);
    expect(results).toEqual(["a", "b", "c"]);
    expect(events).toEqual(["a start", "a end", "b start", "b end", "c start", "c end"]);
  });

  test("a failed task is reported to its caller and does not stop the chain", async () => {
    const lock = new PromiseLock();
    const failed = lock.run(() => Promise.reject(new Error("disk full")));
    const next = lock.run(() => "still runs");
    await expect(failed).rejects.toThrow("disk full");
    expect(await next).toBe("still runs");
  });

  test("idle waits for every task queued before it", async () => {
    const lock = new PromiseLock();
    let done = 0;
    for (let i = 0; i < 3; i++) {
      void lock.run(async () => {
        await Promise.resolve();
        done++;
      });
    }
    await lock.idle();
    expect(done).toBe(3);
  });

  test("idle after every task has settled is settled at once, and waits again once a task is queued", async () => {
    const lock = new PromiseLock();
    await lock.run(() => "done");
    await Promise.resolve();
    // At once: one turn of the microtask queue, where queueing a task on the lock takes several.
    let freeIdle = false;
    void lock.idle().then(() => (freeIdle = true));
    await Promise.resolve();
    expect(freeIdle).toBe(true);
    let queuedIdle = false;
    const held = Promise.withResolvers<void>();
    void lock.run(() => held.promise);
    const waiting = lock.idle().then(() => (queuedIdle = true));
    await Promise.resolve();
    expect(queuedIdle).toBe(false);
    held.resolve();
    await waiting;
    expect(queuedIdle).toBe(true);
  });
});

describe("durable acknowledgements", () => {
  /** One turn of the event loop: what could happen by now has happened. */
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  /** A few turns of the event loop: what the store could have done by now without a sync, it has done. */
  const turns = async (count = 10) => {
    for (let i = 0; i < count; i++) await turn();
  };

  test("an END queued behind a batch is neither written nor acknowledged until that batch's sync is done", async () => {
    const { store, syncs } = await openHeldStore();
    const batch = [bet({ number: 11 }), bet({ number: 12 })];
    const stored = storeAll(store, batch);
    const batchSync = await before(syncs.next(0), { "the batch was acknowledged without a sync": stored });
    let ended = false;
    const end = store.recordEnd(1).then(() => (ended = true));
    // The draw trusts an END on disk to mean that agency's bets are on disk too.
    await turns();
    expect({ ends: readFileSync(store.endsPath, "utf8"), ended, syncs: syncs.calls.length }).toEqual({ ends: "", ended: false, syncs: 1 });

    batchSync.resolve();
    await stored;
    const endSync = await before(syncs.next(1), { "the END was acknowledged without a sync": end });
    expect(ended).toBe(false);
    endSync.resolve();
    await end;
    expect(readFileSync(path, "utf8")).toBe(batch.map(betRow).join(""));
    expect(readFileSync(store.endsPath, "utf8")).toBe("1\n");
  });

  test("ENDs arriving during a sync share the next write and sync, and none is acknowledged before it", async () => {
    const { store, syncs } = await openHeldStore();
    const stored = storeAll(store, [bet()]);
    const batchSync = await before(syncs.next(0), { "the batch was acknowledged without a sync": stored });
    const ended: number[] = [];
    const ends = [3, 1, 4, 5, 2].map((agency) => store.recordEnd(agency).then(() => ended.push(agency)));
    batchSync.resolve();
    const endSync = await before(syncs.next(1), { "an END was acknowledged without a sync": Promise.race(ends) });
    await turns();
    expect({ ends: readFileSync(store.endsPath, "utf8"), ended, syncs: syncs.calls.length }).toEqual({ ends: "3\n1\n4\n5\n2\n", ended: [], syncs: 2 });
    endSync.resolve();
    await Promise.all(ends);
    expect({ ended, syncs: syncs.calls.length }).toEqual({ ended: [3, 1, 4, 5, 2], syncs: 2 });
  });

  test("an END never joins an END group queued ahead of a batch that was queued before it", async () => {
    const { store, syncs } = await openHeldStore();
    // Agency 1's batch is being synced; its END queues behind it; then agency 2's batch and END.
    const first = storeAll(store, [bet({ agency: 1 })]);
    const firstSync = await before(syncs.next(0), { "a batch was acknowledged without a sync": first });
    const end1 = store.recordEnd(1);
    const second = storeAll(store, [bet({ agency: 2 })]);
    const end2 = store.recordEnd(2);
    firstSync.resolve();
    // Agency 1's END is written and synced alone: agency 2's batch, queued before agency 2's END, is not on disk yet.
    const end1Sync = await before(syncs.next(1), { "an END was acknowledged without a sync": end1 });
    expect(readFileSync(store.endsPath, "utf8")).toBe("1\n");
    end1Sync.resolve();
    const secondSync = await before(syncs.next(2), { "a batch was acknowledged without a sync": second });
    await turns();
    expect({ ends: readFileSync(store.endsPath, "utf8"), bets: readFileSync(path, "utf8") }).toEqual({
      ends: "1\n",
      bets: betRow(bet({ agency: 1 })) + betRow(bet({ agency: 2 })),
    });
    secondSync.resolve();
    (await before(syncs.next(3), { "an END was acknowledged without a sync": end2 })).resolve();
    await Promise.all([end1, end2]);
    expect(readFileSync(store.endsPath, "utf8")).toBe("1\n2\n");
  });

  test("batches arriving during a sync share the next one, and nobody hears of a batch before its sync", async () => {
    const { store, syncs } = await openHeldStore();

    const settled: number[] = [];
    const first = storeAll(store, [bet({ document: "1" })]).then(() => settled.push(0));
    const firstSync = await before(syncs.next(0), { "a batch was acknowledged without a sync": first });
    // 49 more batches while the first sync is held.
    const more = Array.from({ length: 49 }, (_, i) =>
      storeAll(store, [bet({ document: String(i + 2) }), bet({ document: String(i + 100) })]).then(() => settled.push(i + 1)),
    );
    await turn();
    expect(settled).toEqual([]);
    expect(syncs.calls).toHaveLength(1);

    firstSync.resolve();
    await first;
    expect(settled).toEqual([0]);
    // All 49 are written as one group and wait on one more sync.
    const secondSync = await before(syncs.next(1), { "the second group was acknowledged without a sync": Promise.all(more) });
    await turn();
    expect(settled).toEqual([0]);
    secondSync.resolve();
    await Promise.all(more);
    expect(syncs.calls).toHaveLength(2);
    expect(settled).toHaveLength(50);
    expect((await loadAll(store)).length).toBe(1 + 49 * 2);
  });

  test("with sync never, no sync is made at all", async () => {
    const { store, syncs } = await openHeldStore("never");
    await Promise.all(Array.from({ length: 10 }, (_, i) => storeAll(store, [bet({ document: String(i) })])));
    expect(syncs.calls).toHaveLength(0);
  });
});

test("a failed sync stops the store for good and cuts the file back to the last whole group", async () => {
  let syncs = 0;
  const failing = async (_fd: number) => {
    if (++syncs === 2) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
  };
  const { store } = await openStore("always", undefined, undefined, failing);
  await storeAll(store, [bet({ document: "1" })]);
  const committed = readFileSync(path);

  await expect(storeAll(store, [bet({ document: "2" }), bet({ document: "3" })])).rejects.toBeInstanceOf(StorageFailedError);
  // The rows whose sync failed are gone from the file; nothing is written or acknowledged any more.
  expect(readFileSync(path).equals(committed)).toBe(true);
  await expect(storeAll(store, [bet({ document: "4" })])).rejects.toBeInstanceOf(StorageFailedError);
  await expect(store.recordEnd(1)).rejects.toBeInstanceOf(StorageFailedError);
  expect(readFileSync(path).equals(committed)).toBe(true);
  expect(syncs).toBe(2);
});
