// gen-compose.ts --stack and lib/deployment/stack-file.ts: the Swarm stack file, its content-named configs and
// secrets, the per-slot TLS templates. That `docker stack deploy` takes it without a warning is checked on a real
// swarm by `bun run test:swarm` (test/swarm/run.ts).
import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { genCompose } from "../support/system.ts";
import { MAX_AGENCIES, STORAGE_FILEPATH, tlsFiles } from "../../lib/deployment/compose.ts";
import {
  agencyTemplate,
  contentVersion,
  objectName,
  renderStack,
  STACK_RECONNECT_SECONDS,
  stackObjects,
  STORAGE_LABEL,
} from "../../lib/deployment/stack-file.ts";

const ROOT = join(import.meta.dir, "..", "..");

type SecretRef = { source: string; target: string; uid: string; gid: string; mode: number };
type Service = {
  image: string;
  command?: string[];
  environment: Record<string, string>;
  configs: { source: string; target: string }[];
  secrets?: SecretRef[];
  volumes: string[];
  networks: string[];
  healthcheck?: { test: string[] };
  deploy: {
    replicas: number;
    endpoint_mode?: string;
    restart_policy: { condition: string };
    update_config?: { order: string };
    placement?: { constraints: string[] };
  };
};
type Stack = {
  version: string;
  services: Record<string, Service>;
  networks: Record<string, { driver: string }>;
  volumes: Record<string, unknown>;
  configs: Record<string, { name: string; file: string }>;
  secrets?: Record<string, { name: string; file: string; template_driver?: string }>;
};

/** A distinct, valid version per object, so that a mix-up of two names shows. */
function fakeVersions(tls: boolean): Record<string, string> {
  return Object.fromEntries(stackObjects({ tls }).map(({ key }, i) => [key, String(i).repeat(12)]));
}

function stack(n: number, tls = false): Stack {
  return parse(renderStack(n, { tls, versions: fakeVersions(tls) })) as Stack;
}

/** Keys of a compose service that `docker stack deploy` ignores (with a warning) or refuses. */
const NOT_FOR_SWARM = ["build", "container_name", "depends_on", "restart", "links", "network_mode", "devices", "cgroup_parent", "security_opt", "userns_mode", "sysctls"];

/** What Swarm's golang template gives a task of slot `slot`, for the shape agencyTemplate writes. */
function expandForSlot(template: string, slot: number): string {
  const body = template.replace(/^\{\{\/\*[\s\S]*?\*\/\}\}/, "");
  let out = "";
  for (const m of body.matchAll(/\{\{if eq \.Task\.Slot "(\d+)"\}\}([\s\S]*?)\{\{end\}\}/g)) if (Number(m[1]) === slot) out += m[2];
  const leftover = body.replace(/\{\{if eq \.Task\.Slot "(\d+)"\}\}([\s\S]*?)\{\{end\}\}/g, "");
  expect(leftover).toBe(""); // nothing outside the branches reaches a task
  return out;
}

