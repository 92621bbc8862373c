// Who a connection's TLS certificate says it is, which bounds the agencies it may act for.

/** An agency's certificate is issued to `agency-N` (see lib/deployment/certs.ts). */
const AGENCY_CN = /^agency-([1-9]\d{0,9})$/;

/** What a connection's certificate names. */
export type CertifiedIdentity =
  /** Plain TCP, no certificate: the connection's hello names its agency. */
  | { readonly kind: "uncertified" }
  /** A certificate issued to an agency: the one agency the connection may act for. */
  | { readonly kind: "agency"; readonly agency: number }
  /** A certificate of the deployment's CA whose CN names no agency: it may act for none. */
  | { readonly kind: "no-agency"; readonly cn: string };

const UNCERTIFIED: CertifiedIdentity = { kind: "uncertified" };

/** The identity a verified certificate's subject CN gives, or none without a certificate. */
export function certifiedIdentity(cn: string | undefined): CertifiedIdentity {
  if (cn === undefined) return UNCERTIFIED;
  const match = AGENCY_CN.exec(cn);
  return match ? { kind: "agency", agency: Number(match[1]) } : { kind: "no-agency", cn };
}
