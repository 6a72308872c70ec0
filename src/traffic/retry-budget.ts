/** A retry budget: retries stay a small fraction of requests, so a failing upstream does not face a storm. */

/** Budget settings; defaults follow Linkerd's (20% of requests plus 10 retries per second, over 10 s). */
export interface RetryBudgetOptions {
  /** Retries allowed per request in the window. */
  readonly ratio?: number;
  /** Retries allowed per second of window regardless of traffic, so a quiet service can still retry. */
  readonly minRetriesPerSecond?: number;
  /** Length of the sliding window in ms. */
  readonly windowMs?: number;
}

/** Slots the window is cut into: the window slides one slot at a time. */
const SLOTS = 10;

/**
 * Counts requests and retries in a sliding window of SLOTS slots. A retry is allowed while retries in the
 * window stay under `minRetriesPerSecond x window seconds + ratio x requests`. O(SLOTS) per call, no allocation.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly minRetries: number;
  private readonly slotMs: number;
  private readonly epochs = new Float64Array(SLOTS).fill(-1);
  private readonly requests = new Float64Array(SLOTS);
  private readonly retries = new Float64Array(SLOTS);

  constructor(
    options: RetryBudgetOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    const windowMs = options.windowMs ?? 10_000;
    this.ratio = options.ratio ?? 0.2;
    this.minRetries = (options.minRetriesPerSecond ?? 10) * (windowMs / 1000);
    this.slotMs = windowMs / SLOTS;
  }

  /** Counts one original request (not a retry). */
  recordRequest(): void {
    this.requests[this.slot()]! += 1;
  }

  /** Takes one retry from the budget: true (and counted) when allowed, false when the budget is spent. */
  tryAcquire(): boolean {
    const current = this.slot();
    const oldest = (this.epochs[current] as number) - SLOTS + 1;
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < SLOTS; i++) {
      if ((this.epochs[i] as number) < oldest) continue;
      requests += this.requests[i] as number;
      retries += this.retries[i] as number;
    }
    if (retries + 1 > this.minRetries + this.ratio * requests) return false;
    this.retries[current]! += 1;
    return true;
  }

  /** Index of the current slot, cleared first if it last held an older epoch. */
  private slot(): number {
    const epoch = Math.floor(this.now() / this.slotMs);
    const index = epoch % SLOTS;
    if (this.epochs[index] !== epoch) {
      this.epochs[index] = epoch;
      this.requests[index] = 0;
      this.retries[index] = 0;
    }
    return index;
  }
}
