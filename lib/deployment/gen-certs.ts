// `bun run gen-certs`: the certificates for mutual TLS (lib/deployment/certs.ts; README, Security).
import { parseArgs } from "node:util";
import { generateCertificates, serverAltNames } from "./certs.ts";

const USAGE = `usage: bun run gen-certs [--out DIR] [--agencies N] [--hosts NAME,...] [--force] [--keep-ca]
  Writes ca.crt, ca.key, server.crt, server.key and agency-1.crt/.key ... agency-N.crt/.key into DIR
  (default .certs/, N default 5). The server certificate names server, localhost, 127.0.0.1 and the
  --hosts names (IP addresses as such). Without --force, files that exist are not overwritten.
  --keep-ca re-issues the server and agency certificates from DIR's ca.crt/ca.key, which stay.`;

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: "string" },
      agencies: { type: "string" },
      hosts: { type: "string" },
      force: { type: "boolean" },
      "keep-ca": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const agencies = values.agencies ?? "5";
  if (!/^[0-9]+$/.test(agencies) || Number(agencies) < 1) throw new Error(`--agencies must be a positive integer, got ${JSON.stringify(agencies)}`);
  const hosts = (values.hosts ?? "").split(",").map((host) => host.trim()).filter(Boolean);
  serverAltNames(hosts);
  if (values.out === "") throw new Error("--out must name a directory");
  return { help: values.help ?? false, out: values.out ?? ".certs", agencies: Number(agencies), hosts, force: values.force ?? false, keepCa: values["keep-ca"] ?? false };
}

let options;
try {
  options = parse(Bun.argv.slice(2));
} catch (error) {
  console.error(`gen-certs: ${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
try {
  const files = await generateCertificates(options);
  const ca = options.keepCa ? "the CA kept" : "a new CA";
  console.log(`wrote ${files.length} files into ${options.out}: ${ca}, server (${serverAltNames(options.hosts).join(", ")}), agencies 1-${options.agencies}`);
} catch (error) {
  console.error(`gen-certs: ${(error as Error).message}`);
  // A refusal to overwrite, or openssl failing: not a usage error.
  process.exit(1);
}
