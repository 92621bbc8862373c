/**
 * Pure logic of `gen-compose.ts`: argument parsing and the compose file text for N agencies.
 *
 * The YAML is written as a template rather than through a serializer so that the output is byte-for-byte
 * deterministic, reads like a hand-written file, and can carry comments. The file must work with compose v2
 * (`docker compose`) and compose 1.29 (`docker-compose`), so it uses no top-level `name:` and no v2-only keys.
 */

import { CENTRAL_ENV } from "./runtime-env.ts";
import { certificateFiles } from "./tls/certs.ts";
import { tlsSettings } from "./tls/config.ts";

/** Largest agency count accepted: far above any real run, low enough to refuse typos like 50000. */
export const MAX_AGENCIES = 1000;

export const DEFAULT_OUTPUT = "docker-compose-dev.yaml";

/** The one image both roles run; the role is the command. */
export const IMAGE = "lottery:latest";

/** Port the central listens on inside the network (config/central.yaml `server.port`, agency `server:12345`). */
export const SERVER_PORT = 12345;

/** The central's HTTP side (config/central.yaml `http.port`): published on the host's loopback only. */
const HTTP_PORT = 9464;

export const NETWORK = "testing_net";
export const SUBNET = "172.25.125.0/24";

/** Named volume holding the central's bets file, so that bets survive `docker compose down` (without -v). */
export const STORAGE_VOLUME = "storage";
export const STORAGE_FILEPATH = "/storage/bets.csv";

/** Folder of `bun run gen-certs` (lib/tls/certs.ts), next to the generated file. */
const CERTS_DIR = ".certs";

/** Stack file written by `--stack` without OUTPUT (not docker-compose-dev.yaml, which is committed). */
export const DEFAULT_STACK_OUTPUT = "docker-stack.yaml";

export const USAGE = `usage: bun gen-compose.ts [--stack] [--tls] [OUTPUT] N
  OUTPUT   file to write (default: ${DEFAULT_OUTPUT}, or ${DEFAULT_STACK_OUTPUT} with --stack)
  N        number of agencies, an integer from 0 to ${MAX_AGENCIES}
  --stack  a Docker Swarm stack file (docker stack deploy) instead of a compose file
  --tls    mutual TLS with the certificates \`bun run gen-certs\` wrote in ./${CERTS_DIR}/`;

export type ComposeArgs = { output: string; agencies: number; stack: boolean; tls: boolean };

const FLAGS = ["--stack", "--tls"] as const;

/**
 * Parses `[--stack] [--tls] [OUTPUT] N` (flags anywhere). Returns an error message (without the usage text) for
 * anything else: an unknown flag, a wrong number of arguments, or an N that is not a plain decimal integer in
 * 0..MAX_AGENCIES ("5.0", "-1", "1e3", " 5" refused).
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
  const output = positional.length === 2 ? positional[0]! : stack ? DEFAULT_STACK_OUTPUT : DEFAULT_OUTPUT;
  const raw = positional[positional.length - 1]!;
  if (output === "") return { error: "OUTPUT must not be empty" };
  if (!/^[0-9]+$/.test(raw)) return { error: `N must be a non-negative integer, got '${raw}'` };
  const agencies = Number(raw);
  if (agencies > MAX_AGENCIES) return { error: `N must be at most ${MAX_AGENCIES}, got ${raw}` };
  return { output, agencies, stack, tls: flags.has("--tls") };
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

/**
 * The health check's command, run by busybox sh inside the server container: it sends an echo frame
 * (size u32 BE = 4 | type 'P' | "ping") and passes only if the very same 9 bytes come back. busybox printf
 * understands octal escapes; `timeout` bounds it because Debian's small busybox nc has no idle timeout
 * (its -w only bounds the connect) and would wait for the server to close. Kept free of `$` so compose
 * interpolation never touches it.
 */
export const HEALTHCHECK_COMMAND =
  `printf '\\000\\000\\000\\004Pping' | timeout 3 nc -w 2 127.0.0.1 ${SERVER_PORT}` +
  ` | od -An -tx1 | tr -d ' \\n' | grep -qx 000000045070696e67`;

/**
 * In TLS mode netcat cannot speak to the central's port: the check asks its HTTP side instead, whose
 * /healthz answers 200 only while the central serves (503 once it stops or its storage failed). busybox
 * wget exits non-zero on anything but a 2xx.
 */