describe("renderStack", () => {
  for (const n of [0, 1, 5, 20]) {
    test(`N=${n}: two services, one of N replicas by task slot, all keys valid for Swarm`, () => {
      const doc = stack(n);
      expect(doc.version).toBe("3.8");
      expect(Object.keys(doc).sort()).toEqual(["configs", "networks", "services", "version", "volumes"]);
      expect(Object.keys(doc.services)).toEqual(["server", "agency"]);
      for (const service of Object.values(doc.services)) {
        for (const key of NOT_FOR_SWARM) expect(service).not.toHaveProperty(key);
        expect(service.command).toBeUndefined(); // each image's own
        expect(service.networks).toEqual(["lottery_net"]);
      }
      // The course's two images, as `make docker-image` builds them.
      expect([doc.services.server!.image, doc.services.agency!.image]).toEqual(["server:latest", "client:latest"]);
      expect(doc.networks).toEqual({ lottery_net: { driver: "overlay" } });
      expect(Object.keys(doc.volumes)).toEqual(["storage"]);

      const server = doc.services.server!;
      expect(server.environment).toEqual({ LOTTERY_AGENCIES: String(n), STORAGE_FILEPATH, SERVER_HTTP_PORT: "9464", SERVER_IP: "0.0.0.0" });
      expect(server.configs).toEqual([{ source: "central_config", target: "/app/server/config.ini" }]);
      // The stack keeps its bets on a volume, on the node labelled for it.
      expect(server.volumes).toEqual(["storage:/storage"]);
      expect(server.healthcheck!.test).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9464/healthz"]);
      expect(server.deploy).toEqual({
        replicas: 1,
        endpoint_mode: "dnsrr", // no IPVS on this kernel: the virtual IP would not route
        restart_policy: { condition: "any" },
        update_config: { order: "stop-first" }, // the old central releases the storage lock first
        placement: { constraints: [`node.labels.${STORAGE_LABEL} == true`] },
      });

      const agency = doc.services.agency!;
      expect(agency.environment).toEqual({
        CLI_ID: "{{.Task.Slot}}",
        CLI_DATA_FILE: "/data/agency-{{.Task.Slot}}.csv",
        CLI_RECONNECT_TIMEOUTSECONDS: String(STACK_RECONNECT_SECONDS),
      });
      expect(agency.configs).toEqual([{ source: "agency_config", target: "/app/client/config.yaml" }]);
      expect(agency.volumes).toEqual(["./.data:/data:ro"]);
      expect(agency.deploy.replicas).toBe(n);
      expect(agency.deploy.restart_policy.condition).toBe("on-failure"); // a finished agency (exit 0) stays done
      expect(agency.secrets).toBeUndefined();
    });
  }

  test("configs are named by their content version, from the course's config files", () => {
    const doc = stack(3);
    const v = fakeVersions(false);
    expect(doc.configs).toEqual({
      central_config: { name: objectName("central_config", v.central_config!), file: "./server/config.ini" },
      agency_config: { name: objectName("agency_config", v.agency_config!), file: "./client/config.yaml" },
    });
    expect(objectName("central_config", "0123456789ab")).toBe("lottery-central-config-0123456789ab");
    expect(contentVersion("a")).not.toBe(contentVersion("b"));
    expect(contentVersion("a")).toMatch(/^[0-9a-f]{12}$/);
  });

  test("is deterministic and refuses a bad count or a missing version", () => {
    const versions = fakeVersions(true);
    expect(renderStack(7, { tls: true, versions })).toBe(renderStack(7, { tls: true, versions }));
    expect(renderStack(7, { versions })).not.toContain("$"); // nothing for compose interpolation
    expect(() => renderStack(-1, { versions })).toThrow(RangeError);
    expect(() => renderStack(MAX_AGENCIES + 1, { versions })).toThrow(RangeError);
    const { agency_key: _, ...incomplete } = versions;
    expect(() => renderStack(2, { tls: true, versions: incomplete })).toThrow("agency_key");
    expect(() => renderStack(2, { versions: { ...versions, central_config: "nothex" } })).toThrow("central_config");
  });
});

describe("renderStack --tls", () => {
  test("the certificates are secrets: the central's three, and per-slot templates for the agencies", () => {
    const doc = stack(5, true);
    const v = fakeVersions(true);
    expect(doc.secrets).toEqual({
      ca_crt: { name: objectName("ca_crt", v.ca_crt!), file: "./.certs/ca.crt" },
      server_crt: { name: objectName("server_crt", v.server_crt!), file: "./.certs/server.crt" },
      server_key: { name: objectName("server_key", v.server_key!), file: "./.certs/server.key" },
      agency_crt: { name: objectName("agency_crt", v.agency_crt!), file: "./.certs/agency.crt.tmpl", template_driver: "golang" },
      agency_key: { name: objectName("agency_key", v.agency_key!), file: "./.certs/agency.key.tmpl", template_driver: "golang" },
    });
    const owned = (source: string, target: string) => ({ source, target, uid: "1000", gid: "1000", mode: 0o400 });

    const server = doc.services.server!;
    expect(server.secrets).toEqual([owned("server_crt", "server.crt"), owned("server_key", "server.key"), owned("ca_crt", "ca.crt")]);
    expect(server.environment).toMatchObject({
      SERVER_TLS_CERT: "/run/secrets/server.crt",
      SERVER_TLS_KEY: "/run/secrets/server.key",
      SERVER_TLS_CA: "/run/secrets/ca.crt",
    });
    expect(server.healthcheck!.test).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9464/healthz"]);

    // The agencies never get the central's key; their own comes from the per-slot template.
    const agency = doc.services.agency!;
    expect(agency.secrets).toEqual([owned("agency_crt", "agency.crt"), owned("agency_key", "agency.key"), owned("ca_crt", "ca.crt")]);
    expect(agency.environment).toMatchObject({
      CLI_TLS_CERT: "/run/secrets/agency.crt",
      CLI_TLS_KEY: "/run/secrets/agency.key",
      CLI_TLS_CA: "/run/secrets/ca.crt",
    });
  });

  test("a task of slot N gets agency N's PEM and nothing of the others", () => {
    const pems = Array.from({ length: 12 }, (_, i) => `-----BEGIN PRIVATE KEY-----\nkey-of-agency-${i + 1}\n-----END PRIVATE KEY-----\n`);
    const template = agencyTemplate(pems);
    for (let slot = 1; slot <= 12; slot++) expect(expandForSlot(template, slot)).toBe(pems[slot - 1]!);
    expect(expandForSlot(template, 13)).toBe("");
    expect(agencyTemplate(pems)).toBe(template);
    expect(() => agencyTemplate(["{{ env \"HOME\" }}"])).toThrow("agency 1");
  });
});

