/**
 * Writes the Docker Compose file for a central and N agencies.
 *
 *   bun gen-compose.ts [OUTPUT] N      (OUTPUT defaults to docker-compose-dev.yaml; one argument is N)
 *
 * A bad N prints the usage on stderr and exits 2 without touching OUTPUT. The text comes from lib/compose.ts.
 */
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { agencyDataPath, parseComposeArgs, renderCompose, USAGE } from "./lib/compose.ts";

const args = parseComposeArgs(Bun.argv.slice(2));
if ("error" in args) {
  console.error(`gen-compose: ${args.error}\n${USAGE}`);
  process.exit(2);
}

const { output, agencies } = args;
// Write a sibling temp file and rename it, so a failed write never leaves a half-written compose file.
const tmp = `${output}.${process.pid}.tmp`;
try {
  writeFileSync(tmp, renderCompose(agencies));
  renameSync(tmp, output);
} catch (err) {
  console.error(`gen-compose: cannot write ${output}: ${(err as Error).message}`);
  process.exit(1);
}
console.log(`gen-compose: wrote ${output} (server + ${agencies} agencies)`);

// Compose resolves bind-mount paths against the compose file's folder, and Docker creates a missing source as
// an empty directory, which the agency would then fail to read: warn early (the file is still written).
const base = dirname(output);
const missing: number[] = [];
for (let id = 1; id <= agencies; id++) {
  if (!existsSync(join(base, agencyDataPath(id)))) missing.push(id);
}
if (missing.length > 0) {
  const which = missing.length <= 5 ? missing.join(", ") : `${missing.slice(0, 5).join(", ")}, …`;
  console.error(
    `gen-compose: warning: ${missing.length} data file(s) missing next to ${output} ` +
      `(.data/agency-N.csv for N = ${which}); generate them before \`docker compose up\``,
  );
}
