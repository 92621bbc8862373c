// The TLS settings shared by the central and the agencies: names, all three or none, readable PEM files.
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { loadTls, tlsChosen, tlsSettings } from "../lib/tls.ts";
import { scratchDir } from "./support/system.ts";

const dir = scratchDir("lottery-tls-config-");
afterAll(() => dir.cleanup());
const none = { tlsCert: "", tlsKey: "", tlsCa: "" };

test("variables after the prefix; keys tls.cert, tls.key, tls.ca in YAML, the variables' names in INI", () => {
  const keys = ({ tlsCert, tlsKey, tlsCa }: ReturnType<typeof tlsSettings>) => [tlsCert, tlsKey, tlsCa].map(({ key, env }) => [key, env]);
  expect(keys(tlsSettings("CLI", "yaml"))).toEqual([
    ["tls.cert", "CLI_TLS_CERT"],
    ["tls.key", "CLI_TLS_KEY"],
    ["tls.ca", "CLI_TLS_CA"],
  ]);
  expect(keys(tlsSettings("SERVER", "ini"))).toEqual([
    ["SERVER_TLS_CERT", "SERVER_TLS_CERT"],
    ["SERVER_TLS_KEY", "SERVER_TLS_KEY"],
    ["SERVER_TLS_CA", "SERVER_TLS_CA"],
  ]);
});

test("all three or none: one or two set is an error naming each missing key and its variable", () => {
  const settings = tlsSettings("CLI", "yaml");
  expect(tlsChosen(settings, none)).toBe(false);
  expect(tlsChosen(settings, { tlsCert: "a", tlsKey: "b", tlsCa: "c" })).toBe(true);
  expect(() => tlsChosen(settings, { ...none, tlsKey: "b" })).toThrow(
    new ConfigError("TLS needs tls.cert, tls.key and tls.ca together: tls.cert (env CLI_TLS_CERT) and tls.ca (env CLI_TLS_CA) not set"),
  );
  expect(() => tlsChosen(settings, { tlsCert: "a", tlsKey: "b", tlsCa: "" })).toThrow("tls.ca (env CLI_TLS_CA) not set");
  // In the central's INI the key is the variable: it is named once.
  expect(() => tlsChosen(tlsSettings("SERVER", "ini"), { tlsCert: "a", tlsKey: "b", tlsCa: "" })).toThrow(
    new ConfigError("TLS needs SERVER_TLS_CERT, SERVER_TLS_KEY and SERVER_TLS_CA together: SERVER_TLS_CA not set"),
  );
});

test("the settings come from a config file and from the environment", async () => {
  const agency = tlsSettings("CLI", "yaml");
  const yaml = join(dir.path, "agency.yaml");
  writeFileSync(yaml, "tls:\n  cert: from-file.crt\n  key: from-file.key\n");
  const values = await loadConfig(agency, { path: yaml, fallbackPath: yaml, env: { CLI_TLS_CA: "from-env.crt" } });
  expect([values.tlsCert, values.tlsKey, values.tlsCa]).toEqual(["from-file.crt", "from-file.key", "from-env.crt"]);
  const central = tlsSettings("SERVER", "ini");
  const ini = join(dir.path, "config.ini");
  writeFileSync(ini, "[DEFAULT]\nSERVER_TLS_CERT = from-file.crt\nSERVER_TLS_KEY = from-file.key\n");
  const read = await loadConfig(central, { path: ini, fallbackPath: ini, env: { SERVER_TLS_CA: "from-env.crt" } });
  expect([read.tlsCert, read.tlsKey, read.tlsCa]).toEqual(["from-file.crt", "from-file.key", "from-env.crt"]);
});

test("loadTls reads the three files; an unreadable or non-PEM file is named", async () => {
  const settings = tlsSettings("CLI", "yaml");
  const pem = (name: string) => {
    writeFileSync(join(dir.path, name), `-----BEGIN ${name}-----\n-----END ${name}-----\n`);
    return join(dir.path, name);
  };
  const paths = { tlsCert: pem("CERT"), tlsKey: pem("KEY"), tlsCa: pem("CA") };
  expect(await loadTls(settings, none)).toBeUndefined();
  expect(await loadTls(settings, paths)).toEqual({
    cert: "-----BEGIN CERT-----\n-----END CERT-----\n",
    key: "-----BEGIN KEY-----\n-----END KEY-----\n",
    ca: "-----BEGIN CA-----\n-----END CA-----\n",
  });
  const missing = join(dir.path, "missing.key");
  await expect(loadTls(settings, { ...paths, tlsKey: missing })).rejects.toThrow(`cannot read tls.key (env CLI_TLS_KEY) file ${missing}: `);
  const text = join(dir.path, "notes.txt");
  writeFileSync(text, "not a certificate\n");
  await expect(loadTls(settings, { ...paths, tlsCa: text })).rejects.toThrow(`tls.ca (env CLI_TLS_CA) file ${text} is not PEM`);
});
