// A stand-in for the store's fdatasync that the test releases by hand: while a sync is held, nothing
// behind it is durable, so a test can assert what must not happen before durability (an OK, an END
// on disk, a welcome, the draw) without racing the disk.
import { expect } from "bun:test";

export interface HeldSyncs {
  /** Pass as the store's (or CentralServer.start's) syncFile. */
  sync: (fd: number) => Promise<void>;
  /** Every sync asked for so far, in order; resolve or reject one to release it. */
  calls: PromiseWithResolvers<void>[];
  /** The sync at `index` (0 = the first asked for), once it has been asked for. */
  next: (index: number) => Promise<PromiseWithResolvers<void>>;
  /** Releases every sync asked for so far, and lets every later one through at once. */
  releaseAll: () => void;
}

export function heldSyncs(): HeldSyncs {
  const calls: PromiseWithResolvers<void>[] = [];
  const waiting = new Map<number, ((call: PromiseWithResolvers<void>) => void)[]>();
  let passing = false;
  const sync = (_fd: number) => {
    const call = Promise.withResolvers<void>();
    calls.push(call);
    for (const resolve of waiting.get(calls.length - 1) ?? []) resolve(call);
    waiting.delete(calls.length - 1);
    if (passing) call.resolve();
    return call.promise;
  };
  const next = (index: number) =>
    calls[index]
      ? Promise.resolve(calls[index]!)
      : new Promise<PromiseWithResolvers<void>>((resolve) => waiting.set(index, [...(waiting.get(index) ?? []), resolve]));
  const releaseAll = () => {
    passing = true;
    for (const call of calls) call.resolve();
  };
  return { sync, calls, next, releaseAll };
}

/**
 * `awaited`'s value, unless one of `failures` settles first: then the test fails at once, naming it,
 * rather than by its timeout (a sync that never comes because the store skipped it, say).
 */
export async function before<T>(awaited: Promise<T>, failures: Record<string, Promise<unknown>>): Promise<T> {
  const outcome = await Promise.race([
    awaited.then((value) => ({ value })),
    ...Object.entries(failures).map(([failure, settled]) => settled.then(() => ({ failure }))),
  ]);
  if ("failure" in outcome) return expect.unreachable(`${outcome.failure}, before what the test waited for`);
  return outcome.value;
}
