import { closeSync, fdatasync, fsyncSync, ftruncateSync, openSync } from "node:fs";
import { dirname } from "node:path";
import type { FileSink } from "bun";
import { BET_RANGES, BetField, type Bet } from "../bet/bet.ts";
import type { BetBlock } from "../bet/bet-block.ts";
import { type CsvRecord, recordFields } from "./csv-record.ts";
import { CsvParser } from "./csv-reader.ts";
import { CsvWriter } from "./csv-writer.ts";
import { PromiseLock } from "./lock.ts";
import { StorageLock } from "./file-lock.ts";

/** fdatasync on the thread pool (node:util's promisify would cost the central 1.5 MB of RSS to load). */
function syncData(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

export type SyncMode = "always" | "never";

/** What the start-up scan found. */
export interface Recovery {
  bets: number;
  /** Bytes of an unfinished last row, cut off the file. */
  cutBytes: number;
  /** Agencies whose END notice is on disk. */
  ended: number[];
}

/** How many fields are stored as they came, between the agency and the number: all of them before the number. */
const TEXT_FIELD_COUNT = BetField.Number;
/** Where the number's range starts in a bet's field ranges. */
const NUMBER_START = 2 * BetField.Number;

/**
 * Validated bets of one agency, stored together. The store reads their bytes within storeBets only:
 * they may be a view of a frame that is gone by the time the batch is committed (see onCommit).
 */
export interface StoredBatch {
  agency: number;
  bets: BetBlock;
}

interface PendingBatch<B> {
  batch: B;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface PendingEnd {
  agency: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A write or sync of the storage failed (EIO, ENOSPC...). The store stops for good: after a failed sync
 * the kernel may have dropped the data while marking its pages clean, so no later write can be trusted
 * to land behind it. The central stops too; a restart recovers from what is on disk.
 */
export class StorageFailedError extends Error {
  override readonly name = "StorageFailedError";
}

/** Storage that is not ours to repair: a row that is whole but not a bet. */
export class CorruptStorageError extends Error {
  override readonly name = "CorruptStorageError";
}

function rowToBet(record: CsvRecord, path: string): Bet {
  const fields = record.error ? undefined : recordFields(record);
  if (!fields || fields.length !== 6 || !/^\d+$/.test(fields[0]!) || !/^\d+$/.test(fields[5]!)) {
    throw new CorruptStorageError(`${path}:${record.line}: not a stored bet (${record.error ?? "wrong fields"})`);
  }
  return {
    agency: Number(fields[0]),
    firstName: fields[1]!,
    lastName: fields[2]!,
    document: fields[3]!,
    birthdate: fields[4]!,
    number: Number(fields[5]),
  };
}

/**
 * The bets file, appended to under a promise-chain lock with group commit: batches that arrive while a
 * write and sync are running are written and synced together next, and each caller's promise settles
 * only once its rows are on disk. Rows are the CSV the statement's store_bets writes
 * (agency,first_name,last_name,document,birthdate,number, as Python's csv module quotes them), built
 * from the bets' bytes as they are handed over, into the next group's buffer: the bytes need not
 * outlive the call (the central passes views of what it received). END notices go into a file of
 * their own beside it, grouped the same way, each group written after every batch queued before it.
 */
export class BetStore<B extends StoredBatch = StoredBatch> {
  private readonly lock = new PromiseLock();
  private pending: PendingBatch<B>[] = [];
  /** Rows of the batches waiting for the next group. */
  private filling = new CsvWriter();
  /** Rows of the group being written: the two buffers swap at each group. */
  private writing = new CsvWriter();
  private flushQueued = false;
  /**
   * END notices that later ones may still join: one write and sync for all of them, queued behind the
   * batches queued before the first. Closed once a batch is queued after it, so that no END is written
   * ahead of a batch queued before it.
   */
  private openEnds: PendingEnd[] | undefined;
  private betsFd = -1;
  private betsSink: FileSink | undefined;
  private endsFd = -1;
  private endsSink: FileSink | undefined;
  /** Length of the bets file up to the last group that was written and synced whole. */
  private committedBytes = 0;
  private failure: StorageFailedError | undefined;
  /** Held from open() to close(): a second central on the same file stops at open(). */
  private storageLock: StorageLock | undefined;

  constructor(
    readonly path: string,
    private readonly sync: SyncMode = "always",
    /** Called for each batch once it is durable, before its caller hears of it. */
    private readonly onCommit: (batch: B) => void = () => {},
    /** How a file's data is made durable; replaceable so that tests can watch and delay syncs. */
    private readonly syncFile: (fd: number) => Promise<void> = syncData,
    /** Told how long each group's write and sync took, in seconds (the central's metrics). */
    private readonly groupTimes?: { observe(seconds: number): void },
  ) {}

  get endsPath(): string {
    return `${this.path}.ends`;
  }

  /**
   * Locks the storage (StorageLockedError if another central holds it), then opens the files for
   * appending after a scan that hands every stored bet to `onBet` (in file order) and cuts off an
   * unfinished last row or END line left by a crash.
   */
  async open(onBet: (bet: Bet) => void = () => {}): Promise<Recovery> {
    // Before the scan: the scan cuts the file, which is not this central's to cut while another writes it.
    this.storageLock = StorageLock.acquire(this.path);
    try {
      return await this.recover(onBet);
    } catch (error) {
      this.storageLock.release();
      throw error;
    }
  }

  private async recover(onBet: (bet: Bet) => void): Promise<Recovery> {
    let bets = 0;
    const scan = { size: 0, consumed: 0 };
    for await (const chunk of this.scanBets(scan)) {
      for (const bet of chunk) onBet(bet);
      bets += chunk.length;
    }
    const cutBytes = scan.size - scan.consumed;
    this.betsFd = openSync(this.path, "a");
    if (cutBytes > 0) ftruncateSync(this.betsFd, scan.consumed);
    this.committedBytes = scan.consumed;
    this.betsSink = Bun.file(this.betsFd).writer();

    const ended = await this.readEnds();
    this.endsFd = openSync(this.endsPath, "a");
    if (ended.size < Bun.file(this.endsPath).size) ftruncateSync(this.endsFd, ended.size);
    this.endsSink = Bun.file(this.endsFd).writer();
    if (this.sync === "always") {
      // The cuts, and the files themselves when they were just created, must survive a power cut too.
      for (const fd of [this.betsFd, this.endsFd]) fsyncSync(fd);
      syncDirectory(dirname(this.path));
    }
    return { bets, cutBytes, ended: ended.agencies };
  }

  /** Appends the bets as one group; resolves once they are written (and synced, unless sync is "never"). */
  storeBets(batch: B): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.betsSink) return Promise.reject(new Error("store is not open"));
    const before = this.filling.length;
    try {
      this.formatRows(batch);
    } catch (error) {
      // Rows of a batch that cannot be formatted whole must not reach the next group.
      this.filling.rewind(before);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        this.openEnds = undefined;
        void this.lock.run(() => this.flushGroup());
      }
    });
  }

  /** Records durably that an agency sent all its bets, after every batch queued before it. */
  recordEnd(agency: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      let group = this.openEnds;
      if (!group) {
        const opened: PendingEnd[] = (group = this.openEnds = []);
        void this.lock.run(() => this.flushEnds(opened));
      }
      group.push({ agency, resolve, reject });
    });
  }

  /** Resolves once every write queued so far has finished. */
  idle(): Promise<void> {
    return this.lock.idle();
  }

  /** Streams the stored bets back in file order; memory stays flat whatever the file's size. */
  async *loadBets(): AsyncGenerator<Bet> {
    for await (const chunk of this.scanBets({ size: 0, consumed: 0 })) yield* chunk;
  }

  async close(): Promise<void> {
    // A task of the lock: writes queued before it finish first; any asked for later find the store closed.
    await this.lock.run(async () => {
      const sinks = [this.betsSink, this.endsSink];
      this.betsSink = this.endsSink = undefined;
      for (const sink of sinks) await sink?.end();
      for (const fd of [this.betsFd, this.endsFd]) if (fd >= 0) closeSync(fd);
      this.betsFd = this.endsFd = -1;
      this.storageLock?.release();
    });
  }

  private async flushGroup(): Promise<void> {
    this.flushQueued = false;
    const group = this.pending;
    this.pending = [];
    // One write for the whole group; its buffer is not written to again before the next group.
    const rows = this.filling.take();
    [this.filling, this.writing] = [this.writing, this.filling];
    try {
      const started = performance.now();
      await this.append(this.betsSink, this.betsFd, rows);
      this.groupTimes?.observe((performance.now() - started) / 1000);
      this.committedBytes += rows.length;
    } catch (error) {
      for (const batch of group) batch.reject(error);
      return;
    }
    for (const pending of group) {
      this.onCommit(pending.batch);
      pending.resolve();
    }
  }

  private async flushEnds(group: PendingEnd[]): Promise<void> {
    if (this.openEnds === group) this.openEnds = undefined;
    try {
      await this.append(this.endsSink, this.endsFd, group.map((end) => `${end.agency}\n`).join(""));
    } catch (error) {
      for (const end of group) end.reject(error);
      return;
    }
    for (const end of group) end.resolve();
  }

  private formatRows(batch: B): void {
    const rows = this.filling;
    const { count, fieldRanges: ranges, bytesOfFields: bytes } = batch.bets;
    for (let i = 0, base = 0; i < count; i++, base += BET_RANGES) {
      rows.integer(batch.agency).fields(bytes, ranges, base + 2 * BetField.FirstName, TEXT_FIELD_COUNT);
      // The number as a number: "0042" is stored as 42, as the statement's Bet does (its digits were checked).
      rows.digits(bytes, ranges[base + NUMBER_START]!, ranges[base + NUMBER_START + 1]!).endRow();
    }
  }

  /**
   * Writes at the end of a file and, unless sync is "never", waits until it is on disk. Refused once the
   * store has failed or before it is open; a failure here stops the store for good (see fail).
   */
  private async append(sink: FileSink | undefined, fd: number, data: string | Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    if (!sink) throw new Error("store is not open");
    try {
      const written = sink.write(data);
      if (typeof written !== "number") await written;
      await sink.flush();
      if (this.sync === "always") await this.syncFile(fd);
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Stops the store for good and cuts the bets file back to its last whole group. */
  private fail(error: unknown): StorageFailedError {
    this.failure ??= new StorageFailedError(`storage ${this.path} failed: ${(error as Error).message ?? error}`);
    try {
      ftruncateSync(this.betsFd, this.committedBytes);
    } catch {
      // Recovery at the next start cuts a torn last row all the same.
    }
    return this.failure;
  }

  /**
   * Parses the file chunk by chunk, yielding the bets of each chunk's whole rows. Trailing bytes
   * without a row terminator (a write cut short) are not rows: `scan` ends up with the file's size and
   * the offset just past its last whole row.
   */
  private async *scanBets(scan: { size: number; consumed: number }): AsyncGenerator<Bet[]> {
    const file = Bun.file(this.path);
    if (!(await file.exists())) return;
    const parser = new CsvParser();
    for await (const chunk of file.stream()) {
      scan.size += chunk.length;
      const bets: Bet[] = [];
      parser.push(chunk, (record) => bets.push(rowToBet(record, this.path)));
      if (bets.length > 0) yield bets;
    }
    scan.consumed = parser.consumed;
  }

  private async readEnds(): Promise<{ agencies: number[]; size: number }> {
    const file = Bun.file(this.endsPath);
    if (!(await file.exists())) return { agencies: [], size: 0 };
    const text = await file.text();
    // Only whole lines count: a crash can leave the last one unfinished.
    const whole = text.slice(0, text.lastIndexOf("\n") + 1);
    const agencies = whole.split("\n").filter((line) => /^\d+$/.test(line)).map(Number);
    return { agencies, size: Buffer.byteLength(whole) };
  }
}

function syncDirectory(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
