/** In-process token buckets: the embedded store's limiter and the local fallback during a Redis outage. */
import { takeTokens, type BucketPolicy, type BucketState } from './token-bucket.js';
import type { Clock, Decision, DecisionSource, RateLimiter } from './limiter.js';

/** Options of a memory limiter. */
export interface MemoryRateLimiterOptions {
  readonly policy: BucketPolicy;
  /** Defaults to Date.now. */
  readonly clock?: Clock;
  /** Source reported in decisions: 'store' when this is the gateway's store, 'local' as a fallback. */
  readonly source?: DecisionSource;
  /** The capacity reported as RateLimit-Limit; defaults to the policy's (a fallback reports the route's). */
  readonly reportedLimit?: number;
}

interface Entry {
  state: BucketState;
  /** Clock time at which the bucket is full again and the entry can go. */
  fullAt: number;
}

/** Buckets kept in a Map; entries whose bucket would be full again are swept, so the map stays bounded. */
export class MemoryRateLimiter implements RateLimiter {
  readonly #policy: BucketPolicy;
  readonly #clock: Clock;
  readonly #source: DecisionSource;
  readonly #limit: number;
  readonly #buckets = new Map<string, Entry>();
  #nextSweep = 0;

  constructor(options: MemoryRateLimiterOptions) {
    this.#policy = options.policy;
    this.#clock = options.clock ?? Date.now;
    this.#source = options.source ?? 'store';
    this.#limit = options.reportedLimit ?? options.policy.capacity;
  }

  /** Number of buckets held (full buckets are forgotten). */
  get size(): number {
    this.#sweep(this.#clock());
    return this.#buckets.size;
  }

  async consume(bucketKey: string, cost = 1): Promise<Decision> {
    const now = this.#clock();
    this.#sweep(now);
    const entry = this.#buckets.get(bucketKey);
    const fresh = entry === undefined || entry.fullAt <= now ? undefined : entry.state;
    const out = takeTokens(fresh, this.#policy, now, cost);
    if (out.resetMs > 0)
      this.#buckets.set(bucketKey, { state: out.state, fullAt: now + out.resetMs });
    else this.#buckets.delete(bucketKey);
    return {
      allowed: out.allowed,
      limit: this.#limit,
      remaining: out.remaining,
      resetMs: out.resetMs,
      retryAfterMs: out.allowed ? 0 : out.retryAfterMs,
      source: this.#source,
    };
  }

  /** Drops full buckets at most once per second, so a request pays for the sweep rarely. */
  /** Sets a bucket's level (tokens now), e.g. to follow a shared bucket this one stands in for. */
  setLevel(bucketKey: string, tokens: number): void {
    const now = this.#clock();
    const level = Math.min(this.#policy.capacity, Math.max(0, tokens));
    const fullIn = ((this.#policy.capacity - level) / this.#policy.refillPerSecond) * 1000;
    if (fullIn <= 0) this.#buckets.delete(bucketKey);
    else
      this.#buckets.set(bucketKey, { state: { tokens: level, atMs: now }, fullAt: now + fullIn });
  }

  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 1000;
    for (const [key, entry] of this.#buckets) if (entry.fullAt <= now) this.#buckets.delete(key);
  }
}
