// GET /status: the lottery's progress as JSON, for the status page and for people with curl. Counts
// only: no bettor's name or document ever leaves through HTTP.
import type { CentralState } from "../central/server.ts";

export interface AgencyStatus {
  agency: number;
  stored: number;
  ended: boolean;
  connected: boolean;
  /** Present once the draw has taken place. */
  winners?: number;
}

export interface Status {
  health: CentralState["health"];
  uptime_seconds: number;
  connections: number;
  bets_stored: number;
  batches: { stored: number; refused: number };
  draw: { completed: boolean; agencies_ended: number; agencies: number; winners: number | null };
  agencies: AgencyStatus[];
}

export function status(state: CentralState): Status {
  const drawn = state.drawn;
  const agencies: AgencyStatus[] = [];
  let stored = 0;
  let ended = 0;
  let winners = 0;
  for (let agency = 1; agency <= state.agencies; agency++) {
    const row: AgencyStatus = { agency, stored: state.stored(agency), ended: state.ended(agency), connected: state.connected(agency) };
    if (drawn) {
      row.winners = state.winners(agency);
      winners += row.winners;
    }
    stored += row.stored;
    if (row.ended) ended++;
    agencies.push(row);
  }
  return {
    health: state.health,
    uptime_seconds: Math.round(process.uptime() * 1000) / 1000,
    connections: state.connections,
    bets_stored: stored,
    batches: { stored: state.stats.batchesStored, refused: state.stats.batchesRefused },
    draw: { completed: drawn, agencies_ended: ended, agencies: state.agencies, winners: drawn ? winners : null },
    agencies,
  };
}
