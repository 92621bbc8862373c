import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket, TLSOptions } from "bun";
import { certificateFiles, generateCertificates } from "../../lib/deployment/certs.ts";
import { scratchDir } from "../support/system.ts";

const ROOT = join(import.meta.dir, "..", "..");
const AGENCIES = 3;
const scratch = scratchDir("lottery-certs-");
/** Made by the CLI, as an operator would: the certificates every test here reads. */
const dir = join(scratch.path, "certs");
/** Another CA's certificates: what a stranger would bring. */
const foreign = join(scratch.path, "foreign");

async function genCerts(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([process.execPath, "run", "lib/deployment/gen-certs.ts", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

async function openssl(...args: string[]): Promise<{ code: number; output: string }> {
  const child = Bun.spawn(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, output: stdout + stderr };
}

const cert = (path: string) => new X509Certificate(readFileSync(path));
const pem = (name: string, from = dir) => readFileSync(join(from, name), "utf8");

beforeAll(async () => {
  const made = await genCerts("--out", dir, "--agencies", String(AGENCIES), "--hosts", "central.example, 10.0.0.7,fd00::7");
  if (made.code !== 0) throw new Error(`gen-certs failed: ${made.stderr}`);
  await generateCertificates({ out: foreign, agencies: 1, hosts: [], force: false });
});
afterAll(() => scratch.cleanup());

describe("gen-certs writes", () => {
  test("exactly the CA, the server's and each agency's certificate and key, all 0600 in a 0700 directory", () => {
    const expected = ["ca.crt", "ca.key", "server.crt", "server.key", "agency-1.crt", "agency-1.key", "agency-2.crt", "agency-2.key", "agency-3.crt", "agency-3.key"];
    expect(readdirSync(dir).sort()).toEqual(expected.sort());
    expect(certificateFiles(AGENCIES).sort()).toEqual(expected.sort());
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const file of expected) expect([file, statSync(join(dir, file)).mode & 0o777]).toEqual([file, 0o600]);
  });

  test("agency certificates whose subject is exactly CN=agency-N, for client authentication only", () => {
    for (let id = 1; id <= AGENCIES; id++) {
      const agency = cert(join(dir, `agency-${id}.crt`));
      expect(agency.subject).toBe(`CN=agency-${id}`);
      expect(agency.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]); // TLS client authentication
      expect(agency.ca).toBe(false);
    }
  });

  test("a server certificate for server, localhost, 127.0.0.1 and the --hosts names (IPs as IP names), server auth only", () => {
    const server = cert(join(dir, "server.crt"));
    expect(server.subject).toBe("CN=server");
    expect(server.subjectAltName).toBe(
      "DNS:server, DNS:localhost, IP Address:127.0.0.1, DNS:central.example, IP Address:10.0.0.7, IP Address:FD00:0:0:0:0:0:0:7",
    );
    expect(server.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]); // TLS server authentication
    expect(server.ca).toBe(false);
  });

  test("ECDSA P-256 keys, a CA that is one, leaves that expire before it, distinct random serials", () => {
    for (const name of certificateFiles(AGENCIES).filter((file) => file.endsWith(".key"))) {
      const key = createPrivateKey(pem(name));
      expect([name, key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve]).toEqual([name, "ec", "prime256v1"]);
    }
    const ca = cert(join(dir, "ca.crt"));
    expect(ca.ca).toBe(true);
    const leaves = certificateFiles(AGENCIES).filter((file) => file.endsWith(".crt") && file !== "ca.crt").map((file) => cert(join(dir, file)));
    for (const leaf of leaves) {
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(new Date(leaf.validTo).getTime()).toBeLessThan(new Date(ca.validTo).getTime());
      expect(new Date(leaf.validTo).getTime()).toBeGreaterThan(Date.now() + 365 * 86_400_000);
    }
    const serials = [ca, ...leaves].map((c) => c.serialNumber);
    expect(new Set(serials).size).toBe(serials.length);
    // 20 random bytes, as openssl makes them: not 01, 02, ...
    for (const serial of serials) expect(serial.length).toBeGreaterThanOrEqual(30);
  });

  test("certificates that `openssl verify` accepts against the CA for their purpose, and not another CA's", async () => {
    const agencies = Array.from({ length: AGENCIES }, (_, i) => join(dir, `agency-${i + 1}.crt`));
    const asClients = await openssl("verify", "-CAfile", join(dir, "ca.crt"), "-purpose", "sslclient", ...agencies);
    expect(asClients.code).toBe(0);
    for (const file of agencies) expect(asClients.output).toContain(`${file}: OK`);
    const asServer = await openssl("verify", "-CAfile", join(dir, "ca.crt"), "-purpose", "sslserver", join(dir, "server.crt"));
    expect(asServer).toEqual({ code: 0, output: `${join(dir, "server.crt")}: OK\n` });
    // An agency cannot pose as the central, and a foreign CA vouches for nothing here.
    expect((await openssl("verify", "-CAfile", join(dir, "ca.crt"), "-purpose", "sslserver", agencies[0]!)).code).not.toBe(0);
    expect((await openssl("verify", "-CAfile", join(foreign, "ca.crt"), agencies[0]!)).code).not.toBe(0);
  });
});

