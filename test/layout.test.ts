// The layout's rules (README, Layout): lib/'s folders are layers, and a module imports only from its own
// folder and the layers below it, with no circle among its files; modules stay short.
import { expect, test } from "bun:test";
import { Glob } from "bun";
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const LIB = join(import.meta.dir, "../lib");

/** Bottom up, as the README lists them; the loose files of lib/ are the "shared" layer. */
const LAYERS = ["util", "shared", "bet", "protocol", "storage", "transport", "central", "agency", "operations", "deployment", "tooling"];
/** Siblings that may not import each other: the two roles. */
const SIBLINGS = [["central", "agency"]];
/** Layers below that one may still not import: the connection mechanics know nothing of the lottery. */
const APART: [from: string, to: string][] = [["transport", "bet"]];

const layerOf = (path: string) => (path.includes("/") ? path.split("/")[0]! : "shared");

/** Each lib module (relative to lib/) and the lib modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of new Glob("**/*.ts").scanSync(LIB)) {
    const source = readFileSync(join(LIB, file), "utf8");
    const targets = [...source.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)"/g)].map((match) =>
      normalize(relative(LIB, join(LIB, dirname(file), match[1]!))),
    );
    graph.set(file, targets);
  }
  return graph;
}

test("every import goes to the module's own folder or a layer below it, never between the roles, and transport never to bet", () => {
  const graph = importGraph();
  expect(graph.size).toBeGreaterThan(50);
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    expect(LAYERS).toContain(from);
    for (const target of targets) {
      expect(graph.has(target)).toBe(true);
      const to = layerOf(target);
      const sideways = SIBLINGS.some((pair) => pair.includes(from) && pair.includes(to) && from !== to);
      const apart = APART.some(([a, b]) => a === from && b === to);
      if (LAYERS.indexOf(to) > LAYERS.indexOf(from) || sideways || apart) wrong.push(`${file} -> ${target}`);
    }
  }
  expect(wrong).toEqual([]);
});

test("no circle among lib's modules", () => {
  const graph = importGraph();
  const done = new Set<string>();
  const circles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (path.includes(file)) return void circles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
    if (done.has(file)) return;
    for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file, []);
  expect(circles).toEqual([]);
});

test("at most four modules stay loose in lib/, and none is over 400 lines", () => {
  const files = [...importGraph().keys()];
  expect(files.filter((file) => !file.includes("/")).length).toBeLessThanOrEqual(4);
  const long = files.filter((file) => readFileSync(join(LIB, file), "utf8").split("\n").length > 401);
  expect(long).toEqual([]);
});
