// Reading the central's HTTP side in tests: /metrics parsed into samples, with the text format's rules
// checked as it is read (promtool itself runs in test/operations/run.ts, outside bun test).
import type { Status } from "../../lib/operations/status.ts";

/** Samples by name and labels as written: `lottery_batches_total{result="stored"}` -> 3. */
export type Samples = Map<string, number>;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/;
const COMMENT = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/;
const SUFFIXES: Record<string, string[]> = { counter: [""], gauge: [""], histogram: ["_bucket", "_sum", "_count"] };

/**
 * Parses an exposition (format 0.0.4) and throws on what the format forbids: a sample outside a family
 * declared by HELP and TYPE before it, a family declared twice, a value that is not a number, a
 * histogram whose buckets are not cumulative or whose +Inf bucket is not its count.
 */
export function parseMetrics(text: string): Samples {
  if (!text.endsWith("\n")) throw new Error("an exposition ends with a line feed");
  const samples: Samples = new Map();
  const types = new Map<string, string>();
  const helped = new Set<string>();
  let family = "";
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = COMMENT.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      if (kind === "HELP") {
        if (helped.has(name!) || types.has(name!)) throw new Error(`family ${name} declared twice`);
        helped.add(name!);
        family = name!;
      } else {
        if (name !== family || !helped.has(name) || !SUFFIXES[rest!]) throw new Error(`TYPE without its HELP first: ${line}`);
        types.set(name, rest!);
      }
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name, labels = "", raw] = sample;
    const type = types.get(family);
    if (!type || !SUFFIXES[type]!.some((suffix) => name === family + suffix)) throw new Error(`sample ${name} outside its family (${family})`);
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== "NaN") throw new Error(`not a number: ${line}`);
    const key = name + labels;
    if (samples.has(key)) throw new Error(`sample ${key} twice`);
    samples.set(key, value);
  }
  for (const [name, type] of types) {
    if (type !== "histogram") continue;
    const buckets = [...samples].filter(([key]) => key.startsWith(`${name}_bucket{`)).map(([, value]) => value);
    if (buckets.some((value, i) => i > 0 && value < buckets[i - 1]!)) throw new Error(`${name}: buckets are not cumulative`);
    if (samples.get(`${name}_bucket{le="+Inf"}`) !== samples.get(`${name}_count`)) throw new Error(`${name}: +Inf bucket is not the count`);
  }
  return samples;
}

export async function fetchMetrics(port: number): Promise<Samples> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.headers.get("content-type") !== "text/plain; version=0.0.4; charset=utf-8") {
    throw new Error(`/metrics content type ${response.headers.get("content-type")}`);
  }
  return parseMetrics(await response.text());
}

export async function fetchStatus(port: number): Promise<Status> {
  const response = await fetch(`http://127.0.0.1:${port}/status`);
  if (!response.ok) throw new Error(`/status answered ${response.status}`);
  return (await response.json()) as Status;
}
