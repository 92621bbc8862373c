// Counters the central's bets path keeps for its operators: plain number fields bumped in place, so that
// keeping them costs the path no allocation and no call it would notice. The HTTP side (lib/operations/) only
// reads them; what the lottery already counts (bets stored per agency, ENDs, the draw) is read from it.

/**
 * A Prometheus-style histogram over fixed buckets: an observation is a short scan of the bounds and
 * three additions, with no allocation.
 */
export class Histogram {
  /** Observations per bucket, not cumulative; the last slot is the +Inf bucket. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  /** `bounds`: the buckets' upper bounds in seconds, ascending. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** A write and sync of the disk: from well under a millisecond (page cache, fast SSD) to seconds (a struggling disk). */
const GROUP_COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** A batch waits for its group, and for the one being written before it: about twice a group's time. */
const BATCH_ACK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What a reader sees of a histogram: numbers, nothing to call. */
export interface HistogramView {
  readonly bounds: readonly number[];
  /** Observations per bucket, not cumulative; the last slot is the +Inf bucket. */
  readonly counts: ArrayLike<number>;
  readonly sum: number;
  readonly count: number;
}

/** What the HTTP side sees of the counters: numbers to read, nothing to assign or call. */
export interface StatsView {
  readonly batchesStored: number;
  readonly batchesRefused: number;
  readonly accessDeniedTotal: number;
  readonly groupCommit: HistogramView;
  readonly batchAck: HistogramView;
}

export class CentralStats implements StatsView {
  /** Bets batches answered OK (stored) and E (refused by a rule, or a bets frame that did not decode). */
  batchesStored = 0;
  batchesRefused = 0;
  /** Requests the access rule refused (acceso_denegado) and TLS clients without a valid certificate. */
  accessDeniedTotal = 0;
  /** One group of the store: its write and its sync. */
  readonly groupCommit = new Histogram(GROUP_COMMIT_BUCKETS);
  /** One batch, from its frame's last byte received to its OK queued. */
  readonly batchAck = new Histogram(BATCH_ACK_BUCKETS);
}
