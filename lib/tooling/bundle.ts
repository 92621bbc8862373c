// The central and the agency bundled into one script each, for the processes `bun run local` and
// `bun run bench` start. A process starts from its bundle with 8 to 11 ms less CPU than from the
// TypeScript sources (12 to 20% of its start-up; see README, Performance), which counts when many
// agencies start at once on few cores.
// Each run builds its own, so a bundle is never stale against the sources; the documented commands
// `bun run central.ts` and `bun run agency.ts` keep running the sources.
import { join } from "node:path";
import { ROOT } from "./processes.ts";

export interface Bundle {
  central: string;
  agency: string;
}

/** Bundles central.ts and agency.ts into `dir` (about 20 ms); resolves with the scripts' paths. */
export async function buildBundle(dir: string): Promise<Bundle> {
  await Bun.build({
    entrypoints: [join(ROOT, "central.ts"), join(ROOT, "agency.ts")],
    outdir: dir,
    naming: "[name].[ext]",
    target: "bun",
    // Stack traces then name the sources' lines, at no start-up cost we could measure.
    sourcemap: "linked",
  });
  return { central: join(dir, "central.js"), agency: join(dir, "agency.js") };
}
