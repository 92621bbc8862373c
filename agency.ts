// An agency: reads its configuration, echoes the course's loop, sends its bets to the central, reports its winners.
// Only the start-up helper is imported up front: stop signals are taken before the rest loads (see StopSignals).
import { exitOnStartupError, StopSignals } from "./lib/startup.ts";

const signals = new StopSignals();
const [{ loadAgencyConfig }, { AgencyClient, StoppedError }, { SingleBet }, { Logger }] = await Promise.all([
  import("./lib/agency/config.ts"),
  import("./lib/agency/client.ts"),
  import("./lib/agency/bet-source.ts"),
  import("./lib/log.ts"),
]);

/** Exit status when the run finished but some rows of the file were invalid and not sent. */
const EXIT_INVALID_ROWS = 3;

const config = await loadAgencyConfig().catch(exitOnStartupError);
const log = new Logger(config.logLevel);
// The course's keys first, as written in client/config.yaml (or its variables): "150ms" stays "150ms".
const { written } = config;
log.info("config", "success", {
  client_id: config.id,
  server_address: written.serverAddress ?? `${config.serverAddress.host}:${config.serverAddress.port}`,
  loop_amount: written.loopAmount ?? config.loopAmount,
  loop_period: written.loopPeriodMs ?? `${config.loopPeriodMs}ms`,
  log_level: written.logLevel ?? config.logLevel,
  batch_max_amount: config.batchMaxAmount,
  batch_window: config.batchWindow,
  data_file: config.singleBet ? SingleBet.NAME : config.dataFile,
  tls: config.tls ? "on" : "off",
});

const client = new AgencyClient(config, log);
let stopping: Promise<void> | undefined;
signals.handle((signal) => {
  stopping ??= client.stop(signal).then(() => {
    log.info("shutdown", "success", { signal });
    process.exit(0);
  });
});

try {
  const outcome = await client.run();
  if (outcome.invalidRows > 0) {
    process.stderr.write(`agency ${config.id}: ${outcome.invalidRows} invalid rows in ${config.dataFile} were not sent\n`);
    process.exit(EXIT_INVALID_ROWS);
  }
  process.exit(0);
} catch (error) {
  if (error instanceof StoppedError || stopping) await stopping;
  else {
    log.error("agencia", "fail", { error: (error as Error).message });
    process.stderr.write(`agency ${config.id}: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