describe("gen-certs on a directory that has certificates", () => {
  test("refuses to overwrite without --force, naming what exists, and changes nothing", async () => {
    const before = certificateFiles(AGENCIES).map((file) => pem(file));
    const again = await genCerts("--out", dir, "--agencies", String(AGENCIES));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("refusing to overwrite");
    expect(again.stderr).toContain(join(dir, "ca.crt"));
    expect(again.stderr).toContain(join(dir, "agency-3.key"));
    expect(certificateFiles(AGENCIES).map((file) => pem(file))).toEqual(before);
    expect(readdirSync(dir)).toHaveLength(before.length); // no scratch directory left behind
  });

  test("refuses when any one of the files exists, such as a single agency key", async () => {
    const lone = join(scratch.path, "lone");
    const made = await genCerts("--out", lone, "--agencies", "1");
    expect(made.code).toBe(0);
    for (const file of readdirSync(lone)) if (file !== "agency-1.key") rmSync(join(lone, file));
    const refused = await genCerts("--out", lone, "--agencies", "4");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`refusing to overwrite ${join(lone, "agency-1.key")} `);
    expect(readdirSync(lone)).toEqual(["agency-1.key"]);
  });

  test("with --force makes a new CA and new leaves in place", async () => {
    const out = join(scratch.path, "forced");
    expect((await genCerts("--out", out, "--agencies", "2")).code).toBe(0);
    const before = certificateFiles(2).map((file) => pem(file, out));
    const forced = await genCerts("--out", out, "--agencies", "2", "--force");
    expect(forced.code).toBe(0);
    const after = certificateFiles(2).map((file) => pem(file, out));
    after.forEach((text, i) => expect(text).not.toBe(before[i]));
    const verified = await openssl("verify", "-CAfile", join(out, "ca.crt"), join(out, "server.crt"), join(out, "agency-2.crt"));
    expect(verified.code).toBe(0);
    for (const file of certificateFiles(2)) expect(statSync(join(out, file)).mode & 0o777).toBe(0o600);
  });
});

test("with --keep-ca re-issues the server's and agencies' certificates from the CA that is there, which stays", async () => {
  const out = join(scratch.path, "kept");
  expect((await genCerts("--out", out, "--agencies", "2")).code).toBe(0);
  const before = Object.fromEntries(certificateFiles(2).map((file) => [file, pem(file, out)]));
  writeFileSync(join(scratch.path, "old-agency-1.crt"), before["agency-1.crt"]!);
  // Leaves exist: re-issuing them still takes --force.
  expect((await genCerts("--out", out, "--agencies", "2", "--keep-ca")).code).toBe(1);
  const reissued = await genCerts("--out", out, "--agencies", "2", "--keep-ca", "--force", "--hosts", "central.example");
  expect(reissued.code).toBe(0);
  expect(pem("ca.crt", out)).toBe(before["ca.crt"]!);
  expect(pem("ca.key", out)).toBe(before["ca.key"]!);
  for (const file of ["server.crt", "server.key", "agency-1.crt", "agency-1.key", "agency-2.crt", "agency-2.key"]) {
    expect([file, pem(file, out)]).not.toEqual([file, before[file]]);
  }
  expect(cert(join(out, "server.crt")).subjectAltName).toContain("DNS:central.example");
  // The new leaves and the old ones verify against the same CA: each process can switch on its own.
  const verified = await openssl("verify", "-CAfile", join(out, "ca.crt"), join(out, "server.crt"), join(out, "agency-1.crt"), join(scratch.path, "old-agency-1.crt"));
  expect(verified.code).toBe(0);
  expect(readdirSync(out).sort()).toEqual(certificateFiles(2).sort());
});

