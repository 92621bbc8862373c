// gen-compose.ts and lib/deployment/compose.ts: the compose file for N agencies (plain and --tls), argument checks, the
// committed file.
import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, existsSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { genCompose, Scope } from "../support/system.ts";
import {
  DEFAULT_OUTPUT,
  DEFAULT_STACK_OUTPUT,
  MAX_AGENCIES,
  parseComposeArgs,
  renderCompose,
  STORAGE_FILEPATH,
  SUBNET,
} from "../../lib/deployment/compose.ts";

const ROOT = join(import.meta.dir, "..", "..");
const scope = new Scope();
afterEach(() => scope.cleanup());

type Service = {
  container_name: string;
  image: string;
  pull_policy: string;
  build?: unknown;
  command?: string[];
  environment: Record<string, string>;
  volumes: string[];
  networks: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number };
};
type Compose = {
  name: string;
  services: Record<string, Service>;
  networks: Record<string, { ipam: { driver: string; config: { subnet: string }[] } }>;
  volumes?: Record<string, unknown>;
};

function compose(n: number, options: { tls?: boolean; keepBets?: boolean } = {}): Compose {
  return parse(renderCompose(n, options)) as Compose;
}

describe("renderCompose", () => {
  for (const n of [0, 1, 5, 100]) {
    test(`N=${n}: project tp0, the course's images, services, names, env, mounts, network; no volume`, () => {
      const doc = compose(n);
      expect(Object.keys(doc)).toEqual(["name", "services", "networks"]);
      // The course's project: its network is tp0_testing_net.
      expect(doc.name).toBe("tp0");

      const expectedServices = ["server", ...Array.from({ length: n }, (_, i) => `client${i + 1}`)];
      expect(Object.keys(doc.services)).toEqual(expectedServices);

      const server = doc.services.server!;
      expect(server.container_name).toBe("server");
      // What `docker build -f ./server/Dockerfile -t server:latest .` made, never an image from elsewhere.
      expect(server.image).toBe("server:latest");
      expect(server.pull_policy).toBe("never");
      expect(server.build).toBeUndefined();
      expect(server.command).toBeUndefined(); // the image's own
      expect(server.environment).toEqual({ LOTTERY_AGENCIES: String(n), STORAGE_FILEPATH, SERVER_HTTP_PORT: "9464" });
      // The course's config file, where the central reads it; the bets in the container (no volume).
      expect(server.volumes).toEqual(["./server/config.ini:/app/server/config.ini:ro"]);
      expect(server.networks).toEqual(["testing_net"]);
      expect(server.ports).toEqual(["127.0.0.1:9464:9464"]); // the status page, on the host's loopback only
      expect(server.depends_on).toBeUndefined();
      expect(server.healthcheck!.test).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9464/healthz"]);

      for (let i = 1; i <= n; i++) {
        const client = doc.services[`client${i}`]!;
        expect(client.container_name).toBe(`client${i}`);
        expect(client.image).toBe("client:latest");
        expect(client.pull_policy).toBe("never");
        expect(client.command).toBeUndefined();
        expect(client.environment).toEqual({ CLI_ID: String(i), CLI_DATA_FILE: "/data/agency.csv" });
        // The course's config file, and only its own data file, read-only.
        expect(client.volumes).toEqual(["./client/config.yaml:/app/client/config.yaml:ro", `./.data/agency-${i}.csv:/data/agency.csv:ro`]);
        expect(client.depends_on).toEqual({ server: { condition: "service_healthy" } });
        expect(client.networks).toEqual(["testing_net"]);
      }

      expect(doc.networks).toEqual({
        testing_net: { ipam: { driver: "default", config: [{ subnet: SUBNET }] } },
      });
      expect(SUBNET).toBe("172.25.125.0/24");
    });
  }

  test("--keep-bets puts the bets on the named volume `storage`, kept across down", () => {
    const doc = compose(2, { keepBets: true });
    expect(Object.keys(doc)).toEqual(["name", "services", "networks", "volumes"]);
    expect(doc.services.server!.volumes).toEqual(["./server/config.ini:/app/server/config.ini:ro", "storage:/storage"]);
    expect(STORAGE_FILEPATH.startsWith("/storage/")).toBe(true);
    expect(doc.volumes).toEqual({ storage: {} });
    const { server: _server, ...clients } = doc.services;
    const { server: _plain, ...plainClients } = compose(2).services;
    expect(clients).toEqual(plainClients);
  });

  test("is deterministic", () => {
    expect(renderCompose(7)).toBe(renderCompose(7));
    expect(renderCompose(7, { keepBets: true, tls: true })).toBe(renderCompose(7, { keepBets: true, tls: true }));
  });

  test("refuses an out-of-range count", () => {
    expect(() => renderCompose(-1)).toThrow(RangeError);
    expect(() => renderCompose(1.5)).toThrow(RangeError);
    expect(() => renderCompose(MAX_AGENCIES + 1)).toThrow(RangeError);
  });
});

