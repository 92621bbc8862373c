// The central: reads its configuration, recovers its storage, serves agencies until SIGTERM/SIGINT.
import { loadCentralConfig } from "./lib/central/config.ts";
import { CentralServer } from "./lib/central/server.ts";
import { HttpServer } from "./lib/http/server.ts";
import { Logger } from "./lib/log.ts";
import { exitOnStartupError } from "./lib/startup.ts";

const config = await loadCentralConfig().catch(exitOnStartupError);
const log = new Logger(config.loggingLevel);
// The course's keys first, as written in server/config.ini (or its variables); then the rest.
const { written } = config;
log.info("config", "success", {
  port: written.port ?? config.port,
  listen_backlog: written.listenBacklog ?? config.listenBacklog,
  logging_level: written.loggingLevel ?? config.loggingLevel,
  ip: written.host ?? config.host,
  agencies: config.agencies,
  storage: config.storagePath,
  tls: config.tls ? "on" : "off",
});
log.info("config_limits", "success", {
  file: config.source,
  sync: config.storageSync,
  max_connections: config.maxConnections,
  max_frame_bytes: config.maxFrameBytes,
  idle_timeout_seconds: config.idleTimeoutSeconds,
});

// Installed before start-up: a stop asked for while the storage is recovered (or just after the listen
// line) is carried out once the server is up, instead of killing the process with the default action.
let server: CentralServer | undefined;
let stopSignal: string | undefined;
function stop(signal: string): void {
  server!.shutdown(signal).then(
    () => process.exit(0),
    (error) => {
      log.error("shutdown", "fail", { signal, error: String(error) });
      process.exit(1);
    },
  );
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (server) stop(signal);
    else stopSignal ??= signal;
  });
}

// A failed storage stops the central (fail-stop): it exits non-zero and a restart recovers from disk.
server = await CentralServer.start(config, log, () => process.exit(1)).catch(exitOnStartupError);
// Metrics, health and the status page: they only read the server's state, and end with the process.
if (config.httpPort !== "off") {
  try {
    HttpServer.start(server.state, config.httpPort, log);
  } catch (error) {
    exitOnStartupError(new Error(`http.port ${config.httpPort} (SERVER_HTTP_PORT): ${(error as Error).message}`));
  }
}
if (stopSignal) stop(stopSignal);
