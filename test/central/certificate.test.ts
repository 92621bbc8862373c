// A certificate's CN as the central reads it: which agency, if any, the connection may act for.
import { expect, test } from "bun:test";
import { certifiedIdentity } from "../../lib/central/certificate.ts";

test("agency-N names agency N; no certificate names none; any other CN names no agency", () => {
  expect(certifiedIdentity(undefined)).toEqual({ kind: "uncertified" });
  expect(certifiedIdentity("agency-1")).toEqual({ kind: "agency", agency: 1 });
  expect(certifiedIdentity("agency-4294967296")).toEqual({ kind: "agency", agency: 4294967296 });
  for (const cn of ["agency-0", "agency-01", "agency-12345678901", "agency-1 ", "Agency-1", "central", ""]) {
    expect(certifiedIdentity(cn)).toEqual({ kind: "no-agency", cn });
  }
});
