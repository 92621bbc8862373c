/**
 * Writes the Docker Compose file for a central and N agencies, or with --stack the Docker Swarm stack file.
 *
 *   bun gen-compose.ts [--stack] [--tls] [--keep-bets] [OUTPUT] N
 *     OUTPUT defaults to docker-compose-dev.yaml (docker-stack.yaml with --stack); one argument is N.
 *     --tls: mutual TLS with the certificates of `bun run gen-certs` in .certs/ next to OUTPUT.
 *     --keep-bets: the central's bets on a named volume, kept across `docker compose down`.
 *
 * A bad argument prints the usage on stderr and exits 2 without touching OUTPUT. The text comes from
 * lib/deployment/compose.ts and lib/deployment/stack-file.ts. The stack file names its configs and secrets by their content,
 * so it reads server/config.ini and client/config.yaml (and with --tls .certs/) next to OUTPUT, and with --tls writes the per-agency
 * templates into that .certs/ (see lib/deployment/stack-file.ts).
 */
import { existsSync, lstatSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { agencyDataPath, certPath, parseComposeArgs, renderCompose, tlsFiles, USAGE } from "./lib/deployment/compose.ts";
import {
  AGENCY_CERT_TEMPLATE,
  AGENCY_KEY_TEMPLATE,
  agencyTemplate,
  contentVersion,
  renderStack,
  RUNTIME_UID,
  stackObjects,
} from "./lib/deployment/stack-file.ts";

const args = parseComposeArgs(Bun.argv.slice(2));
if ("error" in args) {
  console.error(`gen-compose: ${args.error}\n${USAGE}`);
  process.exit(2);
}

const { output, agencies, stack, tls, keepBets } = args;
const base = dirname(output);
const fail = (message: string): never => {
  console.error(`gen-compose: ${message}`);
  process.exit(1);
};

/** Paths with a missing file among `paths` (relative to OUTPUT's folder). */
const missingOf = (paths: string[]) => paths.filter((path) => !existsSync(join(base, path)));

/**
 * Writes a sibling temp file and renames it, so a failed write never leaves a half-written file. A path
 * that is something else than a file (a symlink, /dev/stdout) is written through instead: a rename would
 * put a file in its place.
 */
function writeAtomically(path: string, text: string, mode = 0o644): void {
  try {
    const existing = lstatSync(path, { throwIfNoEntry: false });
    if (existing && !existing.isFile()) return writeFileSync(path, text);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, path);
  } catch (err) {
    fail(`cannot write ${path}: ${(err as Error).message}`);
  }
}

function stackText(): string {
  // Everything is read and checked before anything is written: a refusal leaves the folder as it was.
  const templates = new Map<string, { text: string; mode: number }>();
  if (tls) {
    // Swarm makes the secrets from these files: they must exist now, not only at deploy time.
    const missing = missingOf(tlsFiles(agencies).map(certPath));
    if (missing.length > 0) fail(`--tls needs the certificates of \`bun run gen-certs --agencies ${agencies}\`: missing ${missing.slice(0, 3).join(", ")}`);
    const pems = (suffix: string) =>
      Array.from({ length: agencies }, (_, i) => readFileSync(join(base, certPath(`agency-${i + 1}.${suffix}`)), "utf8"));
    templates.set(certPath(AGENCY_CERT_TEMPLATE), { text: agencyTemplate(pems("crt")), mode: 0o644 });
    templates.set(certPath(AGENCY_KEY_TEMPLATE), { text: agencyTemplate(pems("key")), mode: 0o600 });
  }
  const versions: Record<string, string> = {};
  for (const { key, file } of stackObjects({ tls })) {
    const template = templates.get(file);
    const path = join(base, file);
    if (!template && !existsSync(path)) fail(`the stack file names ${file} by its content, and ${path} is missing`);
    versions[key] = contentVersion(template ? template.text : readFileSync(path));
  }
  for (const [file, { text, mode }] of templates) writeAtomically(join(base, file), text, mode);
  return renderStack(agencies, { tls, versions });
}

writeAtomically(output, stack ? stackText() : renderCompose(agencies, { tls, keepBets }));
console.log(
  `gen-compose: wrote ${output} (${stack ? "stack: " : ""}server + ${agencies} agencies${tls ? ", mutual TLS" : ""}${keepBets ? ", bets kept on a volume" : ""})`,
);

// Compose resolves bind-mount paths against the compose file's folder, and Docker creates a missing source as
// an empty directory, which the agency would then fail to read: warn early (the file is still written).
const missingData: number[] = [];
for (let id = 1; id <= agencies; id++) {
  if (!existsSync(join(base, agencyDataPath(id)))) missingData.push(id);
}
if (missingData.length > 0) {
  const which = missingData.length <= 5 ? missingData.join(", ") : `${missingData.slice(0, 5).join(", ")}, …`;
  console.error(
    `gen-compose: warning: ${missingData.length} data file(s) missing next to ${output} ` +
      `(.data/agency-N.csv for N = ${which}); generate them before starting it`,
  );
}

if (tls && !stack) {
  const missing = missingOf(tlsFiles(agencies).map(certPath));
  if (missing.length > 0) {
    console.error(`gen-compose: warning: ${missing.length} certificate file(s) missing next to ${output}; run \`bun run gen-certs --agencies ${agencies}\``);
  }
  // gen-certs writes every file 0600, and a bind mount keeps owner and mode: the containers' user (uid 1000)
  // must own them to read them.
  const unreadable = tlsFiles(agencies)
    .filter((f) => !missing.includes(certPath(f)))
    .filter((f) => {
      const { uid, mode } = statSync(join(base, certPath(f)));
      return String(uid) !== RUNTIME_UID && (mode & 0o004) === 0;
    });
  if (unreadable.length > 0) {
    console.error(
      `gen-compose: warning: ${unreadable.length} file(s) in .certs/ the containers' user (uid ${RUNTIME_UID}) cannot read: ` +
        `\`chown ${RUNTIME_UID}:${RUNTIME_UID} .certs/*\``,
    );
  }
}
