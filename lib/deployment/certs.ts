// The certificates for mutual TLS: one CA, the central's server certificate, one client certificate per
// agency (subject CN `agency-N`, the identity the central acts on). Made with the `openssl` command
// (README, Security: why not a library), one process per certificate, several at once.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { isIpAddress } from "../config.ts";
import type { TlsMaterial } from "../tls.ts";

export interface CertificateOptions {
  /** The directory to write into; made (mode 0700) if missing. */
  out: string;
  /** Agencies 1..N each get `agency-N.crt` / `agency-N.key`. */
  agencies: number;
  /** Names (or IP addresses) the central is reached by, besides `server`, `localhost` and 127.0.0.1. */
  hosts: string[];
  /** Replace files that exist; without it, existing files stop the run before anything is written. */
  force: boolean;
  /**
   * Re-issue the server and agency certificates from the CA already in `out` (`ca.crt`, `ca.key`),
   * which stays as it is, instead of making a new CA.
   */
  keepCa?: boolean;
}

/** Days a server or agency certificate is valid (825: the longest that Apple's TLS clients accept). */
const LEAF_DAYS = 825;
/** Days the CA is valid: ten years, so rotating leaves never forces a new CA. */
const CA_DAYS = 3650;
/** The names every server certificate carries: the compose service, and this machine. */
const SERVER_NAMES = ["server", "localhost", "127.0.0.1"];

/** Where one holder's files are in a directory `generateCertificates` wrote: its certificate and key, and the CA's certificate. */
export function certificatePaths(dir: string, holder: "server" | number): TlsMaterial {
  const name = holder === "server" ? "server" : `agency-${holder}`;
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), ca: join(dir, "ca.crt") };
}

/** The file names `generateCertificates` writes for `agencies` agencies, in the order it reports them. */
export function certificateFiles(agencies: number): string[] {
  const files = ["ca.crt", "ca.key", "server.crt", "server.key"];
  for (let id = 1; id <= agencies; id++) files.push(`agency-${id}.crt`, `agency-${id}.key`);
  return files;
}

// A DNS name: dot-separated labels of letters, digits and inner hyphens (a leading `*.` for a wildcard).
const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * The server certificate's subject alternative names for `hosts` (besides SERVER_NAMES), as openssl
 * writes them: `DNS:name`, or `IP:address` for what parses as an IPv4 or IPv6 address. Throws for a
 * host that is neither.
 */
export function serverAltNames(hosts: readonly string[]): string[] {
  return [...new Set([...SERVER_NAMES, ...hosts])].map((host) => {
    if (isIpAddress(host)) return `IP:${host}`;
    if (host.length <= 253 && DNS_NAME.test(host)) return `DNS:${host}`;
    throw new Error(`not a host name or IP address: ${JSON.stringify(host)}`);
  });
}

/** The refusal to overwrite: `files` are the paths that exist already. */
export class ExistingFilesError extends Error {
  constructor(readonly files: string[]) {
    super(`refusing to overwrite ${files.join(", ")} (use --force to replace them)`);
  }
}

/**
 * The openssl configuration: a section per kind of certificate, so that nothing comes from the
 * system's openssl.cnf (Debian's adds CA:TRUE to every `req -x509`).
 */
function opensslConfig(hosts: readonly string[]): string {
  const leaf = [
    "basicConstraints = critical, CA:FALSE",
    "keyUsage = critical, digitalSignature",
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid:always",
  ];
  return [
    "[ req ]",
    "distinguished_name = dn",
    "prompt = no",
    "[ dn ]",
    "[ ca ]",
    "basicConstraints = critical, CA:TRUE, pathlen:0",
    "keyUsage = critical, keyCertSign, cRLSign",
    "subjectKeyIdentifier = hash",
    "[ server ]",
    ...leaf,
    "extendedKeyUsage = serverAuth",
    `subjectAltName = ${serverAltNames(hosts).join(", ")}`,
    "[ agency ]",
    ...leaf,
    "extendedKeyUsage = clientAuth",
    "",
  ].join("\n");
}

