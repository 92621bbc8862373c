import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/index.ts";
import { integer, loadConfig, logLevel, nonEmpty, oneOf } from "../config.ts";
import { loadTls, tlsSettings } from "../tls.ts";

const tls = tlsSettings("SERVER", "ini");

/** The central's settings file (the course's), relative to the working directory; CENTRAL_CONFIG names another. */
export const CENTRAL_CONFIG_FILE = "server/config.ini";

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

/** A host name or address to listen on (a name is resolved when the central starts listening). */
function listenHost(text: string): string {
  const host = nonEmpty(text).trim();
  if (/[\s/]/.test(host)) throw new Error("must be a host name or an IP address");
  return host;
}

/**
 * The central's settings. In server/config.ini (section [DEFAULT]) each key is the name of the variable
 * that overrides it, as in the course's file: SERVER_PORT, SERVER_IP, SERVER_LISTEN_BACKLOG, LOGGING_LEVEL.
 */
const centralSettings = {
  port: { key: "SERVER_PORT", env: "SERVER_PORT", fallback: 12345, read: integer(0, 65535) },
  // Where the bets port listens: 0.0.0.0 is every interface; the course's file names the central's own
  // host (`server`), which in compose resolves to its address on the project's network.
  host: { key: "SERVER_IP", env: "SERVER_IP", fallback: "0.0.0.0", read: listenHost },
  // Kept from the statement's configuration; see the README: Bun.listen takes no backlog argument.
  listenBacklog: { key: "SERVER_LISTEN_BACKLOG", env: "SERVER_LISTEN_BACKLOG", fallback: 512, read: integer(1, 65535) },
  maxConnections: { key: "SERVER_MAX_CONNECTIONS", env: "SERVER_MAX_CONNECTIONS", fallback: 1024, read: integer(1, 1_000_000) },
  maxFrameBytes: {
    key: "SERVER_MAX_FRAME_BYTES",
    env: "SERVER_MAX_FRAME_BYTES",
    fallback: DEFAULT_MAX_FRAME_BYTES,
    // Hello, END, a query and the health check's echo fit in 64 bytes; a bets frame needs up to 8 KiB.
    read: integer(64, 16 * 1024 * 1024),
  },
  idleTimeoutSeconds: { key: "SERVER_IDLE_TIMEOUT_SECONDS", env: "SERVER_IDLE_TIMEOUT_SECONDS", fallback: 30, read: integer(0, 86_400) },
  shutdownGraceSeconds: { key: "SERVER_SHUTDOWN_GRACE_SECONDS", env: "SERVER_SHUTDOWN_GRACE_SECONDS", fallback: 5, read: integer(0, 600) },
  // Metrics, health and the status page (lib/operations/); 9464 is the port commonly given to an exporter.
  httpPort: { key: "SERVER_HTTP_PORT", env: "SERVER_HTTP_PORT", fallback: 9464 as number | "off", read: httpPort },
  loggingLevel: { key: "LOGGING_LEVEL", env: "LOGGING_LEVEL", fallback: "INFO" as const, read: logLevel },
  agencies: { key: "LOTTERY_AGENCIES", env: "LOTTERY_AGENCIES", fallback: 5, read: integer(0, 100_000) },
  storagePath: { key: "STORAGE_FILEPATH", env: "STORAGE_FILEPATH", fallback: "./bets.csv", read: nonEmpty },
  storageSync: { key: "STORAGE_SYNC", env: "STORAGE_SYNC", fallback: "always" as const, read: oneOf("always", "never") },
  ...tls,
};

export type CentralConfig = Awaited<ReturnType<typeof loadCentralConfig>>;

export async function loadCentralConfig(env: Record<string, string | undefined> = process.env) {
  const config = await loadConfig(centralSettings, { path: env.CENTRAL_CONFIG, fallbackPath: CENTRAL_CONFIG_FILE, env });
  return { ...config, tls: await loadTls(tls, config) };
}
