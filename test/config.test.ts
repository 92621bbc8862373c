// Configuration: defaults, YAML file values, environment overrides, and start-up refusals that name
// the offending key and variable; the central's and the agency's settings.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAgencyConfig } from "../lib/agency/config.ts";
import { loadCentralConfig } from "../lib/central/config.ts";
import { isIP } from "node:net";
import { address, ConfigError, integer, isIpAddress, loadConfig } from "../lib/config.ts";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lottery-config-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes a YAML file into the scratch directory and returns its path. */
function yamlFile(text: string): string {
  const path = join(dir, `config-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** The ConfigError a load rejects with; fails the test if it loads. */
async function refusal(load: Promise<unknown>): Promise<string> {
  const error = await load.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

describe("central configuration", () => {
  test("defaults when the file sets nothing", async () => {
    const config = await loadCentralConfig({ CENTRAL_CONFIG: yamlFile("") });
    expect(config).toMatchObject({
      port: 12345,
      loggingLevel: "INFO",
      agencies: 5,
      storagePath: "./bets.csv",
      storageSync: "always",
      maxFrameBytes: 64 * 1024,
    });
  });

  test("the committed config/central.yaml holds the documented defaults", async () => {
    const committed = join(import.meta.dir, "..", "config", "central.yaml");
    const config = await loadCentralConfig({ CENTRAL_CONFIG: committed });
    expect(config).toMatchObject({ port: 12345, loggingLevel: "INFO", agencies: 5, storagePath: "./bets.csv" });
  });

  test("file values are read", async () => {
    const path = yamlFile(
      "server:\n  port: 4000\n  listen_backlog: 64\nlogging:\n  level: debug\nlottery:\n  agencies: 3\nstorage:\n  filepath: /data/bets.csv\n  sync: never\n",
    );
    const config = await loadCentralConfig({ CENTRAL_CONFIG: path });
    expect(config).toMatchObject({
      port: 4000,
      listenBacklog: 64,
      loggingLevel: "DEBUG",
      agencies: 3,
      storagePath: "/data/bets.csv",
      storageSync: "never",
      source: path,
    });
  });

  test("environment variables override the file", async () => {
    const path = yamlFile("server:\n  port: 4000\nlottery:\n  agencies: 3\nlogging:\n  level: ERROR\n");
    const config = await loadCentralConfig({
      CENTRAL_CONFIG: path,
      SERVER_PORT: "5000",
      LOTTERY_AGENCIES: "7",
      STORAGE_FILEPATH: "other.csv",
      LOGGING_LEVEL: "warn",
    });
    expect(config).toMatchObject({ port: 5000, agencies: 7, storagePath: "other.csv", loggingLevel: "WARNING" });
  });

  test("an empty variable does not override (compose files often leave them blank)", async () => {
    const config = await loadCentralConfig({ CENTRAL_CONFIG: yamlFile("server:\n  port: 4000\n"), SERVER_PORT: "" });
    expect(config.port).toBe(4000);
  });

  test("a bad value from the environment names the key and the variable", async () => {
    const path = yamlFile("");
    const message = await refusal(loadCentralConfig({ CENTRAL_CONFIG: path, SERVER_PORT: "abc" }));
    expect(message).toContain("server.port");
    expect(message).toContain("SERVER_PORT");
    expect(message).toContain('"abc"');
    for (const [env, value, key] of [
      ["SERVER_PORT", "70000", "server.port"],
      ["SERVER_PORT", "-1", "server.port"],
      ["SERVER_PORT", "80.5", "server.port"],
      ["LOTTERY_AGENCIES", "many", "lottery.agencies"],
      ["LOGGING_LEVEL", "LOUD", "logging.level"],
      ["STORAGE_FILEPATH", "   ", "storage.filepath"],
      ["STORAGE_SYNC", "sometimes", "storage.sync"],
      ["SERVER_MAX_FRAME_BYTES", "10", "server.max_frame_bytes"],
    ] as const) {
      const text = await refusal(loadCentralConfig({ CENTRAL_CONFIG: path, [env]: value }));
      expect({ env, text: text.includes(key) && text.includes(env) }).toEqual({ env, text: true });
    }
  });

  test("a bad value from the file names the key, the file and the variable that overrides it", async () => {
    const path = yamlFile("server:\n  port: 70000\n");
    const message = await refusal(loadCentralConfig({ CENTRAL_CONFIG: path }));
    expect(message).toContain("server.port");
    expect(message).toContain(path);
    expect(message).toContain("70000");
    expect(message).toContain("SERVER_PORT");
  });

  test("an unknown key is refused (a typo must not silently fall back to the default)", async () => {
    const path = yamlFile("server:\n  prot: 4000\n");
    const message = await refusal(loadCentralConfig({ CENTRAL_CONFIG: path }));
    expect(message).toContain("server.prot");
    expect(message).toContain(path);
  });

  test("a value where a section belongs is an unknown key", async () => {
    expect(await refusal(loadCentralConfig({ CENTRAL_CONFIG: yamlFile("server: 4000\n") }))).toContain("server");
  });

  test("a named config file that does not exist is refused", async () => {
    const missing = join(dir, "missing.yaml");
    expect(await refusal(loadCentralConfig({ CENTRAL_CONFIG: missing }))).toContain(missing);
  });

  test("a file that is not YAML, or not a mapping, is refused", async () => {
    expect(await refusal(loadCentralConfig({ CENTRAL_CONFIG: yamlFile("server: [unclosed\n") }))).toContain("not valid YAML");
    expect(await refusal(loadCentralConfig({ CENTRAL_CONFIG: yamlFile("- a\n- b\n") }))).toContain("mapping");
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
      logLevel: "INFO",
      batchMaxAmount: 128,
      dataFile: ".data/agency-3.csv",
      singleBet: undefined,
    });
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
    ] as const) {
      const message = await refusal(loadAgencyConfig({ ...base(), [env]: value }));
      expect({ env, value, ok: message.includes(key) && message.includes(env) }).toEqual({ env, value, ok: true });
    }
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
