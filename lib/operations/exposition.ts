// The Prometheus text exposition format, version 0.0.4: a family's HELP and TYPE lines, then its
// samples, one a line, `name{label="value"} number`.
import type { HistogramView } from "../central/stats.ts";

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge" | "histogram";

/** A label value as the format quotes it: backslash, double quote and line feed escaped. */
function labelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** A sample value: Go's float syntax, which JavaScript's number text is, plus the infinities. */
function sampleValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Builds one exposition: families in the order they are begun, each with its HELP and TYPE. */
export class ExpositionWriter {
  private text = "";

  family(name: string, type: MetricType, help: string): this {
    // HELP text escapes backslash and line feed only.
    this.text += `# HELP ${name} ${help.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"))}\n# TYPE ${name} ${type}\n`;
    return this;
  }

  sample(name: string, value: number, labels?: Record<string, string>): this {
    this.text += name;
    if (labels) {
      let first = true;
      for (const key in labels) {
        this.text += `${first ? "{" : ","}${key}="${labelValue(labels[key]!)}"`;
        first = false;
      }
      if (!first) this.text += "}";
    }
    this.text += ` ${sampleValue(value)}\n`;
    return this;
  }

  /** A histogram family with its cumulative buckets, sum and count. */
  histogram(name: string, help: string, histogram: HistogramView): this {
    this.family(name, "histogram", help);
    let cumulative = 0;
    histogram.bounds.forEach((bound, i) => {
      cumulative += histogram.counts[i]!;
      this.sample(`${name}_bucket`, cumulative, { le: sampleValue(bound) });
    });
    this.sample(`${name}_bucket`, histogram.count, { le: "+Inf" });
    this.sample(`${name}_sum`, histogram.sum);
    return this.sample(`${name}_count`, histogram.count);
  }

  toString(): string {
    return this.text;
  }
}
