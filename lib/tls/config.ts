// The TLS settings that the central and the agencies share: three file paths (certificate, key, CA),
// all three set for TLS, none for plain TCP.
import { ConfigError, nonEmpty, type Setting } from "../config.ts";

/** A process's own certificate and key, and the CA its peers' certificates must be signed by (PEM text). */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string;
}

/** The three settings, keys `tls.cert`, `tls.key`, `tls.ca`, variables `${prefix}_TLS_CERT` and so on. */
export function tlsSettings(prefix: "SERVER" | "CLI") {
  const path = (name: keyof TlsMaterial): Setting<string> => ({
    key: `tls.${name}`,
    env: `${prefix}_TLS_${name.toUpperCase()}`,
    fallback: "",
    read: nonEmpty,
  });
  return { tlsCert: path("cert"), tlsKey: path("key"), tlsCa: path("ca") };
}

export type TlsSettings = ReturnType<typeof tlsSettings>;
export type TlsPaths = Record<keyof TlsSettings, string>;

const FIELDS: Record<keyof TlsSettings, keyof TlsMaterial> = { tlsCert: "cert", tlsKey: "key", tlsCa: "ca" };

/** Whether TLS is asked for: true with all three paths, false with none; one or two is a ConfigError naming the rest. */
export function tlsChosen(settings: TlsSettings, paths: TlsPaths): boolean {
  const names = Object.keys(FIELDS) as (keyof TlsSettings)[];
  const missing = names.filter((name) => paths[name] === "");
  if (missing.length === names.length) return false;
  if (missing.length > 0) {
    const named = missing.map((name) => `${settings[name].key} (env ${settings[name].env})`).join(" and ");
    throw new ConfigError(`TLS needs tls.cert, tls.key and tls.ca together: ${named} not set`);
  }
  return true;
}

/** The files' contents when TLS is chosen (see tlsChosen), else undefined; an unreadable file is a ConfigError naming it. */
export async function loadTls(settings: TlsSettings, paths: TlsPaths): Promise<TlsMaterial | undefined> {
  if (!tlsChosen(settings, paths)) return undefined;
  const material: Partial<TlsMaterial> = {};
  for (const [name, field] of Object.entries(FIELDS) as [keyof TlsSettings, keyof TlsMaterial][]) {
    const { key, env } = settings[name];
    // Bun.file rather than node:fs/promises, whose loading costs every agency's start-up about 3 ms of CPU.
    const text = await Bun.file(paths[name]).text().catch((error: Error) => {
      throw new ConfigError(`cannot read ${key} (env ${env}) file ${paths[name]}: ${error.message}`);
    });
    // Caught here, a wrong file is named; left to the TLS library, it fails later with a bare "no start line".
    if (!text.includes("-----BEGIN ")) throw new ConfigError(`${key} (env ${env}) file ${paths[name]} is not PEM`);
    material[field] = text;
  }
  return material as TlsMaterial;
}
