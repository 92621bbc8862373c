// What both benchmarks measure the same way: a finished process's peak memory and CPU, medians, where they keep things.
import { join } from "node:path";
import { ROOT, type RunningProcess } from "../local/processes.ts";

export const BENCH_DIR = join(ROOT, ".bench");

export interface Usage {
  peakRssMb: number;
  cpuSeconds: number;
}

/** A process's peak RSS and CPU time (user and system), once it has exited. */
export function usage(running: RunningProcess): Usage {
  const resources = running.process.resourceUsage()!;
  return {
    peakRssMb: resources.maxRSS / (1024 * 1024),
    cpuSeconds: Number(resources.cpuTime.total) / 1e6,
  };
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
