/**
 * Pure logic of `gen-compose.ts`: argument parsing and the compose file text for N agencies.
 *
 * The YAML is written as a template rather than through a serializer so that the output is byte-for-byte
 * deterministic, reads like a hand-written file, and can carry comments. It is a Compose v2 file
 * (`docker compose`): its top-level `name:` makes the project the course's `tp0` wherever it is run from.
 */

import { CENTRAL_CONFIG_FILE } from "../central/config.ts";
import { AGENCY_CONFIG_FILE } from "../agency/config.ts";
import { certificateFiles } from "./certs.ts";
import { tlsEnv, type TlsMaterial } from "../tls.ts";

/** Largest agency count accepted: far above any real run, low enough to refuse typos like 50000. */
export const MAX_AGENCIES = 1000;

export const DEFAULT_OUTPUT = "docker-compose-dev.yaml";

/** The course's compose project: its network is `tp0_testing_net`, where its harness starts its own echo servers. */
export const PROJECT = "tp0";

/** The images the course's commands build: `docker build -f ./server/Dockerfile -t server:latest .`, and the client's. */
export const SERVER_IMAGE = "server:latest";
export const CLIENT_IMAGE = "client:latest";

/** `docker build` for each image, as the course's Makefile runs it (from the repository's root). */
export const IMAGE_BUILDS = [
  ["docker", "build", "-f", "./server/Dockerfile", "-t", SERVER_IMAGE, "."],
  ["docker", "build", "-f", "./client/Dockerfile", "-t", CLIENT_IMAGE, "."],
] as const;

/** The images' working directory (server/Dockerfile, client/Dockerfile): the roles find their config files under it. */
const APP_DIR = "/app";

/** The central's HTTP side (SERVER_HTTP_PORT): its health check, published on the host's loopback only. */
const HTTP_PORT = 9464;

export const NETWORK = "testing_net";
export const SUBNET = "172.25.125.0/24";

/** Where the central keeps its bets in the container: in the container's own file system unless a volume is asked for. */
export const STORAGE_DIR = "/storage";
export const STORAGE_FILEPATH = `${STORAGE_DIR}/bets.csv`;
/** The named volume of `--keep-bets` (and of the stack file), which outlives `docker compose down`. */
export const STORAGE_VOLUME = "storage";

/** Folder of `bun run gen-certs` (lib/deployment/certs.ts), next to the generated file. */
const CERTS_DIR = ".certs";

/** Stack file written by `--stack` without OUTPUT (not docker-compose-dev.yaml, which is committed). */
export const DEFAULT_STACK_OUTPUT = "docker-stack.yaml";

export const USAGE = `usage: bun gen-compose.ts [--stack] [--tls] [--keep-bets] [OUTPUT] N
  OUTPUT       file to write (default: ${DEFAULT_OUTPUT}, or ${DEFAULT_STACK_OUTPUT} with --stack)
  N            number of agencies, an integer from 0 to ${MAX_AGENCIES}
  --stack      a Docker Swarm stack file (docker stack deploy) instead of a compose file
  --tls        mutual TLS with the certificates \`bun run gen-certs\` wrote in ./${CERTS_DIR}/
  --keep-bets  the central's bets on a named volume, kept across \`docker compose down\` (a lottery
               then goes on over several ups); without it each \`up\` after a \`down\` is a new lottery`;

export type ComposeArgs = { output: string; agencies: number; stack: boolean; tls: boolean; keepBets: boolean };

const FLAGS = ["--stack", "--tls", "--keep-bets"] as const;

/**
 * Parses `[--stack] [--tls] [--keep-bets] [OUTPUT] N` (flags anywhere). Returns an error message (without the
 * usage text) for anything else: an unknown flag, a wrong number of arguments, or an N that is not a plain
 * decimal integer in 0..MAX_AGENCIES ("5.0", "-1", "1e3", " 5" refused).
 */
