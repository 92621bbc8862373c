// A real agency over mutual TLS against a central played by the test: a full run, and centrals whose
// certificate must not be trusted (another CA, a certificate that does not name the host, no TLS at
// all), which get no bets: the agency says why and exits 1 at once.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { agencyTlsEnv } from "../../lib/tooling/processes.ts";
import { generateCertificates } from "../../lib/deployment/certs.ts";
import { MemoryCentral, scriptedCentral, type ScriptedCentralOptions, type ScriptedSession } from "../support/scripted-central.ts";
import { inProcessAgency } from "../support/in-process.ts";
import { makeDataset, readCsv, scratchDir, Scope } from "../support/system.ts";

const scope = new Scope();
const listeners: TCPSocketListener<unknown>[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) listener.stop(true);
  await scope.cleanup();
});

// Two certificate sets: ours, and another CA's (whose server certificate names the same hosts).
const certDir = scratchDir("lottery-tls-certs-");
const ours = join(certDir.path, "ours");
const theirs = join(certDir.path, "theirs");
let file: string;
beforeAll(async () => {
  await Promise.all([
    generateCertificates({ out: ours, agencies: 1, hosts: [], force: false }),
    generateCertificates({ out: theirs, agencies: 1, hosts: [], force: false }),
  ]);
  file = (await makeDataset(join(certDir.path, "data"), [2000]))[0]!;
});
afterAll(() => certDir.cleanup());

/** A TLS central with the server certificate of `dir`, asking agencies for one of `dir`'s CA. */
function tlsCentral(dir: string, options: ScriptedCentralOptions = {}) {
  const memory = new MemoryCentral();
  const sessions: ScriptedSession[] = [];
  let requests = 0;
  const read = (name: string) => readFileSync(join(dir, name), "utf8");
  const listener = scriptedCentral(
    {
      open: (session) => sessions.push(session),
      request: (message, session) => {
        requests++;
        memory.answer(message, session);
      },
    },
    { ...options, tls: { cert: read("server.crt"), key: read("server.key"), ca: read("ca.crt") } },
  );
  listeners.push(listener);
  return { port: listener.port, memory, sessions, requests: () => requests };
}

function documents(): string[] {
  return readCsv(file).map((row) => row[2]!);
}

test("a full run over mutual TLS: the agency presents its certificate, and every bet arrives once", async () => {
  const central = tlsCentral(ours);
  const agency = scope.agency(1, central.port, file, { ...agencyTlsEnv(ours, 1), CLI_SERVER_ADDRESS: `localhost:${central.port}` });
  expect(await agency.done).toBe(0);
  expect(central.memory.documents).toEqual(documents());
  expect(central.memory.ended).toBe(true);
  expect(central.sessions.map((session) => session.peer)).toEqual([{ authorized: true, commonName: "agency-1" }]);
  expect(agency.lines.find((line) => line.includes("action: config |"))).toContain("| tls: on");
});

/** Runs the agency against `central` at `address` and checks it failed TLS at once, sending nothing. */
async function expectRefusedCentral(central: ReturnType<typeof tlsCentral>, address: string, error: string) {
  const agency = scope.agency(1, central.port, file, { ...agencyTlsEnv(ours, 1), CLI_SERVER_ADDRESS: address, CLI_RECONNECT_TIMEOUTSECONDS: "60" });
  expect(await agency.done).toBe(1);
  const failures = agency.lines.filter((line) => line.includes("action: tls | result: fail"));
  expect(failures).toHaveLength(1);
  expect(failures[0]).toContain(`| server: ${address} | error: `);
  expect(failures[0]).toContain(error);
  expect(agency.lines.join("\n")).toContain(`agency 1: the central at ${address} failed TLS verification: ${error}`);
  // No retry, and not a byte of the protocol: no hello, no bets.
  expect(agency.lines.filter((line) => line.includes("action: connect |"))).toEqual([]);
  expect(central.requests()).toBe(0);
  expect(central.memory.documents).toEqual([]);
}

