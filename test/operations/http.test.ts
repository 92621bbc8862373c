// The central's HTTP side (issue 11): metrics equal to what a real run stored and refused, counts that
// start from recovery, health through a graceful stop and a failed storage, the status JSON, the page,
// and hostile HTTP clients that never stop the central nor its agencies. promtool, Prometheus and
// Chromium run outside bun test, in test/operations/run.ts.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { loadCentralConfig } from "../../lib/central/config.ts";
import { CentralServer } from "../../lib/central/server.ts";
import { Histogram } from "../../lib/central/stats.ts";
import { HttpServer } from "../../lib/operations/http-server.ts";
import { centralTlsEnv, httpPort } from "../../lib/tooling/processes.ts";
import { Logger } from "../../lib/log.ts";
import { encodeMessage, MessageType } from "../../lib/protocol/index.ts";
import { generateCertificates } from "../../lib/deployment/certs.ts";
import { fetchMetrics, fetchStatus, parseMetrics } from "../support/metrics.ts";
import { RawClient } from "../support/raw-client.ts";
import { actionLines, expectedWinners, firstLineAbout, makeDataset, readCsv, Scope, waitForLine, waitForLines } from "../support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

const TIMEOUT = 60_000;
const bet = (document: string, number = "1") => ({ firstName: "Ana", lastName: "Peña", document, birthdate: "1990-01-01", number });
const rowsOf = (file: string) => readCsv(file).length;

describe("SERVER_HTTP_PORT", () => {
  test("a port, 0 for a free one, or off; anything else is refused naming the setting", async () => {
    const committed = join(import.meta.dir, "..", "..", "server", "config.ini");
    const load = (value: string) => loadCentralConfig({ CENTRAL_CONFIG: committed, SERVER_HTTP_PORT: value });
    expect((await loadCentralConfig({ CENTRAL_CONFIG: committed })).httpPort).toBe(9464);
    expect((await load("0")).httpPort).toBe(0);
    expect((await load("8080")).httpPort).toBe(8080);
    expect((await load("off")).httpPort).toBe("off");
    for (const bad of ["on", "-1", "65536", "80x"]) {
      const error = await load(bad).then(() => undefined, (e: Error) => e.message);
      expect(error).toContain("SERVER_HTTP_PORT");
      expect(error).toContain(JSON.stringify(bad));
    }
  });

  test("off: no HTTP listener and no http_listen line; a port in use stops the start-up with a message", async () => {
    const dir = scope.dir("lottery-http-");
    const off = await scope.central(join(dir, "off.csv"), { SERVER_HTTP_PORT: "off" });
    off.process.kill("SIGTERM");
    expect(await off.done).toBe(0);
    expect(actionLines(off, "http_listen")).toEqual([]);

    const first = await scope.central(join(dir, "first.csv"));
    const taken = await httpPort(first);
    const second = await scope.central(join(dir, "second.csv"), { SERVER_HTTP_PORT: String(taken) });
    expect(await second.done).toBe(1);
    expect(second.lines.filter((line) => line.includes("cannot start") && line.includes(`SERVER_HTTP_PORT ${taken}: `))).toHaveLength(1);
  }, TIMEOUT);
});

test("a histogram counts a value equal to a bound in that bound's bucket (le), larger ones in +Inf", () => {
  const histogram = new Histogram([0.1, 1]);
  for (const value of [0.05, 0.1, 0.5, 1, 7]) histogram.observe(value);
  expect([...histogram.counts]).toEqual([2, 2, 1]);
  expect(histogram.count).toBe(5);
  expect(histogram.sum).toBeCloseTo(8.65);
});