export function parseComposeArgs(argv: readonly string[]): ComposeArgs | { error: string } {
  const flags = new Set<string>();
  const positional: string[] = [];
  for (const arg of argv) {
    if ((FLAGS as readonly string[]).includes(arg)) flags.add(arg);
    else if (arg.startsWith("--")) return { error: `unknown option ${arg}` };
    else positional.push(arg);
  }
  const stack = flags.has("--stack");
  if (positional.length < 1 || positional.length > 2) {
    return { error: `expected 1 or 2 arguments besides the options, got ${positional.length}` };
  }
  // The stack always keeps its bets on a volume (on the node labelled for it).
  if (stack && flags.has("--keep-bets")) return { error: "--keep-bets is for compose files: a stack always keeps its bets on a volume" };
  const output = positional.length === 2 ? positional[0]! : stack ? DEFAULT_STACK_OUTPUT : DEFAULT_OUTPUT;
  const raw = positional[positional.length - 1]!;
  if (output === "") return { error: "OUTPUT must not be empty" };
  if (!/^[0-9]+$/.test(raw)) return { error: `N must be a non-negative integer, got '${raw}'` };
  const agencies = Number(raw);
  if (agencies > MAX_AGENCIES) return { error: `N must be at most ${MAX_AGENCIES}, got ${raw}` };
  return { output, agencies, stack, tls: flags.has("--tls"), keepBets: flags.has("--keep-bets") };
}

/** Throws unless `agencies` is a count the generators accept. */
export function checkAgencies(agencies: number): void {
  if (!Number.isInteger(agencies) || agencies < 0 || agencies > MAX_AGENCIES) {
    throw new RangeError(`agencies must be an integer in 0..${MAX_AGENCIES}, got ${agencies}`);
  }
}

/** Host path (relative to the compose file) of agency `id`'s bets file. */
export function agencyDataPath(id: number): string {
  return `./.data/agency-${id}.csv`;
}

/** Host path (relative to the generated file) of a file `bun run gen-certs` wrote. */
export function certPath(name: string): string {
  return `./${CERTS_DIR}/${name}`;
}

/** The files of gen-certs a TLS run reads: all it writes but the CA's key, which stays with the operator. */
export function tlsFiles(agencies: number): string[] {
  return certificateFiles(agencies).filter((file) => file !== "ca.key");
}

/** The config files as mounted: where the roles look for them by default, under the images' working directory. */
export const CENTRAL_CONFIG_MOUNT = `${APP_DIR}/${CENTRAL_CONFIG_FILE}`;
export const AGENCY_CONFIG_MOUNT = `${APP_DIR}/${AGENCY_CONFIG_FILE}`;

/**
 * The central's health check: its HTTP side's /healthz answers 200 only while it serves (503 once it stops
 * or its storage failed); busybox wget exits non-zero on anything else. It asks 127.0.0.1, so it holds
 * whatever SERVER_IP the central listens on, and over TLS too, which a netcat echo could not speak.
 */
const HEALTHCHECK = ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${HTTP_PORT}/healthz`] as const;

/** The `healthcheck:` block of the server service, indented for a service body (4 spaces). */
export function healthcheckBlock(): string {
  return `    healthcheck:
      test: [${HEALTHCHECK.map((part) => JSON.stringify(part)).join(", ")}]
      interval: 1s
      timeout: 5s
      retries: 60
`;
}

/** Environment lines (6-space indented) that turn TLS on for a role, with the paths its files are mounted at. */
export function tlsEnvironment(prefix: "SERVER" | "CLI", paths: TlsMaterial): string {
  // The variables' names are the settings' own (lib/tls.ts), so the two cannot drift apart.
  return Object.entries(tlsEnv(prefix, paths))
    .map(([name, path]) => `      ${name}: ${path}\n`)
    .join("");
}

/** Where the certificates are mounted inside the containers of the compose file. */
const CERTS_MOUNT = "/certs";

/**
 * The server's own variables, indented for a service's `environment:`; the stack file's server has them
 * too. They win over server/config.ini: the draw waits for the agencies this file starts, and the health
 * check asks the HTTP side's port.
 */
export function serverEnvironment(agencies: number): string {
  return `      LOTTERY_AGENCIES: "${agencies}"
      STORAGE_FILEPATH: ${STORAGE_FILEPATH}
      SERVER_HTTP_PORT: "${HTTP_PORT}"
