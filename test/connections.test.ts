// The connection mechanics alone, with scripted sessions instead of the lottery: real sockets, no store.
import { afterEach, expect, test } from "bun:test";
import { ConnectionServer } from "../lib/central/connections.ts";
import { Backlog, type ConnectionLink, type Session } from "../lib/central/session.ts";
import { Logger } from "../lib/log.ts";
import { MessageType, type Message } from "../lib/protocol/index.ts";
import { join } from "node:path";
import { generateCertificates } from "../lib/tls/certs.ts";
import { RawClient } from "./support/raw-client.ts";
import { scratchDir } from "./support/system.ts";

const limits = { port: 0, tls: undefined, maxConnections: 10, maxFrameBytes: 1024, idleTimeoutSeconds: 0 };
const servers: ConnectionServer[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) if (client.isOpen) client.close();
  for (const server of servers.splice(0)) server.abort();
});

const echo = (text: string): Message => ({ type: MessageType.Echo, payload: new TextEncoder().encode(text) });

/** A server whose sessions answer with `respond`; `links` collects each connection's link. */
function serve(respond: (message: Message, index: number) => ReturnType<Session["handle"]>, backlog = new Backlog(1000)) {
  const links: ConnectionLink[] = [];
  const handled: Message[] = [];
  const lines: string[] = [];
  const server = new ConnectionServer(
    limits,
    {
      open: (link) => {
        links.push(link);
        return { handle: (message) => respond(message, handled.push(message) - 1), malformed: () => {}, closed: () => {}, logFields: () => ({}) };
      },
    },
    backlog,
    new Logger("INFO", (line) => lines.push(line)),
  );
  server.listen();
  servers.push(server);
  return { server, links, handled, lines };
}

async function connect(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  clients.push(client);
  return client;
}

test("answers leave in request order, even when a later one is ready first", async () => {
  const first = Promise.withResolvers<Message>();
  const { server } = serve((message, index) => (index === 0 ? first.promise : message));
  const client = await connect(server.port);
  client.send(echo("one"));
  await client.send(echo("two"));
  // "two" is answered at once but waits behind "one".
  const second = client.next();
  first.resolve({ type: MessageType.Ok, count: 1 });
  expect(await second).toEqual({ type: MessageType.Ok, count: 1 });
  expect(await client.next()).toEqual(echo("two"));
});

test("a fault in a session costs that request only: an internal-error answer, the connection stays", async () => {
  const { server, lines } = serve((message, index) => {
    if (index === 0) throw new Error("bug");
    return message;
  });
  const client = await connect(server.port);
  expect(await client.request(echo("x"))).toEqual({ type: MessageType.Error, reason: "internal error in the central" });
  expect(await client.request(echo("y"))).toEqual(echo("y"));
  expect(lines.some((line) => line.includes("action: request | result: fail") && line.includes("bug"))).toBe(true);
});

test("hangUp from a session sends its reason after the answers queued, then closes", async () => {
  const { server, links } = serve((message) => message);
  const client = await connect(server.port);
  expect(await client.request(echo("a"))).toEqual(echo("a"));
  links[0]!.hangUp("go away");
  expect(await client.next()).toEqual({ type: MessageType.Error, reason: "go away" });
  await client.closed;
});

test("while the backlog is full no connection is read; once it is low, reading resumes", async () => {
  const backlog = new Backlog(2);
  const { server, handled } = serve((message) => message, backlog);
  const client = await connect(server.port);
  expect(await client.request(echo("before"))).toEqual(echo("before"));
  backlog.add(2);
  // The next request is seen only when reading is paused on an update; the first answer after the
  // backlog filled pauses it, so the second request waits.
  expect(await client.request(echo("fills"))).toEqual(echo("fills"));
  await client.send(echo("waits"));
  const answer = client.next();
  const other = await connect(server.port);
  // Another connection answers: its echo proves the central turned its loop after "waits" arrived.
  expect(await other.request(echo("probe"))).toEqual(echo("probe"));
  expect(handled.map((m) => new TextDecoder().decode((m as { payload: Uint8Array }).payload))).not.toContain("waits");
  backlog.remove(2);
  expect(await answer).toEqual(echo("waits"));
});

test("the backlog's limit is its base, or so much per open connection when that is more", () => {
  let open = 1;
  const backlog = new Backlog(4, 2, () => open);
  backlog.add(4);
  expect({ open, full: backlog.full }).toEqual({ open: 1, full: true });
  open = 3;
  expect({ open, full: backlog.full }).toEqual({ open: 3, full: false });
  backlog.add(2);
  expect({ open, full: backlog.full }).toEqual({ open: 3, full: true });
  // Low below half of 6.
  backlog.remove(3);
  expect(backlog.low).toBe(false);
  backlog.remove(1);
  expect(backlog.low).toBe(true);
});

test("past max_connections a client gets the refusal and is closed", async () => {
  const { server } = serve((message) => message);
  const held: RawClient[] = [];
  for (let i = 0; i < limits.maxConnections; i++) {
    const client = await connect(server.port);
    expect(await client.request(echo(`${i}`))).toEqual(echo(`${i}`));
    held.push(client);
  }
  const extra = await connect(server.port);
  expect(await extra.next()).toEqual({ type: MessageType.Error, reason: `too many connections (${limits.maxConnections})` });
  await extra.closed;
});

test("TLS clients that never finish a handshake are cut off, refused ones over the limit included", async () => {
  const dir = scratchDir("lottery-handshake-");
  try {
    await generateCertificates({ out: dir.path, agencies: 1, hosts: [], force: false });
    const read = (name: string) => Bun.file(join(dir.path, name)).text();
    const tls = { cert: await read("server.crt"), key: await read("server.key"), ca: await read("ca.crt") };
    const lines: string[] = [];
    const server = new ConnectionServer(
      { ...limits, tls, maxConnections: 2, handshakeTimeoutMs: 200 },
      { open: () => ({ handle: (message) => message, malformed: () => {}, closed: () => {}, logFields: () => ({}) }) },
      new Backlog(1000),
      new Logger("INFO", (line) => lines.push(line)),
    );
    server.listen();
    servers.push(server);
    // Five plain TCP clients that never send a byte: two within the limit, three past it.
    const silent = await Promise.all(Array.from({ length: 5 }, () => connect(server.port)));
    await Promise.all(silent.map((client) => client.closed));
    for (const client of silent) expect(client.received).toEqual([]);
    expect(lines.filter((line) => line.includes("action: tls | result: fail") && line.includes("no TLS handshake within 0.2 s"))).toHaveLength(5);
  } finally {
    dir.cleanup();
  }
});
