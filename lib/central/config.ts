import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/index.ts";
import { integer, loadConfig, logLevel, nonEmpty, oneOf } from "../config.ts";
import { loadTls, tlsSettings } from "../tls/config.ts";

const tls = tlsSettings("SERVER");

const httpPortNumber = integer(0, 65535);
/** The HTTP side's port: a number (0 picks a free one) or "off". */
function httpPort(text: string): number | "off" {
  if (text.trim().toLowerCase() === "off") return "off";
  try {
    return httpPortNumber(text);
  } catch {
    throw new Error("must be off or an integer from 0 to 65535");
  }
}

/** The central's settings: file key, overriding variable, default. */
export const centralSettings = {
  port: { key: "server.port", env: "SERVER_PORT", fallback: 12345, read: integer(0, 65535) },
  // Kept from the statement's configuration; see the README: Bun.listen takes no backlog argument.
  listenBacklog: { key: "server.listen_backlog", env: "SERVER_LISTEN_BACKLOG", fallback: 512, read: integer(1, 65535) },
  maxConnections: { key: "server.max_connections", env: "SERVER_MAX_CONNECTIONS", fallback: 1024, read: integer(1, 1_000_000) },
  maxFrameBytes: {
    key: "server.max_frame_bytes",
    env: "SERVER_MAX_FRAME_BYTES",
    fallback: DEFAULT_MAX_FRAME_BYTES,
    // Hello, END, a query and the health check's echo fit in 64 bytes; a bets frame needs up to 8 KiB.
    read: integer(64, 16 * 1024 * 1024),
  },
  idleTimeoutSeconds: { key: "server.idle_timeout_seconds", env: "SERVER_IDLE_TIMEOUT_SECONDS", fallback: 30, read: integer(0, 86_400) },
  shutdownGraceSeconds: { key: "server.shutdown_grace_seconds", env: "SERVER_SHUTDOWN_GRACE_SECONDS", fallback: 5, read: integer(0, 600) },
  // Metrics, health and the status page (lib/http/); 9464 is the port commonly given to an exporter.
  httpPort: { key: "http.port", env: "SERVER_HTTP_PORT", fallback: 9464 as number | "off", read: httpPort },
  loggingLevel: { key: "logging.level", env: "LOGGING_LEVEL", fallback: "INFO" as const, read: logLevel },
  agencies: { key: "lottery.agencies", env: "LOTTERY_AGENCIES", fallback: 5, read: integer(0, 100_000) },
  storagePath: { key: "storage.filepath", env: "STORAGE_FILEPATH", fallback: "./bets.csv", read: nonEmpty },
  storageSync: { key: "storage.sync", env: "STORAGE_SYNC", fallback: "always" as const, read: oneOf("always", "never") },
  ...tls,
};

export type CentralConfig = Awaited<ReturnType<typeof loadCentralConfig>>;

export async function loadCentralConfig(env: Record<string, string | undefined> = process.env) {
  const config = await loadConfig(centralSettings, { path: env.CENTRAL_CONFIG, fallbackPath: "config/central.yaml", env });
  return { ...config, tls: await loadTls(tls, config) };
}
