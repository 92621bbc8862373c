// GET /metrics: the central's counters and state as Prometheus metrics (README, Operations, names each).
import type { CentralState } from "../central/server.ts";
import { ExpositionWriter } from "./exposition.ts";

/** The process's start, as seconds since the epoch: when its clock (performance.now) began. */
const PROCESS_START_SECONDS = performance.timeOrigin / 1000;

export function renderMetrics(state: CentralState): string {
  const { stats } = state;
  const out = new ExpositionWriter();

  out.family("lottery_bets_stored_total", "counter", "Bets stored durably per agency, those found by recovery at start-up included.");
  let ended = 0;
  for (let agency = 1; agency <= state.agencies; agency++) {
    out.sample("lottery_bets_stored_total", state.stored(agency), { agency: String(agency) });
    if (state.ended(agency)) ended++;
  }
  out
    .family("lottery_batches_total", "counter", "Bets batches answered: stored (OK) or refused (E: a bet broke a rule, or the frame did not decode).")
    .sample("lottery_batches_total", stats.batchesStored, { result: "stored" })
    .sample("lottery_batches_total", stats.batchesRefused, { result: "refused" })
    .family("lottery_access_denied_total", "counter", "Requests refused by the access rule, and TLS clients refused for want of a valid certificate.")
    .sample("lottery_access_denied_total", stats.accessDeniedTotal)
    .family("lottery_connections", "gauge", "Connections open to the bets port.")
    .sample("lottery_connections", state.connections)
    .family("lottery_agencies", "gauge", "Agencies the lottery expects (lottery.agencies).")
    .sample("lottery_agencies", state.agencies)
    .family("lottery_agencies_ended", "gauge", "Agencies whose END is durable.")
    .sample("lottery_agencies_ended", ended)
    .family("lottery_draw_completed", "gauge", "1 once every agency has ended and the draw has taken place, else 0.")
    .sample("lottery_draw_completed", state.drawn ? 1 : 0)
    .histogram("lottery_group_commit_seconds", "One group commit of the store: its write and its sync.", stats.groupCommit)
    .histogram("lottery_batch_ack_seconds", "One bets batch, from its frame's last byte received to its OK queued.", stats.batchAck);

  const cpu = process.cpuUsage();
  out
    .family("process_cpu_seconds_total", "counter", "User and system CPU time spent by the central, in seconds.")
    .sample("process_cpu_seconds_total", (cpu.user + cpu.system) / 1e6)
    .family("process_resident_memory_bytes", "gauge", "Resident memory of the central, in bytes.")
    .sample("process_resident_memory_bytes", process.memoryUsage.rss())
    .family("process_start_time_seconds", "gauge", "Start time of the central since the Unix epoch, in seconds.")
    .sample("process_start_time_seconds", PROCESS_START_SECONDS);
  return out.toString();
}
