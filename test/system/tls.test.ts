// Mutual TLS end to end: a real central on its TLS port, clients with certificates of its CA, of another
// CA, or none. The central acts for each connection only as the agency its certificate names.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { BetBlock } from "../../lib/bet/bet-block.ts";
import { agencyTlsEnv, centralTlsEnv } from "../../lib/tooling/processes.ts";
import { MessageType, type Message } from "../../lib/protocol/index.ts";
import { generateCertificates } from "../../lib/deployment/certs.ts";
import { RawClient } from "../support/raw-client.ts";
import { exactlyOnceProblems } from "../support/crash-kit.ts";
import { actionLines, expectedWinners, firstLineAbout, makeDataset, readCsv, Scope, scratchDir, waitForLine, waitForLines } from "../support/system.ts";

const scope = new Scope();
afterEach(() => scope.cleanup());

const certs = scratchDir("lottery-tls-");
const ours = join(certs.path, "ours");
const foreign = join(certs.path, "foreign");
beforeAll(async () => {
  await generateCertificates({ out: ours, agencies: 5, hosts: [], force: false });
  // Same names, another CA: what a stranger who copied our file names would hold.
  await generateCertificates({ out: foreign, agencies: 3, hosts: [], force: false });
});
afterAll(() => certs.cleanup());

const clients: RawClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) if (client.isOpen) client.close();
});

/** A client over TLS presenting agency `id`'s certificate from `dir` (or none), checking the central by our CA. */
async function tlsClient(port: number, id: number | undefined, dir = ours): Promise<RawClient> {
  const client = await RawClient.connectTls(port, ours, id, dir);
  clients.push(client);
  return client;
}

const bet = (document: string, number: string) => ({ firstName: "Ana", lastName: "Peña", document, birthdate: "1990-01-01", number });
const bets = (agency: number, ...documents: string[]): Message => ({
  type: MessageType.Bets,
  agency,
  bets: BetBlock.of(documents.map((document) => bet(document, "7574"))),
});
const reasonOf = (reply: Message) => (reply.type === MessageType.Error ? reply.reason : `not an error: ${JSON.stringify(reply)}`);

/** One agency's whole session over TLS: hello, one batch, END, its winners. */
async function runAgency(port: number, id: number, document: string): Promise<Message> {
  const client = await tlsClient(port, id);
  expect(await client.request({ type: MessageType.Hello, agency: id })).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(await client.request(bets(id, document))).toEqual({ type: MessageType.Ok, count: 1 });
  expect(await client.request({ type: MessageType.End, agency: id })).toEqual({ type: MessageType.Ok, count: 1 });
  return client.request({ type: MessageType.WinnersQuery, agency: id });
}

test("five agencies over mutual TLS: every bet stored once, each agency told its own winners", async () => {
  const dir = scope.dir("lottery-tls-e2e-");
  const files = await makeDataset(dir, [3000, 2500, 2000, 1500, 1000], 31);
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "5", ...centralTlsEnv(ours) });
  const agencies = files.map((file, i) => scope.agency(i + 1, central.port, file, agencyTlsEnv(ours, i + 1)));
  expect(await Promise.all(agencies.map((agency) => agency.done))).toEqual([0, 0, 0, 0, 0]);
  for (const [i, agency] of agencies.entries()) {
    expect(actionLines(agency, "config")[0]).toContain("| tls: on");
    expect(actionLines(agency, "consulta_ganadores")[0]).toEndWith(`cant_ganadores: ${await expectedWinners(files[i]!)}`);
  }
  expect(actionLines(central, "sorteo")).toHaveLength(1);
  expect(exactlyOnceProblems(central.storage, files)).toEqual([]);
  expect(actionLines(central, "acceso_denegado")).toEqual([]);
}, 60_000);

