// An agency: reads its configuration, sends its bets to the central, reports its winners.
import { loadAgencyConfig } from "./lib/agency/config.ts";
import { AgencyClient, StoppedError } from "./lib/agency/client.ts";
import { Logger } from "./lib/log.ts";
import { exitOnStartupError } from "./lib/startup.ts";

/** Exit status when the run finished but some rows of the file were invalid and not sent. */
const EXIT_INVALID_ROWS = 3;

const config = await loadAgencyConfig().catch(exitOnStartupError);
const log = new Logger(config.logLevel);
log.info("config", "success", {
  id: config.id,
  server_address: `${config.serverAddress.host}:${config.serverAddress.port}`,
  log_level: config.logLevel,
  batch_max_amount: config.batchMaxAmount,
  batch_window: config.batchWindow,
  data_file: config.singleBet ? "none (single bet)" : config.dataFile,
  tls: config.tls ? "on" : "off",
});

const client = new AgencyClient(config, log);
let stopping: Promise<void> | undefined;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    stopping ??= client.stop(signal).then(() => {
      log.info("shutdown", "success", { signal });
      process.exit(0);
    });
  });
}

try {
  if (config.singleBet) {
    await client.sendSingle(config.singleBet);
    process.exit(0);
  }
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