`;
}

function composeServer(agencies: number, tls: boolean, keepBets: boolean): string {
  const certs = tls ? ["ca.crt", "server.crt", "server.key"].map((f) => `      - ${certPath(f)}:${CERTS_MOUNT}/${f}:ro\n`) : [];
  const env = tls
    ? tlsEnvironment("SERVER", { cert: `${CERTS_MOUNT}/server.crt`, key: `${CERTS_MOUNT}/server.key`, ca: `${CERTS_MOUNT}/ca.crt` })
    : "";
  const storage = keepBets
    ? `      # --keep-bets: the bets outlive \`docker compose down\`; \`down -v\` removes them.\n      - ${STORAGE_VOLUME}:${STORAGE_DIR}\n`
    : "";
  return `  server:
    container_name: server
    image: ${SERVER_IMAGE}
    # Built by \`make docker-image\` (the course's two \`docker build\` commands): never looked for in a registry.
    pull_policy: never
    environment:
${serverEnvironment(agencies)}${env}    volumes:
      - ./${CENTRAL_CONFIG_FILE}:${CENTRAL_CONFIG_MOUNT}:ro
${storage}${certs.join("")}    ports:
      - "127.0.0.1:${HTTP_PORT}:${HTTP_PORT}"
${healthcheckBlock()}    networks:
      - ${NETWORK}
`;
}

function composeClient(id: number, tls: boolean): string {
  // Each agency gets the CA, its own certificate and only its own key, under fixed names.
  const certs = tls
    ? [
        `      - ${certPath("ca.crt")}:${CERTS_MOUNT}/ca.crt:ro\n`,
        `      - ${certPath(`agency-${id}.crt`)}:${CERTS_MOUNT}/agency.crt:ro\n`,
        `      - ${certPath(`agency-${id}.key`)}:${CERTS_MOUNT}/agency.key:ro\n`,
      ]
    : [];
  const env = tls
    ? tlsEnvironment("CLI", { cert: `${CERTS_MOUNT}/agency.crt`, key: `${CERTS_MOUNT}/agency.key`, ca: `${CERTS_MOUNT}/ca.crt` })
    : "";
  return `  client${id}:
    container_name: client${id}
    image: ${CLIENT_IMAGE}
    pull_policy: never
    environment:
      CLI_ID: "${id}"
      CLI_DATA_FILE: /data/agency.csv
${env}    volumes:
      - ./${AGENCY_CONFIG_FILE}:${AGENCY_CONFIG_MOUNT}:ro
      - ${agencyDataPath(id)}:/data/agency.csv:ro
${certs.join("")}    depends_on:
      server:
        condition: service_healthy
    networks:
      - ${NETWORK}
`;
}

/**
 * The compose file for `agencies` agencies (0 gives the server alone); with `tls`, over mutual TLS with the
 * certificates of ./.certs/; with `keepBets`, the central's bets on a named volume. Same input, same bytes.
 */
export function renderCompose(agencies: number, { tls = false, keepBets = false }: { tls?: boolean; keepBets?: boolean } = {}): string {
  checkAgencies(agencies);
  const command = `./generar-compose.sh${tls ? " --tls" : ""}${keepBets ? " --keep-bets" : ""} OUTPUT ${agencies}`;
  const parts = [
    `# Generated by \`${command}\` (lib/deployment/compose.ts): do not edit by hand, regenerate.
# Docker Compose v2. Configuration (${CENTRAL_CONFIG_FILE}, ${AGENCY_CONFIG_FILE}) and bets (.data/agency-N.csv) are
# mounted read-only, never baked in the images. ${
      keepBets
        ? "The bets are kept on the volume `storage` across `down`."
        : "The bets live in the server's container: `restart` and\n# `stop`/`start` keep them, `down` ends the lottery and the next `up` starts a new one."
    }
${tls ? "# Certificates (.certs/, from `bun run gen-certs`) too: each agency sees the CA, its certificate and its key.\n" : ""}name: ${PROJECT}

services:
`,
    composeServer(agencies, tls, keepBets),
  ];
  for (let id = 1; id <= agencies; id++) parts.push("\n", composeClient(id, tls));
  parts.push(`
networks:
  ${NETWORK}:
    ipam:
      driver: default
      config:
        - subnet: ${SUBNET}
`);
  if (keepBets) parts.push(`\nvolumes:\n  ${STORAGE_VOLUME}: {}\n`);
  return parts.join("");
}