test("--keep-ca without a CA in the directory exits 1 naming what is missing", async () => {
  const out = join(scratch.path, "no-ca");
  const run = await genCerts("--out", out, "--keep-ca");
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(`no CA to keep: ${join(out, "ca.crt")}, ${join(out, "ca.key")} not found`);
  expect(existsSync(out)).toBe(false);
});

test("bad arguments print the usage on stderr, exit 2 and write nothing", async () => {
  const out = join(scratch.path, "never");
  for (const args of [
    ["--agencies", "0"],
    ["--agencies", "two"],
    ["--agencies", "1.5"],
    ["--hosts", "bad name"],
    ["--hosts", "under_score.example"],
    ["--out"],
    ["--frobnicate"],
    ["--keep-ca=yes"],
    ["positional"],
  ]) {
    const run = await genCerts("--out", out, ...args);
    expect([args, run.code]).toEqual([args, 2]);
    expect(run.stderr).toContain("usage: bun run gen-certs [--out DIR] [--agencies N] [--hosts NAME,...] [--force]");
    expect(existsSync(out)).toBe(false);
  }
});

test("the module refuses a host it cannot name before anything is written", async () => {
  const out = join(scratch.path, "module");
  await expect(generateCertificates({ out, agencies: 1, hosts: ["a,b"], force: false })).rejects.toThrow('not a host name or IP address: "a,b"');
  expect(existsSync(out)).toBe(false);
});

