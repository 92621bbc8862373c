// What both benchmarks measure the same way: a finished process's peak memory and CPU, medians, where they keep things.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, type RunningProcess } from "../processes.ts";

export const BENCH_DIR = join(ROOT, ".bench");

export interface Usage {
  peakRssMb: number;
  cpuSeconds: number;
}

/**
 * A process's peak RSS and CPU time (user and system), once it has exited. The peak is an upper bound:
 * a process started by Bun.spawn reports the larger of its own and its parent's peak at the fork (see
 * processPeakRssMb, for a process still running).
 */
export function usage(running: RunningProcess): Usage {
  const resources = running.process.resourceUsage()!;
  return {
    peakRssMb: resources.maxRSS / (1024 * 1024),
    cpuSeconds: Number(resources.cpuTime.total) / 1e6,
  };
}

/**
 * A running process's own peak RSS from /proc (VmHWM). Not its resource usage at exit: a process started
 * by Bun.spawn inherits, through fork and exec, the peak of the process that started it, which can be the larger.
 */
export function processPeakRssMb(pid: number | "self"): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB$/m);
  if (!match) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) / 1024;
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
