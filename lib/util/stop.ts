// One stop for the parts of a run (the agency's dialogue, its dialer, its pacer): a flag each checks
// before its next step, and a wait that ends at once when it comes.

export class Stop {
  private readonly signal = Promise.withResolvers<void>();
  private asked = false;

  /** The stop came: take no further step. */
  get requested(): boolean {
    return this.asked;
  }

  request(): void {
    this.asked = true;
    this.signal.resolve();
  }

  /** Waits for `wait` (a sleep, say) or the stop, whichever comes first. */
  async until(wait: Promise<unknown>): Promise<void> {
    await Promise.race([wait, this.signal.promise]);
  }
}