// Bun's own TLS takes these files, and these are the facts the central's and agency's TLS rely on.
describe("Bun.listen / Bun.connect with the certificates", () => {
  interface ServerView {
    success: boolean;
    authorized: boolean;
    /** A string; an array if the certificate had several CNs. */
    cn: string | string[] | undefined;
    error: string | undefined;
    received: string;
  }
  interface ClientView {
    success: boolean;
    error: string | undefined;
    received: string;
    writeBeforeHandshake: number;
  }

  const file = (from: string, name: string) => Bun.file(join(from, name));
  const agencyTls = (from: string, id: number, serverName = "localhost"): TLSOptions & { serverName: string } => ({
    cert: file(from, `agency-${id}.crt`),
    key: file(from, `agency-${id}.key`),
    ca: file(dir, "ca.crt"),
    serverName,
  });

  /**
   * One connection to a mutual-TLS server as the central would run it: it accepts only an authorized
   * peer (and says "welcome"), and drops any other at the handshake. Resolves with what each side saw.
   */
  async function connect(clientTls: TLSOptions & { serverName?: string }): Promise<{ server: ServerView; client: ClientView }> {
    const serverSaw = Promise.withResolvers<ServerView>();
    let view: ServerView | undefined;
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: file(dir, "server.crt"), key: file(dir, "server.key"), ca: file(dir, "ca.crt"), requestCert: true, rejectUnauthorized: false },
      socket: {
        handshake(socket, success, authorizationError) {
          view = {
            success,
            authorized: socket.authorized,
            cn: socket.getPeerCertificate()?.subject?.CN,
            error: (socket.getAuthorizationError() ?? authorizationError)?.message,
            received: "",
          };
          if (success && socket.authorized) socket.write("welcome");
          else socket.terminate();
        },
        data(_socket, data) {
          if (view) view.received += data.toString();
        },
        close() {
          if (view) serverSaw.resolve(view);
          else serverSaw.reject(new Error("closed before any handshake"));
        },
      },
    });
    const clientSaw = Promise.withResolvers<ClientView>();
    const client: ClientView = { success: false, error: undefined, received: "", writeBeforeHandshake: -1 };
    try {
      const socket = await Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        tls: clientTls,
        socket: {
          handshake(socket: Socket, success, authorizationError) {
            client.success = success;
            client.error = authorizationError?.message;
            if (success) socket.write("hello");
          },
          data(socket, data) {
            client.received += data.toString();
            socket.end();
          },
          close: () => clientSaw.resolve(client),
          error: (_socket, error) => void (client.error ??= error.message),
        },
      });
      client.writeBeforeHandshake = socket.write("early");
      const [serverView, clientView] = await Promise.all([serverSaw.promise, clientSaw.promise]);
      return { server: serverView, client: clientView };
    } finally {
      server.stop(true);
    }
  }

  test("an agency's certificate: the server sees authorized === true and CN agency-1; bytes flow after the handshake", async () => {
    const { server, client } = await connect(agencyTls(dir, 1));
    expect(server).toEqual({ success: true, authorized: true, cn: "agency-1", error: undefined, received: "hello" });
    expect(client).toMatchObject({ success: true, error: undefined, received: "welcome" });
    // Bun.connect resolves before the TLS handshake: a write then sends nothing (and "early" never arrives).
    expect(client.writeBeforeHandshake).toBe(0);
  });

  test("the client verifies the server by a --hosts name and by 127.0.0.1 with no serverName", async () => {
    expect((await connect(agencyTls(dir, 2, "central.example"))).server).toMatchObject({ authorized: true, cn: "agency-2" });
    const { serverName: _, ...byAddress } = agencyTls(dir, 3);
    expect((await connect(byAddress)).server).toMatchObject({ authorized: true, cn: "agency-3" });
  });

  test("a client certificate from another CA: success is true, but authorized is false", async () => {
    const { server, client } = await connect({ ...agencyTls(foreign, 1) });
    // The trap: the handshake reports success, and the peer's CN even reads agency-1.
    expect(server).toMatchObject({ success: true, authorized: false, cn: "agency-1", received: "" });
    expect(server.error).toBe("unable to verify the first certificate");
    expect(client.received).toBe("");
  });

  test("a client with no certificate: authorized is false and there is no peer certificate", async () => {
    const { server, client } = await connect({ ca: file(dir, "ca.crt"), serverName: "localhost" });
    expect(server).toMatchObject({ success: true, authorized: false, cn: undefined, received: "" });
    expect(server.error).toBe("unable to get issuer certificate");
    expect(client.received).toBe("");
  });

  test("a server the client cannot verify: the client's handshake fails with the reason, and nothing is sent", async () => {
    const otherCa = await connect({ ...agencyTls(dir, 1), ca: file(foreign, "ca.crt") });
    expect(otherCa.client).toMatchObject({ success: false, received: "" });
    expect(otherCa.client.error).toBeString();
    expect(otherCa.server).toMatchObject({ success: false, received: "" });
    const wrongName = await connect(agencyTls(dir, 1, "elsewhere.example"));
    expect(wrongName.client).toMatchObject({ success: false, received: "" });
    expect(wrongName.client.error).toContain("Hostname/IP does not match certificate's altnames");
    expect(wrongName.server.received).toBe("");
  });
});

test("without openssl on PATH, gen-certs says so, exits 1 and leaves the old files as they were", async () => {
  const out = join(scratch.path, "no-openssl");
  await generateCertificates({ out, agencies: 1, hosts: [], force: false });
  const before = certificateFiles(1).map((file) => pem(file, out));
  const result = Bun.spawnSync([process.execPath, "run", "lib/deployment/gen-certs.ts", "--out", out, "--agencies", "1", "--force"], {
    cwd: ROOT,
    env: { ...process.env, PATH: "/nonexistent" },
  });
  expect(result.exitCode).toBe(1);
  expect(result.stderr.toString()).toContain("cannot run openssl");
  expect(readdirSync(out).sort()).toEqual(certificateFiles(1).sort());
  expect(certificateFiles(1).map((file) => pem(file, out))).toEqual(before);
});
