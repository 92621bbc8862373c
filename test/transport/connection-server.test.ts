// The connection mechanics alone, with scripted sessions instead of the lottery: real sockets, no store.
import { afterEach, expect, test } from "bun:test";
import { ConnectionServer } from "../../lib/transport/connection-server.ts";
import { Backlog } from "../../lib/transport/backlog.ts";
import type { ConnectionLink, Session } from "../../lib/transport/session.ts";
import { Logger } from "../../lib/log.ts";
import { MessageType, type Message } from "../../lib/protocol/index.ts";
import { join } from "node:path";
import { generateCertificates } from "../../lib/deployment/certs.ts";
import { RawClient } from "../support/raw-client.ts";
import { scratchDir } from "../support/system.ts";

const limits = { host: "127.0.0.1", port: 0, tls: undefined, maxConnections: 10, maxFrameBytes: 1024, idleTimeoutSeconds: 0 };
const servers: ConnectionServer[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) if (client.isOpen) client.close();
  for (const server of servers.splice(0)) server.abort();
});

const echo = (text: string): Message => ({ type: MessageType.Echo, payload: new TextEncoder().encode(text) });

/** A server whose sessions answer with `respond`; `links` collects each connection's link. */
function serve(
  respond: (message: Message, index: number) => ReturnType<Session["handle"]>,
  backlog = new Backlog(1000, 128),
  idleTimeoutSeconds = limits.idleTimeoutSeconds,
) {
  const links: ConnectionLink[] = [];
  const handled: Message[] = [];
  const lines: string[] = [];
  const server = new ConnectionServer(
    { ...limits, idleTimeoutSeconds },
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
  const backlog = new Backlog(2, 128);
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

/** A server whose echoes of "b…" each stand for a batch of 128 bets: they fill its backlog until removed. */
function serveBatches(backlog: Backlog, idleTimeoutSeconds?: number) {
  const texts: string[] = [];
  const served = serve(
    (message) => {
      const text = new TextDecoder().decode((message as { payload: Uint8Array }).payload);
      texts.push(text);
      if (text.startsWith("b")) backlog.add(128);
      return message;
    },
    backlog,
    idleTimeoutSeconds,
  );
  return { ...served, texts };
}

/** Connections that each said something, so that they are being read. */
async function readers(port: number, count: number): Promise<RawClient[]> {
  const all: RawClient[] = [];
  for (let i = 0; i < count; i++) {
    const client = await connect(port);
    expect(await client.request(echo(`hello ${i}`))).toEqual(echo(`hello ${i}`));
    all.push(client);
  }
  return all;
}

test("after a full backlog, paused connections read again oldest first, only as many as its room holds", async () => {
  const backlog = new Backlog(128, 128);
  const { server, texts } = serveBatches(backlog);
  const [a, b, c] = await readers(server.port, 3);
  // a's batch fills the backlog: all three stop being read, in the order they were read.
  expect(await a!.request(echo("b fill"))).toEqual(echo("b fill"));
  await c!.send(echo("b c"));
  await b!.send(echo("b b"));
  await a!.send(echo("b a"));
  // A new connection is answered: the central has turned its loop since those three arrived.
  const probe = await connect(server.port);
  expect(await probe.request(echo("probe 1"))).toEqual(echo("probe 1"));
  expect(texts.filter((text) => text.startsWith("b "))).toEqual(["b fill"]);

  // Room for one batch: the oldest, a, reads; its batch fills the backlog again.
  backlog.remove(128);
  expect(await a!.next()).toEqual(echo("b a"));
  const later = await connect(server.port);
  expect(await later.request(echo("probe 2"))).toEqual(echo("probe 2"));
  expect(texts.filter((text) => text.startsWith("b "))).toEqual(["b fill", "b a"]);
  backlog.remove(128);
  expect(await b!.next()).toEqual(echo("b b"));
  backlog.remove(128);
  expect(await c!.next()).toEqual(echo("b c"));
  expect(texts.filter((text) => text.startsWith("b "))).toEqual(["b fill", "b a", "b b", "b c"]);
});

test("a paused connection behind ones that send nothing more is still read once the backlog drains", async () => {
  const backlog = new Backlog(128, 128);
  const { server } = serveBatches(backlog);
  const clients = await readers(server.port, 5);
  expect(await clients[0]!.request(echo("b fill"))).toEqual(echo("b fill"));
  // Only the last to have been paused has anything to say; the four let in before it stay silent, so
  // no work finishes to let it in: the turns of the event loop must.
  await clients[4]!.send(echo("last"));
  const answer = clients[4]!.next();
  let answered = false;
  void answer.then(() => (answered = true));
  backlog.remove(128);
  const probe = await connect(server.port);
  for (let turn = 0; turn < 20 && !answered; turn++) await probe.request(echo(`probe ${turn}`));
  expect(answered).toBe(true);
  expect(await answer).toEqual(echo("last"));
});

test("the idle sweep hangs up a connection that says nothing, not one the central paused for its backlog", async () => {
  const backlog = new Backlog(128, 128);
  const { server } = serveBatches(backlog, 0.2);
  const [paused] = await readers(server.port, 1);
  // Its batch fills the backlog for good: from now on the central does not read it.
  expect(await paused!.request(echo("b fill"))).toEqual(echo("b fill"));
  const silent = await connect(server.port);
  expect(await silent.next()).toEqual({ type: MessageType.Error, reason: "idle for 0.2 s" });
  await silent.closed;
  // The same sweep passed over the paused connection, silent for as long: it is neither told nor closed.
  expect({ received: paused!.received.length, open: paused!.isOpen }).toEqual({ received: 2, open: true });
}, 10_000);

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
      new Backlog(1000, 128),
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
