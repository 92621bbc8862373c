// `bun run local [--tls]`: the whole system as plain processes on 127.0.0.1, with compose-style output.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { generateCertificates } from "../../deployment/certs.ts";
import { buildBundle } from "../bundle.ts";
import { agencyTlsEnv, awaitAgencies, centralTlsEnv, httpPort, ROOT, startAgency, startCentral, type RunningProcess } from "../processes.ts";
import { countRows, Progress } from "./progress.ts";

const RUN_DIR = `${ROOT}.run`;
const USAGE = `usage: bun run local [--tls]   (agencies: LOTTERY_AGENCIES, default 5)
  --tls  mutual TLS throughout, with certificates made for this run in .run/certs/`;

let tls: boolean;
try {
  tls = parseArgs({ args: Bun.argv.slice(2), options: { tls: { type: "boolean" } } }).values.tls ?? false;
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

const agencies = Number(process.env.LOTTERY_AGENCIES ?? 5);
if (!Number.isInteger(agencies) || agencies < 1) {
  console.error(`LOTTERY_AGENCIES must be a positive integer, got ${process.env.LOTTERY_AGENCIES}`);
  process.exit(2);
}
const dataFile = (id: number) => `${ROOT}.data/agency-${id}.csv`;
const missing = Array.from({ length: agencies }, (_, i) => dataFile(i + 1)).filter((path) => !existsSync(path));
if (missing.length > 0) {
  console.error(`missing data files: ${missing.join(", ")}\nmake them with: bun run gen-data --agencies ${agencies} --bets 1000`);
  process.exit(2);
}

// Service names padded as docker compose pads them: "server   | ", "client1  | ".
const names = ["server", ...Array.from({ length: agencies }, (_, i) => `client${i + 1}`)];
const width = Math.max(...names.map((name) => name.length)) + 2;
// On a terminal, live progress (lib/tooling/local/progress.ts) stays above the log; elsewhere, plain lines.
const files = names.slice(1).map((_, i) => dataFile(i + 1));
const progress = new Progress(process.stdout, names.slice(1), process.stdout.isTTY ? await Promise.all(files.map(countRows)) : files.map(() => 0));

// Each run is a draw of its own: it starts from an empty storage.
rmSync(RUN_DIR, { recursive: true, force: true });
mkdirSync(RUN_DIR, { recursive: true });

// Every line of a process goes to its own log in .run/; the terminal shows all but the lines of one bet each
// (an agency confirms every bet it sent: 78,697 lines for the course's data).
const logPath = (name: string) => `${RUN_DIR}/${name}.log`;
const logs = new Map(names.map((name) => [name, Bun.file(logPath(name)).writer()]));
const PER_BET = /action: apuesta_(enviada|almacenada) \|/;
const PER_BET_NOTE = "apuesta_enviada and apuesta_almacenada lines";
const print = (name: string, line: string) => {
  logs.get(name)!.write(`${line}\n`);
  if (!PER_BET.test(line)) progress.log(`${name.padEnd(width)}| ${line}`);
};
// The processes run a bundle of the sources as they are now: it starts faster than the sources.
const bundle = await buildBundle(`${RUN_DIR}/build`);
// startCentral and startAgency pass the environment on; their own per-process settings come on top.
const env = { LOTTERY_AGENCIES: String(agencies), SERVER_HTTP_PORT: process.env.SERVER_HTTP_PORT || "0" };

// With --tls, a CA of this run's own: each agency gets only its own certificate and key.
const certs = `${RUN_DIR}/certs`;
if (tls) await generateCertificates({ out: certs, agencies, hosts: [], force: false });
const centralEnv = tls ? { ...env, ...centralTlsEnv(certs) } : env;
const agencyEnv = (id: number) => (tls ? { ...env, ...agencyTlsEnv(certs, id) } : env);

const central = await startCentral(`${RUN_DIR}/bets.csv`, centralEnv, print, bundle.central).catch((error: Error) => {
  console.error(`${tls ? "--tls: " : ""}${error.message}`);
  return process.exit(1);
});
const http = env.SERVER_HTTP_PORT === "off" ? undefined : await httpPort(central);
if (http !== undefined) {
  progress.log(`status page: http://127.0.0.1:${http}/`);
  progress.follow(http);
}

const started = performance.now();
const clients: RunningProcess[] = names.slice(1).map((_, i) => startAgency(i + 1, central.port, dataFile(i + 1), agencyEnv(i + 1), print, bundle.agency));
const codes = await awaitAgencies(clients);
const wall = (performance.now() - started) / 1000;
await progress.stop(http);

central.process.kill("SIGTERM");
const centralCode = await central.done;
await Promise.all([...logs.values()].map((log) => log.end()));

const storedBy = new Map<number, number>();
for (const line of central.lines) {
  const match = line.match(/action: fin_apuestas \| result: success \| agency: (\d+) \| cantidad: (\d+)/);
  if (match) storedBy.set(Number(match[1]), Number(match[2]));
}
const winnersOf = (client: RunningProcess) =>
  client.lines.map((line) => line.match(/action: consulta_ganadores \| result: success \| cant_ganadores: (\d+)/)).find(Boolean)?.[1];

console.log("\nagency | bets stored | winners | exit");
clients.forEach((client, i) => {
  console.log(`${String(i + 1).padStart(6)} | ${String(storedBy.get(i + 1) ?? "-").padStart(11)} | ${(winnersOf(client) ?? "-").padStart(7)} | ${codes[i]}`);
});
const total = [...storedBy.values()].reduce((a, b) => a + b, 0);
const ok = codes.every((code) => code === 0) && centralCode === 0;
console.log(
  `\n${ok ? "OK" : "FAILED"}: ${total} bets stored by ${agencies} agencies in ${wall.toFixed(2)} s; ` +
    `central exit ${centralCode}; storage ${RUN_DIR}/bets.csv${tls ? `; mutual TLS, certificates ${certs}` : ""}`,
);
console.log(`every line of each process, the ${PER_BET_NOTE} included: ${RUN_DIR}/server.log, ${RUN_DIR}/client1.log …`);
process.exit(ok ? 0 : 1);
