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

/** A bucket's state, updated in place. */
interface Entry extends BucketState {
  tokens: number;
  atMs: number;
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

  consume(bucketKey: string, cost = 1): Decision {
    const now = this.#clock();
    this.#sweep(now);
    const entry = this.#buckets.get(bucketKey);
    const fresh = entry === undefined || entry.fullAt <= now ? undefined : entry;
    const out = takeTokens(fresh, this.#policy, now, cost);
    if (out.resetMs > 0) this.#store(bucketKey, entry, out.state.tokens, now, now + out.resetMs);
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

  /**
   * Sets a bucket's level (tokens now), e.g. to follow a shared bucket this one stands in for (on every
   * shared decision, so it updates the entry in place).
   */
  setLevel(bucketKey: string, tokens: number): void {
    const now = this.#clock();
    const level = Math.min(this.#policy.capacity, Math.max(0, tokens));
    const fullIn = ((this.#policy.capacity - level) / this.#policy.refillPerSecond) * 1000;
    if (fullIn <= 0) this.#buckets.delete(bucketKey);
    else this.#store(bucketKey, this.#buckets.get(bucketKey), level, now, now + fullIn);
  }

  #store(
    bucketKey: string,
    entry: Entry | undefined,
    tokens: number,
    atMs: number,
    fullAt: number,
  ): void {
    if (entry === undefined) {
      this.#buckets.set(bucketKey, { tokens, atMs, fullAt });
      return;
    }
    entry.tokens = tokens;
    entry.atMs = atMs;
    entry.fullAt = fullAt;
  }

  /** Drops full buckets at most once per second, so a request pays for the sweep rarely. */
  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 1000;
    for (const [key, entry] of this.#buckets) if (entry.fullAt <= now) this.#buckets.delete(key);
  }
}
