// The TLS settings that the central and the agencies share: three file paths (certificate, key, CA),
// all three set for TLS, none for plain TCP.
import { ConfigError, nonEmpty, type Setting } from "./config.ts";

/** A process's own certificate and key, and the CA its peers' certificates must be signed by (PEM text). */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string;
}

/**
 * The three settings, variables `${prefix}_TLS_CERT` and so on; their keys are the variables' names in an
 * INI file (the central's) and `tls.cert`, `tls.key`, `tls.ca` in a YAML one (the agency's).
 */
export function tlsSettings(prefix: "SERVER" | "CLI", format: "ini" | "yaml") {
  const path = (name: keyof TlsMaterial): Setting<string> => ({
    key: format === "ini" ? tlsVariable(prefix, name) : `tls.${name}`,
    env: tlsVariable(prefix, name),
    fallback: "",
    read: nonEmpty,
  });
  return { tlsCert: path("cert"), tlsKey: path("key"), tlsCa: path("ca") };
}

export type TlsSettings = ReturnType<typeof tlsSettings>;

/** The variable that gives a role's TLS file: SERVER_TLS_CERT, CLI_TLS_KEY and so on. */
function tlsVariable(prefix: "SERVER" | "CLI", name: keyof TlsMaterial): string {
  return `${prefix}_TLS_${name.toUpperCase()}`;
}

/** The environment that gives a role these TLS files, by the settings' variables. */
export function tlsEnv(prefix: "SERVER" | "CLI", files: TlsMaterial): Record<string, string> {
  return { [tlsVariable(prefix, "cert")]: files.cert, [tlsVariable(prefix, "key")]: files.key, [tlsVariable(prefix, "ca")]: files.ca };
}
export type TlsPaths = Record<keyof TlsSettings, string>;

const FIELDS: Record<keyof TlsSettings, keyof TlsMaterial> = { tlsCert: "cert", tlsKey: "key", tlsCa: "ca" };

/** A setting as a message names it: its key, and the variable that overrides it when that is another name. */
function named({ key, env }: Setting<string>): string {
  return key === env ? key : `${key} (env ${env})`;
}

/** Whether TLS is asked for: true with all three paths, false with none; one or two is a ConfigError naming the rest. */
export function tlsChosen(settings: TlsSettings, paths: TlsPaths): boolean {
  const names = Object.keys(FIELDS) as (keyof TlsSettings)[];
  const missing = names.filter((name) => paths[name] === "");
  if (missing.length === names.length) return false;
  if (missing.length > 0) {
    const all = names.map((name) => settings[name].key);
    const unset = missing.map((name) => named(settings[name])).join(" and ");
    throw new ConfigError(`TLS needs ${all.slice(0, -1).join(", ")} and ${all.at(-1)} together: ${unset} not set`);
  }
  return true;
}

/** The files' contents when TLS is chosen (see tlsChosen), else undefined; an unreadable file is a ConfigError naming it. */
export async function loadTls(settings: TlsSettings, paths: TlsPaths): Promise<TlsMaterial | undefined> {
  if (!tlsChosen(settings, paths)) return undefined;
  const material: Partial<TlsMaterial> = {};
  for (const [name, field] of Object.entries(FIELDS) as [keyof TlsSettings, keyof TlsMaterial][]) {
    const setting = named(settings[name]);
    // Bun.file rather than node:fs/promises, whose loading costs every agency's start-up about 3 ms of CPU.
    const text = await Bun.file(paths[name]).text().catch((error: Error) => {
      throw new ConfigError(`cannot read ${setting} file ${paths[name]}: ${error.message}`);
    });
    // Caught here, a wrong file is named; left to the TLS library, it fails later with a bare "no start line".
    if (!text.includes("-----BEGIN ")) throw new ConfigError(`${setting} file ${paths[name]} is not PEM`);
    material[field] = text;
  }
  return material as TlsMaterial;
}