/** Runs `openssl args...` and resolves with its output; throws with its error output when it fails. */
async function openssl(args: string[]): Promise<string> {
  let child;
  try {
    child = Bun.spawn(["openssl", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  } catch (error) {
    throw new Error(`cannot run openssl (is it installed?): ${(error as Error).message}`);
  }
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (exit ${code}): ${stderr.trim()}`);
  return stdout;
}

/** `req -CA` (a certificate signed in one step with its new key) and `-noenc` came with OpenSSL 3.0. */
async function checkOpensslVersion(): Promise<void> {
  const version = (await openssl(["version"])).trim();
  const major = Number(/^OpenSSL (\d+)\./.exec(version)?.[1]);
  if (!(major >= 3)) throw new Error(`needs OpenSSL 3.0 or later, found ${JSON.stringify(version)}`);
}

/**
 * One `openssl req -x509` per certificate: a new P-256 key, and the certificate signed by the CA in
 * `caDir` (or by itself, for the CA). The serial number is openssl's random one.
 */
async function issue(dir: string, config: string, name: string, section: string, days: number, cn: string, caDir?: string): Promise<void> {
  const args = ["req", "-x509", "-config", config, "-extensions", section, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  args.push("-noenc", "-sha256", "-days", String(days), "-subj", `/CN=${cn}`);
  args.push("-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.crt`));
  if (caDir) args.push("-CA", join(caDir, "ca.crt"), "-CAkey", join(caDir, "ca.key"));
  await openssl(args);
}

/** Runs `tasks` with at most `limit` of them at a time. */
async function inParallel(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

/**
 * Writes a new CA (or, with `keepCa`, uses the one in `out`), server certificate and agency
 * certificates into `options.out`; resolves with the paths written. Everything is made in a scratch directory inside `out` and then renamed into place,
 * so a failure leaves the old files as they were and a reader never sees half of a new file.
 */
export async function generateCertificates(options: CertificateOptions): Promise<string[]> {
  const { out, agencies, hosts, force, keepCa = false } = options;
  if (!Number.isSafeInteger(agencies) || agencies < 1) throw new Error(`agencies must be a positive integer, got ${agencies}`);
  const config = opensslConfig(hosts);
  const caFiles = ["ca.crt", "ca.key"];
  const files = certificateFiles(agencies).filter((file) => !keepCa || !caFiles.includes(file));
  const missingCa = caFiles.map((file) => join(out, file)).filter((path) => !existsSync(path));
  if (keepCa && missingCa.length > 0) throw new Error(`no CA to keep: ${missingCa.join(", ")} not found`);
  const existing = files.map((file) => join(out, file)).filter((path) => existsSync(path));
  if (existing.length > 0 && !force) throw new ExistingFilesError(existing);
  await checkOpensslVersion();

  mkdirSync(out, { recursive: true, mode: 0o700 });
  chmodSync(out, 0o700);
  const scratch = mkdtempSync(join(out, ".gen-certs-"));
  try {
    const configFile = join(scratch, "openssl.cnf");
    writeFileSync(configFile, config, { mode: 0o600 });
    // The CA's name carries its creation time, so that an operator rotating CAs can tell them apart.
    if (!keepCa) await issue(scratch, configFile, "ca", "ca", CA_DAYS, `lottery CA ${new Date().toISOString().slice(0, 19)}Z`);
    const caDir = keepCa ? out : scratch;
    const leaves = [() => issue(scratch, configFile, "server", "server", LEAF_DAYS, "server", caDir)];
    for (let id = 1; id <= agencies; id++) {
      const name = `agency-${id}`;
      leaves.push(() => issue(scratch, configFile, name, "agency", LEAF_DAYS, name, caDir));
    }
    // openssl is a short process that mostly waits on its own start-up: a few more than the cores.
    await inParallel(leaves, availableParallelism() * 2);
    return files.map((file) => {
      chmodSync(join(scratch, file), 0o600);
      renameSync(join(scratch, file), join(out, file));
      return join(out, file);
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
