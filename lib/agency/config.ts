import type { BetFields } from "../bet/bet.ts";
import { integer, loadConfig, logLevel, nonEmpty, address, ConfigError, duration } from "../config.ts";
import { loadTls, tlsSettings } from "../tls.ts";

const TLS_SETTINGS = tlsSettings("CLI", "yaml");

/** The agency's settings file (the course's), relative to the working directory; AGENCY_CONFIG names another. */
export const AGENCY_CONFIG_FILE = "client/config.yaml";

// Exercise 5: a single bet given by these variables instead of a file.
const SINGLE_BET_ENV = { firstName: "NOMBRE", lastName: "APELLIDO", document: "DOCUMENTO", birthdate: "NACIMIENTO", number: "NUMERO" } as const;

/** The agency's settings, with the TP0 client's variable names (CLI_ + key path). */
export const agencySettings = {
  id: { key: "id", env: "CLI_ID", fallback: 0, read: integer(1, 1_000_000) },
  serverAddress: { key: "server.address", env: "CLI_SERVER_ADDRESS", fallback: address("server:12345"), read: address },
  // The course's echo loop: this many messages before the bets (0: none).
  loopAmount: { key: "loop.amount", env: "CLI_LOOP_AMOUNT", fallback: 0, read: integer(0, 1_000_000) },
  // The pause between an answer and the agency's next message, a Go duration ("150ms"); 0: none, and the
  // batches are pipelined (README, The exercises: paced mode).
  loopPeriodMs: { key: "loop.period", env: "CLI_LOOP_PERIOD", fallback: 0, read: duration(3_600_000) },
  logLevel: { key: "log.level", env: "CLI_LOG_LEVEL", fallback: "INFO" as const, read: logLevel },
  // About 60 bytes a bet on the wire: 128 typical bets fill an 8 KiB frame.
  batchMaxAmount: { key: "batch.maxAmount", env: "CLI_BATCH_MAXAMOUNT", fallback: 128, read: integer(1, 100_000) },
  batchWindow: { key: "batch.window", env: "CLI_BATCH_WINDOW", fallback: 32, read: integer(1, 1024) },
  dataFile: { key: "data.file", env: "CLI_DATA_FILE", fallback: "", read: nonEmpty },
  reconnectTimeoutSeconds: {
    key: "reconnect.timeoutSeconds",
    env: "CLI_RECONNECT_TIMEOUTSECONDS",
    fallback: 30,
    read: integer(0, 86_400),
  },
  // All three for mutual TLS with the central, none for plain TCP.
  ...TLS_SETTINGS,
};

export type AgencyConfig = Awaited<ReturnType<typeof loadAgencyConfig>>;

export async function loadAgencyConfig(env: Record<string, string | undefined> = process.env) {
  const config = await loadConfig(agencySettings, { path: env.AGENCY_CONFIG, fallbackPath: AGENCY_CONFIG_FILE, env });
  if (config.id === 0) throw new ConfigError("agency id is not set (env CLI_ID or key id)");
  return {
    ...config,
    dataFile: config.dataFile || `.data/agency-${config.id}.csv`,
    singleBet: singleBetFrom(env),
    tls: await loadTls(TLS_SETTINGS, config),
  };
}

function singleBetFrom(env: Record<string, string | undefined>): BetFields | undefined {
  const names = Object.values(SINGLE_BET_ENV);
  const missing = names.filter((name) => env[name] === undefined);
  if (missing.length === names.length) return undefined;
  if (missing.length > 0) throw new ConfigError(`a single bet needs all of ${names.join(", ")}; missing ${missing.join(", ")}`);
  const value = (key: keyof typeof SINGLE_BET_ENV) => env[SINGLE_BET_ENV[key]]!;
  return {
    firstName: value("firstName"),
    lastName: value("lastName"),
    document: value("document"),
    birthdate: value("birthdate"),
    number: value("number"),
  };
}