test("a central whose certificate comes from another CA gets no bets: the agency says why and exits 1", async () => {
  const central = tlsCentral(theirs);
  await expectRefusedCentral(central, `localhost:${central.port}`, "self signed certificate in certificate chain");
});

test("a central whose certificate does not name the host of server.address gets no bets", async () => {
  // Our CA's own server certificate, but reached at an address it does not name (it names 127.0.0.1).
  const central = tlsCentral(ours, { hostname: "127.0.0.2" });
  await expectRefusedCentral(central, `127.0.0.2:${central.port}`, "Hostname/IP does not match certificate's altnames: IP: 127.0.0.2");
});

test("a central that does not speak TLS gets no bets either", async () => {
  // It answers the TLS hello as the central answers any bytes that are not a frame: an E, and the close.
  let requests = 0;
  const plain = scriptedCentral({ request: () => requests++ });
  listeners.push(plain);
  const agency = scope.agency(1, plain.port, file, { ...agencyTlsEnv(ours, 1), CLI_RECONNECT_TIMEOUTSECONDS: "60" });
  expect(await agency.done).toBe(1);
  expect(agency.lines.filter((line) => line.includes("action: tls | result: fail"))).toHaveLength(1);
  expect(requests).toBe(0);
});

/** An agency run in this process, its name lookups answered by the test. */
/** Agency 1 over mutual TLS in this process, with its own name lookup. */
const agencyOf = (address: string, resolve: (host: string) => Promise<string[]>) =>
  inProcessAgency({ ...agencyTlsEnv(ours, 1), CLI_ID: "1", CLI_SERVER_ADDRESS: address, CLI_DATA_FILE: file, CLI_RECONNECT_TIMEOUTSECONDS: "60" }, resolve);

test("the certificate is checked against the configured host name, not the address it resolved to", async () => {
  const central = tlsCentral(ours);
  const toLoopback = async () => ["127.0.0.1"];
  // "server" is among the certificate's names: the run completes.
  await agencyOf(`server:${central.port}`, toLoopback).then((agency) => agency.run());
  expect(central.memory.documents).toEqual(documents());
  // "elsewhere.test" is not, though its address (127.0.0.1) is.
  const elsewhere = await agencyOf(`elsewhere.test:${central.port}`, toLoopback);
  await expect(elsewhere.run()).rejects.toThrow("Host: elsewhere.test. is not in the cert's altnames");
  expect(elsewhere.lines.filter((line) => line.includes("action: tls | result: fail"))).toHaveLength(1);
});

test("one or two of the three TLS settings stop start-up, naming what is missing", async () => {
  const tls = agencyTlsEnv(ours, 1);
  const agency = scope.agency(1, 1, file, { CLI_TLS_CERT: tls.CLI_TLS_CERT!, CLI_TLS_CA: tls.CLI_TLS_CA! });
  expect(await agency.done).toBe(1);
  expect(agency.lines.join("\n")).toContain(
    "cannot start: ConfigError: TLS needs tls.cert, tls.key and tls.ca together: tls.key (env CLI_TLS_KEY) not set",
  );
});

test("a TLS file that cannot be read stops start-up, naming it", async () => {
  const missing = join(ours, "agency-9.key");
  const agency = scope.agency(1, 1, file, { ...agencyTlsEnv(ours, 1), CLI_TLS_KEY: missing });
  expect(await agency.done).toBe(1);
  expect(agency.lines.join("\n")).toContain(`cannot start: ConfigError: cannot read tls.key (env CLI_TLS_KEY) file ${missing}: `);
});

// Without TLS settings the agency speaks plain TCP, and says so.
test("no TLS settings: plain TCP, logged as tls: off", async () => {
  const memory = new MemoryCentral();
  const plain = scriptedCentral({ request: (message, session) => memory.answer(message, session) });
  listeners.push(plain);
  const agency = scope.agency(1, plain.port, file);
  expect(await agency.done).toBe(0);
  expect(memory.documents).toEqual(documents());
  expect(agency.lines.find((line) => line.includes("action: config |"))).toContain("| tls: off");
});
