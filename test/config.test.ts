// Configuration: defaults, file values (the central's INI, the agency's YAML: the course's files),
// environment overrides, and start-up refusals that name the offending key and variable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENCY_CONFIG_FILE, loadAgencyConfig } from "../lib/agency/config.ts";
import { CENTRAL_CONFIG_FILE, loadCentralConfig } from "../lib/central/config.ts";
import { isIP } from "node:net";
import { address, ConfigError, duration, integer, isIpAddress, loadConfig } from "../lib/config.ts";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lottery-config-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes a settings file into the scratch directory and returns its path. */
function configFile(text: string, extension: "yaml" | "ini"): string {
  const path = join(dir, `config-${++files}.${extension}`);
  writeFileSync(path, text);
  return path;
}
const yamlFile = (text: string) => configFile(text, "yaml");
const iniFile = (text: string) => configFile(text, "ini");

/** The ConfigError a load rejects with; fails the test if it loads. */
async function refusal(load: Promise<unknown>): Promise<string> {
  const error = await load.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

/** What the course's harness writes, with open(path, "w"), before each of its tests (tp0-tests utils/config.py). */
const courseServerIni = (level = "INFO", backlog = 5) =>
  `[DEFAULT]\nSERVER_PORT = 12345\nSERVER_IP = server\nSERVER_LISTEN_BACKLOG = ${backlog}\nLOGGING_LEVEL = ${level}`;
const courseClientYaml = (amount = 3, period = "50ms", level = "INFO", maxAmount = 10) =>
  `server:\n  address: "server:12345"\nloop:\n  amount: ${amount}\n  period: "${period}"\nlog:\n  level: "${level}"\nbatch:\n  maxAmount: ${maxAmount}\n`;

describe("central configuration (server/config.ini)", () => {
  test("defaults when the file sets nothing", async () => {
    const config = await loadCentralConfig({ CENTRAL_CONFIG: iniFile("") });
    expect(config).toMatchObject({
      port: 12345,
      host: "0.0.0.0",
      loggingLevel: "INFO",
      agencies: 5,
      storagePath: "./bets.csv",
      storageSync: "always",
      maxFrameBytes: 64 * 1024,
    });
  });

  test("the committed server/config.ini holds the documented defaults, and is the file read by default", async () => {
    const committed = join(import.meta.dir, "..", "server", "config.ini");
    const config = await loadCentralConfig({ CENTRAL_CONFIG: committed });
    expect(config).toMatchObject({ port: 12345, host: "0.0.0.0", loggingLevel: "INFO", agencies: 5, storagePath: "./bets.csv", httpPort: 9464 });
    expect(CENTRAL_CONFIG_FILE).toBe("server/config.ini");
  });

  test("the course's file is read whole: its four keys are known, SERVER_IP included, and the rest default", async () => {
    const path = iniFile(courseServerIni("DEBUG", 8));
    const config = await loadCentralConfig({ CENTRAL_CONFIG: path });
    expect(config).toMatchObject({ port: 12345, host: "server", listenBacklog: 8, loggingLevel: "DEBUG", agencies: 5, source: path });
    // As written, for the config line (the course compares its values as text).
    expect(config.written).toEqual({ port: "12345", host: "server", listenBacklog: "8", loggingLevel: "DEBUG" });
  });

  test("every other setting lives in the same [DEFAULT] section, under its variable's name", async () => {
    const path = iniFile(
      "[DEFAULT]\nSERVER_PORT = 4000\nLOGGING_LEVEL = debug\nLOTTERY_AGENCIES = 3\nSTORAGE_FILEPATH = /data/bets.csv\n" +
        "STORAGE_SYNC = never\nSERVER_MAX_CONNECTIONS = 9\nSERVER_HTTP_PORT = off\nSERVER_IDLE_TIMEOUT_SECONDS = 0\n",
    );
    expect(await loadCentralConfig({ CENTRAL_CONFIG: path })).toMatchObject({
      port: 4000,
      loggingLevel: "DEBUG",
      agencies: 3,
      storagePath: "/data/bets.csv",
      storageSync: "never",
      maxConnections: 9,
      httpPort: "off",
      idleTimeoutSeconds: 0,
    });
  });

  test("keys before any section count as [DEFAULT]; comments are skipped", async () => {
    const config = await loadCentralConfig({ CENTRAL_CONFIG: iniFile("; the port\nSERVER_PORT = 4100\n# a note\n[DEFAULT]\nLOTTERY_AGENCIES = 2\n") });
    expect(config).toMatchObject({ port: 4100, agencies: 2 });
  });

  test("environment variables override the file", async () => {
    const path = iniFile("[DEFAULT]\nSERVER_PORT = 4000\nLOTTERY_AGENCIES = 3\nLOGGING_LEVEL = ERROR\n");
    const config = await loadCentralConfig({
      CENTRAL_CONFIG: path,
      SERVER_PORT: "5000",
      LOTTERY_AGENCIES: "7",
      STORAGE_FILEPATH: "other.csv",
      LOGGING_LEVEL: "warn",
    });
    expect(config).toMatchObject({ port: 5000, agencies: 7, storagePath: "other.csv", loggingLevel: "WARNING" });
    expect(config.written).toMatchObject({ port: "5000", loggingLevel: "warn" });
  });

  test("an empty variable does not override (compose files often leave them blank)", async () => {
    const config = await loadCentralConfig({ CENTRAL_CONFIG: iniFile("[DEFAULT]\nSERVER_PORT = 4000\n"), SERVER_PORT: "" });
    expect(config.port).toBe(4000);
  });

  test("a bad value from the environment names the variable and the value", async () => {
    const path = iniFile("");
    const message = await refusal(loadCentralConfig({ CENTRAL_CONFIG: path, SERVER_PORT: "abc" }));
    expect(message).toContain("SERVER_PORT");
    expect(message).toContain('"abc"');
    for (const [env, value] of [
      ["SERVER_PORT", "70000"],
      ["SERVER_PORT", "-1"],
      ["SERVER_PORT", "80.5"],
      ["SERVER_IP", "   "],
      ["SERVER_IP", "a host"],
      ["LOTTERY_AGENCIES", "many"],
      ["LOGGING_LEVEL", "LOUD"],
      ["STORAGE_FILEPATH", "   "],
      ["STORAGE_SYNC", "sometimes"],
      ["SERVER_MAX_FRAME_BYTES", "10"],
    ] as const) {
      const text = await refusal(loadCentralConfig({ CENTRAL_CONFIG: path, [env]: value }));
      expect({ env, named: text.includes(env) }).toEqual({ env, named: true });
    }
  });

  test("a bad value from the file names the key, the file and the value", async () => {
    const path = iniFile("[DEFAULT]\nSERVER_PORT = 70000\n");
    const message = await refusal(loadCentralConfig({ CENTRAL_CONFIG: path }));
    expect(message).toContain("SERVER_PORT");
    expect(message).toContain(path);
    expect(message).toContain("70000");
  });

  test("an unknown key is refused (a typo must not silently fall back to the default)", async () => {
    const path = iniFile("[DEFAULT]\nSERVER_PROT = 4000\n");
    const message = await refusal(loadCentralConfig({ CENTRAL_CONFIG: path }));
    expect(message).toContain("SERVER_PROT");
    expect(message).toContain(path);
  });

  test("a section other than [DEFAULT] is refused, naming it", async () => {
    const message = await refusal(loadCentralConfig({ CENTRAL_CONFIG: iniFile("[DEFAULT]\nSERVER_PORT = 1\n[server]\nport = 2\n") }));
    expect(message).toContain("[server]");
    expect(message).toContain("[DEFAULT]");
  });

  test("a named config file that does not exist is refused", async () => {
    const missing = join(dir, "missing.ini");
    expect(await refusal(loadCentralConfig({ CENTRAL_CONFIG: missing }))).toContain(missing);
  });
});

describe("loadConfig", () => {
  const settings = {
    size: { key: "batch.size", env: "TEST_BATCH_SIZE", fallback: 10, read: integer(1, 100) },
  };

  test("a missing default file means defaults only", async () => {
    const config = await loadConfig(settings, { fallbackPath: join(dir, "absent.yaml"), env: {} });
    expect(config.size).toBe(10);
  });

  test("the environment applies even without a file", async () => {
    const config = await loadConfig(settings, { fallbackPath: join(dir, "absent.yaml"), env: { TEST_BATCH_SIZE: " 42 " } });
    expect(config.size).toBe(42);
  });

  test("a YAML file that is not YAML, or not a mapping, is refused", async () => {
    const load = (text: string) => loadConfig(settings, { path: yamlFile(text), fallbackPath: "", env: {} });
    expect(await refusal(load("batch: [unclosed\n"))).toContain("not valid YAML");
    expect(await refusal(load("- a\n- b\n"))).toContain("mapping");
    expect(await refusal(load("batch: 4\n"))).toContain("unknown config key batch");
  });

  test("integer bounds are inclusive", async () => {
    const load = (value: string) => loadConfig(settings, { fallbackPath: join(dir, "absent.yaml"), env: { TEST_BATCH_SIZE: value } });
    expect((await load("1")).size).toBe(1);
    expect((await load("100")).size).toBe(100);
    expect(await refusal(load("0"))).toContain("must be an integer from 1 to 100");
    expect(await refusal(load("101"))).toContain("batch.size");
  });
});

describe("agency configuration", () => {
  const base = () => ({ AGENCY_CONFIG: yamlFile(""), CLI_ID: "3" });

  test("defaults, and the data file named after the agency", async () => {
    const config = await loadAgencyConfig(base());
    expect(config).toMatchObject({
      id: 3,
      serverAddress: { host: "server", port: 12345 },
      loopAmount: 0,
      loopPeriodMs: 0,
      logLevel: "INFO",
      batchMaxAmount: 128,
      dataFile: ".data/agency-3.csv",
      singleBet: undefined,
    });
  });

  test("the committed client/config.yaml holds the documented defaults, and is the file read by default", async () => {
    const committed = join(import.meta.dir, "..", "client", "config.yaml");
    const config = await loadAgencyConfig({ AGENCY_CONFIG: committed, CLI_ID: "1" });
    expect(config).toMatchObject({ serverAddress: { host: "server", port: 12345 }, loopAmount: 0, loopPeriodMs: 0, batchMaxAmount: 128, batchWindow: 32 });
    expect(AGENCY_CONFIG_FILE).toBe("client/config.yaml");
  });

  test("the course's file is read whole, and its values are kept as written", async () => {
    const config = await loadAgencyConfig({ AGENCY_CONFIG: yamlFile(courseClientYaml(500, "150ms", "DEBUG", 10)), CLI_ID: "1" });
    expect(config).toMatchObject({ loopAmount: 500, loopPeriodMs: 150, logLevel: "DEBUG", batchMaxAmount: 10 });
    expect(config.written).toEqual({ serverAddress: "server:12345", loopAmount: "500", loopPeriodMs: "150ms", logLevel: "DEBUG", batchMaxAmount: "10", id: "1" });
    const overridden = await loadAgencyConfig({ AGENCY_CONFIG: yamlFile(courseClientYaml()), CLI_ID: "1", CLI_LOOP_AMOUNT: "2", CLI_LOOP_PERIOD: "1m30s" });
    expect(overridden).toMatchObject({ loopAmount: 2, loopPeriodMs: 90_000 });
  });

  test("file values, and CLI_ variables over them", async () => {
    const path = yamlFile("id: 2\nserver:\n  address: central:9000\nlog:\n  level: DEBUG\nbatch:\n  maxAmount: 50\n");
    expect(await loadAgencyConfig({ AGENCY_CONFIG: path })).toMatchObject({
      id: 2,
      serverAddress: { host: "central", port: 9000 },
      logLevel: "DEBUG",
      batchMaxAmount: 50,
      dataFile: ".data/agency-2.csv",
    });
    const overridden = await loadAgencyConfig({
      AGENCY_CONFIG: path,
      CLI_ID: "4",
      CLI_SERVER_ADDRESS: "127.0.0.1:12000",
      CLI_LOG_LEVEL: "error",
      CLI_BATCH_MAXAMOUNT: "7",
      CLI_DATA_FILE: "/tmp/bets.csv",
    });
    expect(overridden).toMatchObject({
      id: 4,
      serverAddress: { host: "127.0.0.1", port: 12000 },
      logLevel: "ERROR",
      batchMaxAmount: 7,
      dataFile: "/tmp/bets.csv",
    });
  });

  test("the agency id is required", async () => {
    expect(await refusal(loadAgencyConfig({ AGENCY_CONFIG: yamlFile("") }))).toContain("CLI_ID");
    const message = await refusal(loadAgencyConfig({ ...base(), CLI_ID: "0" }));
    expect(message).toContain("CLI_ID");
    expect(message).toContain("id");
  });

  test("bad values name the key and the variable", async () => {
    for (const [env, value, key] of [
      ["CLI_SERVER_ADDRESS", "no-port", "server.address"],
      ["CLI_SERVER_ADDRESS", "host:0", "server.address"],
      ["CLI_SERVER_ADDRESS", "host:70000", "server.address"],
      ["CLI_BATCH_MAXAMOUNT", "0", "batch.maxAmount"],
      ["CLI_LOG_LEVEL", "chatty", "log.level"],
      ["CLI_LOOP_AMOUNT", "-1", "loop.amount"],
      ["CLI_LOOP_PERIOD", "150", "loop.period"],
      ["CLI_LOOP_PERIOD", "2h", "loop.period"],
    ] as const) {
      const message = await refusal(loadAgencyConfig({ ...base(), [env]: value }));
      expect({ env, value, ok: message.includes(key) && message.includes(env) }).toEqual({ env, value, ok: true });
    }
  });

  test("periods are Go durations, as the course's Go client reads them", () => {
    const read = duration(3_600_000);
    const cases = [["150ms", 150], ["5s", 5000], ["0m20s", 20_000], ["1m30s", 90_000], ["1.5s", 1500], ["0", 0], ["0s", 0], ["250ms", 250], ["1h", 3_600_000], ["500us", 0.5], ["500µs", 0.5]] as const;
    expect(cases.map(([text]) => [text, read(text)])).toEqual(cases.map(([text, ms]) => [text, ms]));
    for (const bad of ["150", "ms", "1.5", "-5s", "5 s", "5sec", "", "1h1s"]) expect({ bad, ok: (() => { try { read(bad); return true; } catch { return false; } })() }).toEqual({ bad, ok: false });
  });

  test("server addresses: host names, IPv4 and bracketed IPv6", () => {
    expect(address("server:12345")).toEqual({ host: "server", port: 12345 });
    expect(address("10.0.0.2:1")).toEqual({ host: "10.0.0.2", port: 1 });
    expect(address("[::1]:65535")).toEqual({ host: "::1", port: 65535 });
  });

  test("an address's host is told apart as an IP address or a name to resolve, as node:net's isIP tells it", () => {
    const hosts = [
      "127.0.0.1", "10.0.0.2", "255.255.255.255", "0.0.0.0", "::1", "::", "fe80::1%eth0", "::ffff:192.168.1.1",
      "2001:db8:85a3:0:0:8a2e:370:7334", "2001:DB8::8A2E:370:7334",
      "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "1::2:3:4:5:6:7", "::1.2.3.4",
      "server", "localhost", "central.lottery.internal", "10.0.0", "256.1.1.1", "01.2.3.4", "1.2.3.4.5", "cafe", "a:b", "",
      ":::", "1:::2", "::::", "1::2::3", "1:2:3:4:5:6:7::1.2.3.4", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::1", "::g", ":1::", "1:", "1.2.3.4::",
    ];
    expect(hosts.map((host) => [host, isIpAddress(host)])).toEqual(hosts.map((host) => [host, isIP(host) !== 0]));
  });

  test("a single bet from NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO", async () => {
    const config = await loadAgencyConfig({
      ...base(),
      NOMBRE: "Santiago Lionel",
      APELLIDO: "Lorca",
      DOCUMENTO: "30904465",
      NACIMIENTO: "1999-03-17",
      NUMERO: "7574",
    });
    expect(config.singleBet).toEqual({
      firstName: "Santiago Lionel",
      lastName: "Lorca",
      document: "30904465",
      birthdate: "1999-03-17",
      number: "7574",
    });
  });

  test("a single bet is all or nothing: some variables without the rest is refused, naming the missing ones", async () => {
    const message = await refusal(loadAgencyConfig({ ...base(), NOMBRE: "Ana", DOCUMENTO: "1" }));
    expect(message).toContain("APELLIDO");
    expect(message).toContain("NACIMIENTO");
    expect(message).toContain("NUMERO");
    expect(message.slice(message.indexOf("missing"))).not.toContain("NOMBRE");
  });
});