test("a connection with agency 2's certificate can act for agency 2 only; the draw waits for the real agency 3", async () => {
  const dir = scope.dir("lottery-tls-e2e-");
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "3", ...centralTlsEnv(ours) });
  expect(actionLines(central, "config")[0]).toContain("| tls: on");

  const impostor = await tlsClient(central.port, 2);
  // Before its hello, and with a hello naming agency 3: every request for agency 3 is refused.
  expect(reasonOf(await impostor.request({ type: MessageType.Hello, agency: 3 }))).toBe("this connection belongs to agency 2, not 3");
  expect(reasonOf(await impostor.request(bets(3, "300")))).toBe("this connection has not said hello yet");
  expect(reasonOf(await impostor.request({ type: MessageType.End, agency: 3 }))).toBe("this connection has not said hello yet");
  // As agency 2, which its certificate names, it is served; for agency 3 it still is not.
  expect(await impostor.request({ type: MessageType.Hello, agency: 2 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(reasonOf(await impostor.request(bets(3, "301")))).toBe("this connection belongs to agency 2, not 3");
  expect(reasonOf(await impostor.request({ type: MessageType.End, agency: 3 }))).toBe("this connection belongs to agency 2, not 3");
  expect(reasonOf(await impostor.request({ type: MessageType.WinnersQuery, agency: 3 }))).toBe("this connection belongs to agency 2, not 3");
  // Echo is answered to anyone on the port.
  const echo: Message = { type: MessageType.Echo, payload: new TextEncoder().encode("ping") };
  expect(await impostor.request(echo)).toEqual(echo);

  // Lines reach us through the central's stdout, apart from the answers: wait for all six.
  await waitForLines(central, /action: acceso_denegado \|/, 6);
  const denied = actionLines(central, "acceso_denegado");
  expect(denied).toHaveLength(6);
  for (const line of denied) expect(line).toMatch(/WARNING +action: acceso_denegado \| result: fail \| peer: 127\.0\.0\.1:\d+ \| agency: 2 \| claimed: 3$/);

  // Agencies 1 and 2 finish; the draw still waits for agency 3, whose END nobody else could send.
  const first = runAgency(central.port, 1, "100");
  const second = runAgency(central.port, 2, "200");
  await waitForLine(central, /action: fin_apuestas \| result: success \| agency: 2 \|/);
  await waitForLine(central, /action: fin_apuestas \| result: success \| agency: 1 \|/);
  const probe = await tlsClient(central.port, 1);
  expect(await probe.request(echo)).toEqual(echo);
  expect(actionLines(central, "sorteo")).toEqual([]);

  expect(await runAgency(central.port, 3, "300")).toEqual({ type: MessageType.Winners, documents: ["300"] });
  expect(await first).toEqual({ type: MessageType.Winners, documents: ["100"] });
  expect(await second).toEqual({ type: MessageType.Winners, documents: ["200"] });
  // Nothing the impostor sent for agency 3 was stored.
  expect(readCsv(central.storage).map((row) => `${row[0]}:${row[3]}`).sort()).toEqual(["1:100", "2:200", "3:300"]);
}, 30_000);

test("a plaintext client, one without a certificate and one of another CA never reach the protocol", async () => {
  const dir = scope.dir("lottery-tls-e2e-");
  // At DEBUG the central logs each connection it lets in: a client it wrongly took would show there.
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "1", LOGGING_LEVEL: "DEBUG", ...centralTlsEnv(ours) });

  // Each says hello and must see the connection closed unanswered, and the central's first line about
  // it must be its failed handshake: an answer, or a line letting it in, fails the test there and then.
  const refused = async (client: RawClient, who: string) => {
    client.send({ type: MessageType.Hello, agency: 1 });
    expect(await client.answerOrClose(), `the central answered ${who}`).toBeUndefined();
    const line = await firstLineAbout(central, client.peer);
    expect(line, `the central let in ${who}`).toMatch(/WARNING +action: tls \| result: fail \| peer: [\d.:]+ \| error: ./);
  };
  const plain = await scope.client(central.port);
  await refused(plain, "a plaintext client");
  const nameless = await tlsClient(central.port, undefined);
  await refused(nameless, "a client without a certificate");
  const stranger = await tlsClient(central.port, 1, foreign);
  await refused(stranger, "a client whose certificate another CA signed");

  // None of them got an answer, and each handshake failure is one log line.
  for (const client of [plain, nameless, stranger]) expect(client.received).toEqual([]);
  expect(actionLines(central, "tls")).toHaveLength(3);
  expect(actionLines(central, "agencia_conectada")).toEqual([]);

  // The central goes on serving the agency that belongs.
  expect(await runAgency(central.port, 1, "100")).toEqual({ type: MessageType.Winners, documents: ["100"] });
}, 30_000);

test("plain mode: bets, END and a winners query before a hello are refused, and so is a query for another agency", async () => {
  const dir = scope.dir("lottery-tls-e2e-");
  const central = await scope.central(join(dir, "bets.csv"), { LOTTERY_AGENCIES: "2" });
  expect(actionLines(central, "config")[0]).toContain("| tls: off");
  const client = await scope.client(central.port);
  expect(reasonOf(await client.request(bets(1, "100")))).toBe("this connection has not said hello yet");
  expect(reasonOf(await client.request({ type: MessageType.End, agency: 1 }))).toBe("this connection has not said hello yet");
  expect(reasonOf(await client.request({ type: MessageType.WinnersQuery, agency: 1 }))).toBe("this connection has not said hello yet");
  expect(await client.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
  expect(reasonOf(await client.request({ type: MessageType.WinnersQuery, agency: 2 }))).toBe("this connection belongs to agency 1, not 2");
  expect(reasonOf(await client.request({ type: MessageType.Hello, agency: 2 }))).toBe("this connection belongs to agency 1, not 2");
  await waitForLines(central, /action: acceso_denegado \|/, 5);
  const denied = actionLines(central, "acceso_denegado");
  expect(denied.slice(0, 3).every((line) => line.endsWith("| agency: none | claimed: 1"))).toBe(true);
  expect(denied.slice(3)).toHaveLength(2);
  for (const line of denied.slice(3)) expect(line).toEndWith("| agency: 1 | claimed: 2");
  // Nothing was stored or counted: the hello's count is still 0.
  const again = await scope.client(central.port);
  expect(await again.request({ type: MessageType.Hello, agency: 1 })).toEqual({ type: MessageType.Welcome, stored: 0 });
}, 30_000);