test("metrics equal what a run with real agencies stored and refused; a restart starts from recovery", async () => {
  const dir = scope.dir("lottery-metrics-");
  const files = await makeDataset(join(dir, "data"), [700, 1300], 229);
  const storage = join(dir, "bets.csv");
  // At DEBUG the central logs each connection's close (desconexion), which the status must follow.
  const central = await scope.central(storage, { LOTTERY_AGENCIES: "2", LOGGING_LEVEL: "DEBUG" });
  const port = await httpPort(central);

  // Before the agencies run: a batch from a connection that said no hello (refused, and denied by the
  // access rule); from one that did, a batch with a bad birthdate and a bets frame that does not decode
  // (its last field cut short), both refused. The real agency 1 replaces that second connection later.
  const stranger = await scope.client(central.port);
  expect((await stranger.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("1")]) })).type).toBe(MessageType.Error);
  const client = await scope.client(central.port);
  expect((await client.request({ type: MessageType.Hello, agency: 1 })).type).toBe(MessageType.Welcome);
  const refusal = await client.request({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([{ ...bet("1"), birthdate: "1990-13-45" }]) });
  expect(refusal.type).toBe(MessageType.Error);
  const garbled = encodeMessage({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("2")]) });
  garbled.writeUInt32BE(garbled.readUInt32BE(0) - 3, 0);
  await client.write(garbled.subarray(0, garbled.length - 3));
  expect((await client.next()).type).toBe(MessageType.Error);

  const agencies = files.map((file, i) => scope.agency(i + 1, central.port, file));
  expect(await Promise.all(agencies.map((agency) => agency.done))).toEqual([0, 0]);

  // The agencies have exited; the central sees their connections close on its own time: wait for its
  // line for each connection they made (each logs its connects) and for the one agency 1 replaced.
  const made = agencies.reduce((sum, agency) => sum + actionLines(agency, "connect").filter((line) => line.includes("result: success")).length, 0);
  await waitForLines(central, /action: desconexion \|/, made + 1);
  const metrics = await fetchMetrics(port);
  const stored = readCsv(storage);
  const storedBy = (agency: number) => stored.filter((row) => row[0] === String(agency)).length;
  expect(metrics.get('lottery_bets_stored_total{agency="1"}')).toBe(storedBy(1));
  expect(metrics.get('lottery_bets_stored_total{agency="2"}')).toBe(storedBy(2));
  expect(storedBy(1) + storedBy(2)).toBe(rowsOf(files[0]!) + rowsOf(files[1]!));
  const batches = actionLines(central, "apuesta_recibida").filter((line) => line.includes("result: success")).length;
  expect(batches).toBeGreaterThan(2);
  expect(metrics.get('lottery_batches_total{result="stored"}')).toBe(batches);
  expect(metrics.get('lottery_batches_total{result="refused"}')).toBe(3);
  expect(metrics.get("lottery_access_denied_total")).toBe(1);
  expect(metrics.get("lottery_agencies")).toBe(2);
  expect(metrics.get("lottery_agencies_ended")).toBe(2);
  expect(metrics.get("lottery_draw_completed")).toBe(1);
  // Every stored batch was acknowledged once; groups are at most as many as the batches they hold.
  expect(metrics.get("lottery_batch_ack_seconds_count")).toBe(batches);
  const groups = metrics.get("lottery_group_commit_seconds_count")!;
  expect(groups).toBeGreaterThan(0);
  expect(groups).toBeLessThanOrEqual(batches);
  expect(metrics.get("lottery_group_commit_seconds_sum")).toBeGreaterThan(0);
  expect(metrics.get("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
  expect(metrics.get("process_cpu_seconds_total")).toBeGreaterThan(0);
  expect(Math.abs(metrics.get("process_start_time_seconds")! - Date.now() / 1000)).toBeLessThan(600);

  const status = await fetchStatus(port);
  expect(Object.keys(status).sort()).toEqual(["agencies", "batches", "bets_stored", "connections", "draw", "health", "uptime_seconds"]);
  expect(status.health).toBe("ok");
  expect(status.bets_stored).toBe(stored.length);
  expect(status.batches).toEqual({ stored: batches, refused: 3 });
  // Every agency connection has closed (their desconexion lines are in): only the stranger is open.
  expect(status.connections).toBe(1);
  expect(metrics.get("lottery_connections")).toBe(1);
  expect(status.uptime_seconds).toBeGreaterThan(0);
  const winners = await Promise.all(files.map(expectedWinners));
  expect(status.draw).toEqual({ completed: true, agencies_ended: 2, agencies: 2, winners: winners[0]! + winners[1]! });
  expect(status.agencies).toEqual([
    { agency: 1, stored: storedBy(1), ended: true, connected: false, winners: winners[0] },
    { agency: 2, stored: storedBy(2), ended: true, connected: false, winners: winners[1] },
  ]);
  // No personal data on HTTP: no bettor's document or name in any answer.
  const texts = await Promise.all(["/metrics", "/status", "/"].map((path) => fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.text())));
  for (const row of stored.slice(0, 50)) for (const text of texts) for (const field of [row[1]!, row[2]!, row[3]!]) expect(text).not.toContain(field);

  central.process.kill("SIGTERM");
  expect(await central.done).toBe(0);
  const restarted = await scope.central(storage, { LOTTERY_AGENCIES: "2" });
  const after = await fetchMetrics(await httpPort(restarted));
  expect(after.get('lottery_bets_stored_total{agency="1"}')).toBe(storedBy(1));
  expect(after.get('lottery_bets_stored_total{agency="2"}')).toBe(storedBy(2));
  expect(after.get('lottery_batches_total{result="stored"}')).toBe(0);
  expect(after.get("lottery_agencies_ended")).toBe(2);
  expect(after.get("lottery_draw_completed")).toBe(1);
}, TIMEOUT);

