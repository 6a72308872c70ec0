/** Rate-limit decision counts by route and outcome, kept as plain numbers for the metrics module. */

/** What happened to a request at the rate-limit stage; `fallback` also counts a decision made without the store. */
export type RateLimitOutcome = 'allowed' | 'limited' | 'shadow_limited' | 'fallback';

/** One counter value, as edgeway_rate_limit_decisions_total{route, outcome} exposes it. */
export interface RateLimitCount {
  readonly route: string;
  readonly outcome: RateLimitOutcome;
  readonly value: number;
}

/** Where the stage reports each decision (the gateway passes its Prometheus metrics). */
export interface RateLimitRecorder {
  count(route: string, outcome: RateLimitOutcome): void;
}

/** Monotonic counts kept in memory: a recorder tests can read back. */
export class RateLimitCounters implements RateLimitRecorder {
  readonly #byRoute = new Map<string, Record<RateLimitOutcome, number>>();

  count(route: string, outcome: RateLimitOutcome): void {
    let counts = this.#byRoute.get(route);
    if (counts === undefined) {
      counts = { allowed: 0, limited: 0, shadow_limited: 0, fallback: 0 };
      this.#byRoute.set(route, counts);
    }
    counts[outcome] += 1;
  }

  /** The count of one route and outcome (0 when never seen). */
  get(route: string, outcome: RateLimitOutcome): number {
    return this.#byRoute.get(route)?.[outcome] ?? 0;
  }

  /** Every non-zero count. */
  snapshot(): RateLimitCount[] {
    const out: RateLimitCount[] = [];
    for (const [route, counts] of this.#byRoute) {
      for (const outcome of Object.keys(counts) as RateLimitOutcome[]) {
        if (counts[outcome] > 0) out.push({ route, outcome, value: counts[outcome] });
      }
    }
    return out;
  }
}