describe("renderCompose --tls", () => {
  test("the central gets the CA, its certificate and key read-only, and the three TLS variables", () => {
    const server = compose(3, { tls: true }).services.server!;
    expect(server.environment).toEqual({
      LOTTERY_AGENCIES: "3",
      STORAGE_FILEPATH,
      SERVER_HTTP_PORT: "9464",
      SERVER_TLS_CERT: "/certs/server.crt",
      SERVER_TLS_KEY: "/certs/server.key",
      SERVER_TLS_CA: "/certs/ca.crt",
    });
    expect(server.volumes).toEqual([
      "./server/config.ini:/app/server/config.ini:ro",
      "./.certs/ca.crt:/certs/ca.crt:ro",
      "./.certs/server.crt:/certs/server.crt:ro",
      "./.certs/server.key:/certs/server.key:ro",
    ]);
    // The same health check: the HTTP side answers whether the bets port speaks TLS or not.
    expect(server.healthcheck).toEqual(compose(3).services.server!.healthcheck!);
  });

  test("each agency mounts the CA, its own certificate and only its own key", () => {
    const doc = compose(4, { tls: true });
    for (let i = 1; i <= 4; i++) {
      const client = doc.services[`client${i}`]!;
      expect(client.environment).toEqual({
        CLI_ID: String(i),
        CLI_DATA_FILE: "/data/agency.csv",
        CLI_TLS_CERT: "/certs/agency.crt",
        CLI_TLS_KEY: "/certs/agency.key",
        CLI_TLS_CA: "/certs/ca.crt",
      });
      expect(client.volumes).toEqual([
        "./client/config.yaml:/app/client/config.yaml:ro",
        `./.data/agency-${i}.csv:/data/agency.csv:ro`,
        "./.certs/ca.crt:/certs/ca.crt:ro",
        `./.certs/agency-${i}.crt:/certs/agency.crt:ro`,
        `./.certs/agency-${i}.key:/certs/agency.key:ro`,
      ]);
      const keys = client.volumes.filter((v) => v.includes(".key"));
      expect(keys).toEqual([`./.certs/agency-${i}.key:/certs/agency.key:ro`]);
    }
  });

  test("the rest of the file is the plain one, and it is deterministic", () => {
    const plain = compose(2);
    const tls = compose(2, { tls: true });
    expect(tls.name).toBe(plain.name);
    expect(tls.networks).toEqual(plain.networks);
    expect(Object.keys(tls.services)).toEqual(Object.keys(plain.services));
    expect(renderCompose(2, { tls: true })).toBe(renderCompose(2, { tls: true }));
    expect(renderCompose(2, { tls: true })).not.toContain("$");
  });
});

describe("parseComposeArgs", () => {
  const plain = { stack: false, tls: false, keepBets: false };
  test("one argument is N, two are OUTPUT N", () => {
    expect(parseComposeArgs(["3"])).toEqual({ output: DEFAULT_OUTPUT, agencies: 3, ...plain });
    expect(parseComposeArgs(["out.yaml", "0"])).toEqual({ output: "out.yaml", agencies: 0, ...plain });
    expect(parseComposeArgs([String(MAX_AGENCIES)])).toEqual({ output: DEFAULT_OUTPUT, agencies: MAX_AGENCIES, ...plain });
  });

  test("--stack, --tls and --keep-bets anywhere; --stack alone defaults to the stack file name", () => {
    expect(parseComposeArgs(["out.yaml", "5", "--tls"])).toEqual({ output: "out.yaml", agencies: 5, ...plain, tls: true });
    expect(parseComposeArgs(["--keep-bets", "out.yaml", "5"])).toEqual({ output: "out.yaml", agencies: 5, ...plain, keepBets: true });
    expect(parseComposeArgs(["--tls", "--stack", "s.yaml", "2"])).toEqual({ output: "s.yaml", agencies: 2, ...plain, stack: true, tls: true });
    expect(parseComposeArgs(["--stack", "7"])).toEqual({ output: DEFAULT_STACK_OUTPUT, agencies: 7, ...plain, stack: true });
  });

  for (const bad of [[], ["a", "b", "c"], ["x"], ["-1"], ["1.5"], ["1e3"], [" 5"], [""], ["0x10"], ["1001"], ["", "5"], ["--tsl", "5"], ["--tls"], ["--stack", "a", "b", "5"], ["--stack", "--keep-bets", "5"]]) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      expect("error" in parseComposeArgs(bad)).toBe(true);
    });
  }
});