test("/status: an agency is connected while a connection that said its hello is open, and not once it closes", async () => {
  // At DEBUG the central logs each connection's close (desconexion): the event to wait for.
  const central = await scope.central(join(scope.dir("lottery-connected-"), "bets.csv"), { LOTTERY_AGENCIES: "2", LOGGING_LEVEL: "DEBUG" });
  const port = await httpPort(central);
  const connected = async () => (await fetchStatus(port)).agencies.map((agency: { connected: boolean }) => agency.connected);

  const client = await scope.client(central.port);
  expect(await connected()).toEqual([false, false]); // open, but it named no agency yet
  expect((await client.request({ type: MessageType.Hello, agency: 2 })).type).toBe(MessageType.Welcome);
  expect(await connected()).toEqual([false, true]);
  client.close();
  await waitForLine(central, new RegExp(`action: desconexion \\| result: success \\| peer: ${client.peer}$`));
  expect(await connected()).toEqual([false, false]);
}, TIMEOUT);

describe("health", () => {
  const start = async (syncFile: (fd: number) => Promise<void>, onFatal: (error: Error) => void = () => {}) => {
    const storage = join(scope.dir("lottery-health-"), "bets.csv");
    const config = await loadCentralConfig({ SERVER_PORT: "0", SERVER_HTTP_PORT: "0", LOTTERY_AGENCIES: "1", STORAGE_FILEPATH: storage });
    const log = new Logger("ERROR", () => {});
    const server = await CentralServer.start(config, log, onFatal, syncFile);
    const http = HttpServer.start(server.state, 0, log);
    const health = async () => {
      const response = await fetch(`http://127.0.0.1:${http.port}/healthz`);
      return `${response.status} ${(await response.text()).trim()}`;
    };
    return { server, http, health };
  };

  test("/healthz is 200 ok while serving and 503 from the start of a graceful stop", async () => {
    const held = Promise.withResolvers<void>();
    const syncStarted = Promise.withResolvers<void>();
    const { server, http, health } = await start(() => {
      syncStarted.resolve();
      return held.promise;
    });
    try {
      expect(await health()).toBe("200 ok");
      const client = await scope.client(server.port);
      expect((await client.request({ type: MessageType.Hello, agency: 1 })).type).toBe(MessageType.Welcome);
      client.send({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("1")]) });
      await syncStarted.promise;
      // The stop waits for the held sync: it is in progress while we ask.
      const stopped = server.shutdown("SIGTERM");
      expect(await health()).toBe("503 stopping");
      expect((await fetchStatus(http.port)).health).toBe("stopping");
      held.resolve();
      await stopped;
      expect(await health()).toBe("503 stopping");
    } finally {
      held.resolve();
      http.stop();
    }
  }, TIMEOUT);

  test("/healthz is 503 once the storage has failed", async () => {
    const fatal = Promise.withResolvers<Error>();
    const { server, http, health } = await start(async () => {
      throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
    }, fatal.resolve);
    try {
      const client = await scope.client(server.port);
      expect((await client.request({ type: MessageType.Hello, agency: 1 })).type).toBe(MessageType.Welcome);
      client.send({ type: MessageType.Bets, agency: 1, bets: BetBlock.of([bet("1")]) });
      await fatal.promise;
      expect(await health()).toBe("503 failed");
    } finally {
      http.stop();
    }
  }, TIMEOUT);
});

