// The central: reads its configuration, recovers its storage, serves agencies until SIGTERM/SIGINT.
// Only the start-up helper is imported up front: stop signals are taken before the rest loads (see StopSignals).
import { exitOnStartupError, StopSignals } from "./lib/startup.ts";

const signals = new StopSignals();
const [{ loadCentralConfig }, { CentralServer }, { HttpServer }, { Logger }] = await Promise.all([
  import("./lib/central/config.ts"),
  import("./lib/central/server.ts"),
  import("./lib/operations/http-server.ts"),
  import("./lib/log.ts"),
]);

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

// A failed storage stops the central (fail-stop): it exits non-zero and a restart recovers from disk.
const server = await CentralServer.start(config, log, () => process.exit(1)).catch(exitOnStartupError);
// Metrics, health and the status page: they only read the server's state, and end with the process.
if (config.httpPort !== "off") {
  try {
    HttpServer.start(server.state, config.httpPort, log);
  } catch (error) {
    exitOnStartupError(new Error(`SERVER_HTTP_PORT ${config.httpPort}: ${(error as Error).message}`));
  }
}
// A stop asked for while the storage was recovered is carried out now that the server is up.
signals.handle((signal) => {
  server.shutdown(signal).then(
    () => process.exit(0),
    (error) => {
      log.error("shutdown", "fail", { signal, error: String(error) });
      process.exit(1);
    },
  );
});