describe("gen-compose.ts", () => {
  test("writes OUTPUT for N and a bad N leaves it untouched with usage and exit 2", () => {
    const dir = scope.dir("gen-compose-");
    const out = join(dir, "compose.yaml");
    const ok = genCompose([out, "2"], dir);
    expect(ok.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(renderCompose(2));
    // .data/agency-1.csv and -2.csv do not exist next to it: warned about, not fatal.
    expect(ok.stderr).toContain("warning");

    writeFileSync(out, "sentinel\n");
    for (const bad of [["abc"], ["-3"], ["2.5"], ["100000"], []]) {
      const res = genCompose(bad.length ? [out, ...bad] : [], dir);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain("usage: bun gen-compose.ts [--stack] [--tls] [--keep-bets] [OUTPUT] N");
      expect(readFileSync(out, "utf8")).toBe("sentinel\n");
    }
    // A single bad argument (taken as N) does not create the default output either.
    expect(genCompose(["nope"], dir).code).toBe(2);
    expect(existsSync(join(dir, DEFAULT_OUTPUT))).toBe(false);
  });

  test("--tls writes the TLS compose file and warns when the certificates are not there yet", () => {
    const dir = scope.dir("gen-compose-");
    const out = join(dir, "compose.yaml");
    const res = genCompose([out, "2", "--tls"], dir);
    expect(res.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(renderCompose(2, { tls: true }));
    expect(res.stderr).toContain("certificate file(s) missing");
    expect(res.stderr).toContain("bun run gen-certs --agencies 2");
  });

  test("one argument writes docker-compose-dev.yaml in the working directory", () => {
    const dir = scope.dir("gen-compose-");
    expect(genCompose(["0"], dir).code).toBe(0);
    expect(readFileSync(join(dir, DEFAULT_OUTPUT), "utf8")).toBe(renderCompose(0));
  });

  test("the generator needs no package: it runs from a copy without node_modules, with installs off", () => {
    // The course runs ./generar-compose.sh on a fresh checkout, before any `bun install`.
    const dir = scope.dir("gen-compose-");
    for (const path of ["gen-compose.ts", "lib"]) cpSync(join(ROOT, path), join(dir, path), { recursive: true });
    const proc = Bun.spawnSync(["bun", "--no-install", "gen-compose.ts", "out.yaml", "2"], { cwd: dir, stderr: "pipe" });
    expect(proc.stderr.toString()).not.toContain("Cannot find package");
    expect(proc.exitCode).toBe(0);
    expect(readFileSync(join(dir, "out.yaml"), "utf8")).toBe(renderCompose(2));
  });

  test("an OUTPUT that is a symlink (/dev/stdout is one) is written through, not replaced by a file", () => {
    const dir = scope.dir("gen-compose-");
    const target = join(dir, "real.yaml");
    writeFileSync(target, "old\n");
    const link = join(dir, "link.yaml");
    symlinkSync(target, link);
    expect(genCompose([link, "2"], dir).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, "utf8")).toBe(renderCompose(2));
  });

  test("generar-compose.sh OUTPUT N is the same generator", () => {
    const dir = scope.dir("gen-compose-");
    const out = join(dir, "c.yaml");
    const proc = Bun.spawnSync(["sh", join(ROOT, "generar-compose.sh"), out, "3"], { cwd: dir, stderr: "pipe" });
    expect(proc.exitCode).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(renderCompose(3));
    const bad = Bun.spawnSync(["sh", join(ROOT, "generar-compose.sh"), out], { cwd: dir, stderr: "pipe" });
    expect(bad.exitCode).toBe(2);
    // It passes --tls on.
    const tls = Bun.spawnSync(["sh", join(ROOT, "generar-compose.sh"), out, "3", "--tls"], { cwd: dir, stderr: "pipe" });
    expect(tls.exitCode).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(renderCompose(3, { tls: true }));
    const onlyFlag = Bun.spawnSync(["sh", join(ROOT, "generar-compose.sh"), "--tls", out], { cwd: dir, stderr: "pipe" });
    expect(onlyFlag.exitCode).toBe(2);
    // And --keep-bets.
    const kept = Bun.spawnSync(["sh", join(ROOT, "generar-compose.sh"), "--keep-bets", out, "1"], { cwd: dir, stderr: "pipe" });
    expect(kept.exitCode).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(renderCompose(1, { keepBets: true }));
  });

  test("the committed docker-compose-dev.yaml is the output for N=5", () => {
    expect(readFileSync(join(ROOT, "docker-compose-dev.yaml"), "utf8")).toBe(renderCompose(5));
  });
});