test("the page is one HTML file with no external resource, the other paths and methods are refused", async () => {
  const central = await scope.central(join(scope.dir("lottery-page-"), "bets.csv"));
  const port = await httpPort(central);
  const page = await fetch(`http://127.0.0.1:${port}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  const html = await page.text();
  expect(html).toContain('fetch("/status"');
  // No src= or href= to another origin, no @import or url() in the style.
  expect(html.match(/(src|href)=["'](?!\/)[^"']*/g) ?? []).toEqual([]);
  expect(html).not.toMatch(/@import|url\(/);
  expect((await fetch(`http://127.0.0.1:${port}/nothing`)).status).toBe(404);
  const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST", body: "x" });
  expect(post.status).toBe(405);
  expect(post.headers.get("allow")).toBe("GET, HEAD");
}, TIMEOUT);

test("hostile HTTP clients (huge headers, thousands of idle connections) never stop the central nor its agencies' run", async () => {
  const dir = scope.dir("lottery-hostile-");
  const files = await makeDataset(join(dir, "data"), [3000, 3000], 229);
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "2" });
  const port = await httpPort(central);

  // Idle connections that never send a byte, and slow ones that send half a request.
  const IDLE = 3000;
  const sockets = await Promise.all(
    Array.from({ length: IDLE }, (_, i) =>
      Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, error() {} } }).then((socket) => {
        if (i % 2) socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n");
        return socket;
      }),
    ),
  );
  try {
    const agencies = files.map((file, i) => scope.agency(i + 1, central.port, file));
    // Huge headers while the agencies run: Bun refuses them, the central goes on.
    const huge = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { "x-junk": "a".repeat(1024 * 1024) } }).then(
      (response) => response.status,
      () => "closed",
    );
    expect([431, "closed"]).toContain(huge);
    // Many headers within Bun's limit reach the handlers, which answer them as any other request.
    const many = await fetch(`http://127.0.0.1:${port}/status`, {
      headers: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x-h${i}`, "v".repeat(100)])),
    });
    expect(many.status).toBe(200);
    expect(await Promise.all(agencies.map((agency) => agency.done))).toEqual([0, 0]);
    expect(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status)).toBe(200);
    const metrics = await fetchMetrics(port);
    expect(metrics.get("lottery_draw_completed")).toBe(1);
    expect(metrics.get('lottery_bets_stored_total{agency="1"}')).toBe(3000);
    expect(central.process.exitCode).toBeNull();
  } finally {
    for (const socket of sockets) socket.terminate();
  }
  central.process.kill("SIGTERM");
  expect(await central.done).toBe(0);
}, TIMEOUT);

test("the text format: HELP and TYPE before each family's samples, cumulative buckets", () => {
  expect(() => parseMetrics('# HELP a_total x\n# TYPE a_total counter\na_total{b="1"} 3\n')).not.toThrow();
  expect(() => parseMetrics("a_total 3\n")).toThrow();
  expect(() => parseMetrics("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")).toThrow();
});

test("lottery_access_denied_total counts the access rule's refusals and TLS clients without a valid certificate", async () => {
  const dir = scope.dir("lottery-denied-");
  const ours = join(dir, "ours");
  const foreign = join(dir, "foreign");
  await generateCertificates({ out: ours, agencies: 2, hosts: [], force: false });
  await generateCertificates({ out: foreign, agencies: 1, hosts: [], force: false });
  // At DEBUG the central logs each connection it lets in: a client it wrongly took would show there.
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "2", LOGGING_LEVEL: "DEBUG", ...centralTlsEnv(ours) });
  const port = await httpPort(central);
  const connect = (from: string | undefined, id: number) => RawClient.connectTls(central.port, ours, from === undefined ? undefined : id, from);
  expect((await fetchMetrics(port)).get("lottery_access_denied_total")).toBe(0);
  // No certificate, and one of another CA: closed unanswered, refused at the handshake.
  for (const from of [undefined, foreign]) {
    const who = from ? "a client of another CA" : "a client without a certificate";
    const client = await connect(from, 1);
    client.send({ type: MessageType.Hello, agency: 1 });
    expect(await client.answerOrClose(), `the central answered ${who}`).toBeUndefined();
    expect(await firstLineAbout(central, client.peer), `the central let in ${who}`).toMatch(/action: tls \| result: fail \|/);
  }
  // Agency 2's certificate acting for agency 1: refused by the access rule.
  const two = await connect(ours, 2);
  try {
    expect((await two.request({ type: MessageType.Hello, agency: 1 })).type).toBe(MessageType.Error);
    expect((await two.request({ type: MessageType.Hello, agency: 2 })).type).toBe(MessageType.Welcome);
  } finally {
    two.close();
  }
  await waitForLines(central, /action: acceso_denegado \|/, 1);
  expect(actionLines(central, "tls")).toHaveLength(2);
  expect(actionLines(central, "acceso_denegado")).toHaveLength(1);
  expect((await fetchMetrics(port)).get("lottery_access_denied_total")).toBe(3);
}, TIMEOUT);
