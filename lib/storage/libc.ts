import { dlopen, type Library, type Symbols } from "bun:ffi";

// What Bun does not offer (flock, for one) is called in the C library through bun:ffi, on Linux only
// (the lock reads errno through glibc's and musl's __errno_location). Its file name differs: glibc's on
// Debian (and in the project's image, whose libraries are copied from the host's bun), musl's on Alpine.
const NAMES = ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`];

/** The C library's functions named in `symbols`; throws, naming the files tried, when none loads. */
export function openLibc<S extends Symbols>(symbols: S): Library<S> {
  const errors: string[] = [];
  for (const name of NAMES) {
    try {
      return dlopen(name, symbols);
    } catch (error) {
      errors.push(`${name}: ${(error as Error).message}`);
    }
  }
  throw new Error(`cannot load the C library (${errors.join("; ")})`);
}
