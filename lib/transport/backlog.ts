// How much work the connections have brought in that is not finished yet: what flow control measures.

/**
 * Work admitted and not yet finished, across every connection, in units its owner chooses (the central:
 * bets waiting for the store). At the limit every connection stops reading; as it drains, they read again
 * a few at a time, oldest first (see FlowControl), so that however many clients pipeline their windows,
 * memory stays bounded. The sessions count; the mechanics pause.
 */
export class Backlog {
  private pending = 0;
  private readonly lowListeners = new Set<() => void>();

  constructor(
    readonly limit: number,
    /** Units a connection let back in is reckoned to bring: waiting connections read again as many as the room holds. */
    readonly perReader: number,
  ) {}

  get full(): boolean {
    return this.pending >= this.limit;
  }

  /** Low enough for paused connections to read again. */
  get low(): boolean {
    return this.pending < this.limit / 2;
  }

  /** How much more may be admitted before the backlog is full. */
  get room(): number {
    return Math.max(0, this.limit - this.pending);
  }

  add(count: number): void {
    this.pending += count;
  }

  remove(count: number): void {
    this.pending -= count;
    if (this.low) for (const listener of this.lowListeners) listener();
  }

  /** Called each time work finishes while the backlog is low. */
  onLow(listener: () => void): void {
    this.lowListeners.add(listener);
  }
}
