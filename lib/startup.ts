/** A process that cannot start says why on stderr, in one line, and exits non-zero. */
export function exitOnStartupError(error: unknown): never {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${process.argv[1]?.split("/").pop() ?? "lottery"}: cannot start: ${message}\n`);
  process.exit(1);
}