describe("gen-compose.ts --stack", () => {
  /** A folder laid out like the repo: the two config files, and with `certs` a .certs/ of fake PEMs for N agencies. */
  function project(agencies: number, certs: boolean): string {
    const dir = mkdtempSync(join(tmpdir(), "gen-stack-"));
    for (const file of ["server/config.ini", "client/config.yaml"]) cpSync(join(ROOT, file), join(dir, file), { recursive: true });
    if (certs) {
      mkdirSync(join(dir, ".certs"));
      for (const name of tlsFiles(agencies)) writeFileSync(join(dir, ".certs", name), `-----BEGIN FAKE-----\n${name}\n-----END FAKE-----\n`, { mode: 0o600 });
    }
    return dir;
  }

  /** Runs `body` in a fresh project folder, removed afterwards whatever happens. */
  function withProject(agencies: number, certs: boolean, body: (dir: string) => void): void {
    const dir = project(agencies, certs);
    try {
      body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const versionsOf = (dir: string, tls: boolean) =>
    Object.fromEntries(stackObjects({ tls }).map(({ key, file }) => [key, contentVersion(readFileSync(join(dir, file)))]));

  test("names the configs by the content of the files next to OUTPUT; a changed file gets a new name", () => {
    withProject(3, false, (dir) => {
        const out = join(dir, "stack.yaml");
        expect(genCompose(["--stack", out, "3"], dir).code).toBe(0);
        const first = readFileSync(out, "utf8");
        expect(first).toBe(renderStack(3, { versions: versionsOf(dir, false) }));

        writeFileSync(join(dir, "client", "config.yaml"), readFileSync(join(dir, "client", "config.yaml"), "utf8") + "# changed\n");
        expect(genCompose(["--stack", out, "3"], dir).code).toBe(0);
        const second = parse(readFileSync(out, "utf8")) as Stack;
        const before = parse(first) as Stack;
        expect(second.configs.agency_config!.name).not.toBe(before.configs.agency_config!.name);
        expect(second.configs.central_config!.name).toBe(before.configs.central_config!.name);
    });
  });

  test("a missing config file is an error that writes nothing, with --tls its templates neither", () => {
    for (const tls of [false, true]) {
      withProject(1, tls, (dir) => {
        rmSync(join(dir, "server", "config.ini"));
        const res = genCompose(["--stack", ...(tls ? ["--tls"] : []), join(dir, "stack.yaml"), "1"], dir);
        expect(res.code).toBe(1);
        expect(res.stderr).toContain("server/config.ini");
        expect(() => statSync(join(dir, "stack.yaml"))).toThrow();
        expect(() => statSync(join(dir, ".certs", "agency.key.tmpl"))).toThrow();
      });
    }
  });

  test("--tls needs the certificates, then writes the per-slot templates (keys 0600) the file names", () => {
    withProject(4, true, (dir) => {
        const out = join(dir, "stack.yaml");
        rmSync(join(dir, ".certs", "agency-4.key"));
        const missing = genCompose(["--stack", "--tls", out, "4"], dir);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toContain("agency-4.key");
        expect(missing.stderr).toContain("gen-certs");

        expect(genCompose(["--stack", "--tls", out, "3"], dir).code).toBe(0);
        expect(readFileSync(out, "utf8")).toBe(renderStack(3, { tls: true, versions: versionsOf(dir, true) }));
        const keys = join(dir, ".certs", "agency.key.tmpl");
        expect(statSync(keys).mode & 0o777).toBe(0o600);
        const pem = (name: string) => readFileSync(join(dir, ".certs", name), "utf8");
        for (let slot = 1; slot <= 3; slot++) {
          expect(expandForSlot(readFileSync(keys, "utf8"), slot)).toBe(pem(`agency-${slot}.key`));
          expect(expandForSlot(readFileSync(join(dir, ".certs", "agency.crt.tmpl"), "utf8"), slot)).toBe(pem(`agency-${slot}.crt`));
        }
    });
  });

  test("generar-compose.sh passes --stack on", () => {
    withProject(2, false, (dir) => {
        const out = join(dir, "s.yaml");
        const proc = Bun.spawnSync(["sh", join(ROOT, "generar-compose.sh"), "--stack", out, "2"], { cwd: dir, stderr: "pipe" });
        expect(proc.exitCode).toBe(0);
        expect(readFileSync(out, "utf8")).toBe(renderStack(2, { versions: versionsOf(dir, false) }));
    });
  });
});
