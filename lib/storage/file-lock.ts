// One central per storage file: an operating-system lock (flock) on a file beside it. The kernel drops
// the lock with the last descriptor of the process that holds it, however it ends (SIGKILL included),
// so a dead central never blocks the next one; and it does not go by PID, which in containers is 1 for
// every central. The holder writes its PID and host name into the file, for the message of the next.
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { FFIType, read } from "bun:ffi";
import { openLibc } from "./libc.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
/** flock's errno when another descriptor holds the lock (EAGAIN, the same number as EWOULDBLOCK on Linux). */
const EWOULDBLOCK = 11;

let libc: ReturnType<typeof loadLibc> | undefined;
function loadLibc() {
  return openLibc({
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    // glibc and musl both give errno through this function.
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

/** Another process holds the storage: this central must not touch it. */
export class StorageLockedError extends Error {
  override readonly name = "StorageLockedError";
}

/** The lock on a storage file, held until `release()` or the end of the process. */
export class StorageLock {
  private constructor(private fd: number) {}

  /** Takes the lock on `${storage}.lock` without waiting; StorageLockedError names the holder if it is taken. */
  static acquire(storage: string): StorageLock {
    const path = `${storage}.lock`;
    // Opened for appending, so that this open never truncates what the holder wrote.
    // The library first: a failure to load it leaves no descriptor open.
    libc ??= loadLibc();
    const fd = openSync(path, "a+", 0o644);
    if (libc.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const errno = read.i32(libc.__errno_location()!);
      closeSync(fd);
      if (errno !== EWOULDBLOCK) throw new Error(`cannot lock ${path}: flock failed with errno ${errno}`);
      throw new StorageLockedError(`storage ${storage} is in use by another central (${describeHolder(path)}; lock file ${path})`);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `pid ${process.pid} on host ${hostname()}\n`);
    return new StorageLock(fd);
  }

  /** Lets the next central in. The file stays: removing it could let two centrals lock two different files. */
  release(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

function describeHolder(path: string): string {
  try {
    // Written just after the holder locked: empty for an instant after that.
    return readFileSync(path, "utf8").trim() || "its PID not yet written";
  } catch {
    return "its PID unreadable";
  }
}
