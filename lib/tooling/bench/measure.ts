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

/** /proc reports CPU time in clock ticks, 100 a second on Linux (USER_HZ, whatever the kernel's own HZ). */
const CLOCK_TICKS = 100;

/** CPU seconds a process has used so far, in user space and in the kernel, from /proc. */
export function processCpuSeconds(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces: state is the first.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
}

/** CPU seconds this process has used so far. */
export const ownCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
