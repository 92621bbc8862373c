// The central in this test's process, over real sockets, through its public surface only
// (CentralServer.start, port, shutdown): for tests that hold or fail its storage's syncs. And an agency
// in the test's process, for tests that give it a resolver of their own.
import { join } from "node:path";
import { AgencyClient } from "../../lib/agency/client.ts";
import { loadAgencyConfig } from "../../lib/agency/config.ts";
import { loadCentralConfig } from "../../lib/central/config.ts";
import { CentralServer } from "../../lib/central/server.ts";
import { Logger, type LogLevel } from "../../lib/log.ts";
import type { HeldSyncs } from "./held-sync.ts";
import type { Scope } from "./system.ts";

export interface InProcessCentral {
  server: CentralServer;
  storage: string;
  /** Every log line so far, in order. */
  lines: string[];
  /** Resolves with what the central passed to onFatal (its storage failed). */
  fatal: Promise<Error>;
  /** Resolves with the `count`-th line matching `pattern` (counting every line since the start). */
  line: (pattern: RegExp, count?: number) => Promise<string>;
  /** How many lines so far match `pattern`. */
  count: (pattern: RegExp) => number;
}

/**
 * Starts a central on an ephemeral port with its storage in a scratch directory of `scope`. At the
 * scope's cleanup the held syncs, if any, are released and the central is shut down.
 */
export async function startInProcess(
  scope: Scope,
  env: Record<string, string> = {},
  options: { syncs?: HeldSyncs; syncFile?: (fd: number) => Promise<void>; level?: "DEBUG" | "INFO" } = {},
): Promise<InProcessCentral> {
  const storage = join(scope.dir("lottery-inprocess-"), "bets.csv");
  const config = await loadCentralConfig({ SERVER_IP: "127.0.0.1", SERVER_PORT: "0", LOTTERY_AGENCIES: "1", STORAGE_FILEPATH: storage, ...env });
  const lines: string[] = [];
  const watchers = new Set<() => void>();
  const fatal = Promise.withResolvers<Error>();
  const log = new Logger(options.level ?? "INFO", (line) => {
    lines.push(line);
    for (const watch of watchers) watch();
  });
  const server = await CentralServer.start(config, log, fatal.resolve, options.syncs?.sync ?? options.syncFile);
  scope.defer(async () => {
    options.syncs?.releaseAll();
    await server.shutdown("SIGTERM").catch(() => undefined);
  });
  const count = (pattern: RegExp) => lines.filter((text) => pattern.test(text)).length;
  const line = (pattern: RegExp, wanted = 1) =>
    new Promise<string>((resolve) => {
      const check = () => {
        const found = lines.filter((text) => pattern.test(text));
        if (found.length < wanted) return false;
        watchers.delete(watch);
        resolve(found[wanted - 1]!);
        return true;
      };
      const watch = () => void check();
      if (!check()) watchers.add(watch);
    });
  return { server, storage, lines, fatal: fatal.promise, line, count };
}

/** An agency run in this process with `resolve` as its name lookup; `lines` are its log lines, `stop` is its SIGTERM. */
export async function inProcessAgency(env: Record<string, string>, resolve: (host: string) => Promise<string[]>, level: LogLevel = "INFO") {
  const lines: string[] = [];
  const client = new AgencyClient(await loadAgencyConfig(env), new Logger(level, (line) => lines.push(line)), resolve);
  return { run: () => client.run(), stop: (signal: string) => client.stop(signal), lines };
}