const TLS_HEALTHCHECK = ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${HTTP_PORT}/healthz`] as const;

/** The `healthcheck:` block of the server service, indented for a service body (4 spaces). */
export function healthcheckBlock(tls: boolean): string {
  const test = tls
    ? `      # The HTTP side's /healthz: the bets port speaks only mutual TLS, which netcat cannot.
      test: [${TLS_HEALTHCHECK.map((part) => JSON.stringify(part)).join(", ")}]`
    : `      # Echo frame through netcat: healthy only when the central answers its protocol, not merely listens.
      test:
        - CMD-SHELL
        - >-
          ${HEALTHCHECK_COMMAND}`;
  return `    healthcheck:
${test}
      interval: 2s
      timeout: 5s
      retries: 30
`;
}

/** Environment lines (6-space indented) that turn TLS on for a role, with the paths its files are mounted at. */
export function tlsEnvironment(prefix: "SERVER" | "CLI", paths: { cert: string; key: string; ca: string }): string {
  // The variables' names are the settings' own (lib/tls/config.ts), so the two cannot drift apart.
  const { tlsCert, tlsKey, tlsCa } = tlsSettings(prefix);
  return `      ${tlsCert.env}: ${paths.cert}\n      ${tlsKey.env}: ${paths.key}\n      ${tlsCa.env}: ${paths.ca}\n`;
}

/** Where the certificates are mounted inside the containers of the compose file. */
const CERTS_MOUNT = "/certs";

/** The server's own variables, indented for a service's `environment:`; the stack file's server has them too. */
export function serverEnvironment(agencies: number): string {
  return `      CENTRAL_CONFIG: /config/central.yaml
      LOTTERY_AGENCIES: "${agencies}"
      STORAGE_FILEPATH: ${STORAGE_FILEPATH}
      # Long-lived: JavaScriptCore's last JIT tier pays here, compiled off the thread that serves
      # (the image leaves both off, for the agencies); a heap that grows slowly keeps bursts small.
${Object.entries(CENTRAL_ENV)
  .map(([name, value]) => `      ${name}: "${value}"\n`)
  .join("")}`;
}

function serverService(agencies: number, tls: boolean): string {
  const certs = tls ? ["ca.crt", "server.crt", "server.key"].map((f) => `      - ${certPath(f)}:${CERTS_MOUNT}/${f}:ro\n`) : [];
  const env = tls
    ? tlsEnvironment("SERVER", { cert: `${CERTS_MOUNT}/server.crt`, key: `${CERTS_MOUNT}/server.key`, ca: `${CERTS_MOUNT}/ca.crt` })
    : "";
  return `  server:
    container_name: server
    image: ${IMAGE}
    build: .
    command: ["bun", "run", "central.ts"]
    environment:
${serverEnvironment(agencies)}${env}    volumes:
      - ./config/central.yaml:/config/central.yaml:ro
      - ${STORAGE_VOLUME}:/storage
${certs.join("")}    ports:
      - "127.0.0.1:${HTTP_PORT}:${HTTP_PORT}"
${healthcheckBlock(tls)}    networks:
      - ${NETWORK}
`;
}

function clientService(id: number, tls: boolean): string {
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
    image: ${IMAGE}
    command: ["bun", "run", "agency.ts"]
    environment:
      AGENCY_CONFIG: /config/agency.yaml
      CLI_ID: "${id}"
      CLI_DATA_FILE: /data/agency.csv
${env}    volumes:
      - ./config/agency.yaml:/config/agency.yaml:ro
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
 * certificates of ./.certs/. Same input, same bytes.
 */
export function renderCompose(agencies: number, { tls = false }: { tls?: boolean } = {}): string {
  checkAgencies(agencies);
  const command = `bun gen-compose.ts${tls ? " --tls" : ""} OUTPUT ${agencies}`;
  const parts = [
    `# Generated by \`${command}\` (lib/compose.ts): do not edit by hand, regenerate.
# Works with compose v2 (\`docker compose\`) and compose 1.29 (\`docker-compose\`), hence no top-level \`name:\`.
# Configuration (config/*.yaml) and bets (.data/agency-N.csv) are mounted read-only, never baked in the image.
${tls ? "# Certificates (.certs/, from `bun run gen-certs`) too: each agency sees the CA, its certificate and its key.\n" : ""}services:
`,
    serverService(agencies, tls),
  ];
  for (let id = 1; id <= agencies; id++) parts.push("\n", clientService(id, tls));
  parts.push(`
networks:
  ${NETWORK}:
    ipam:
      driver: default
      config:
        - subnet: ${SUBNET}

volumes:
  # Outlives \`docker compose down\`; \`down -v\` removes it.
  ${STORAGE_VOLUME}: {}
`);
  return parts.join("");
}
