/** A shared-store limiter that keeps deciding when the store is away: local buckets, open or closed. */
import type { Clock, Decision, RateLimiter } from './limiter.js';
import type { BucketPolicy } from './token-bucket.js';
import type { StoreHealth } from './store-health.js';
import { MemoryRateLimiter } from './memory-limiter.js';

/** What a route does while the store does not answer (config `rateLimit.onStoreFailure`). */
export type StoreFailurePolicy = 'local' | 'open' | 'closed';

/** Options of a failover limiter. */
export interface FailoverRateLimiterOptions {
  /** The shared limiter (RedisRateLimiter, leasing); its rejections start an outage. */
  readonly store: RateLimiter;
  readonly policy: BucketPolicy;
  readonly onStoreFailure: StoreFailurePolicy;
  readonly health: StoreHealth;
  /** Live gateway count (GatewayPresence.liveCount): local buckets get capacity / count. */
  readonly liveGateways: () => number;
  readonly clock?: Clock;
}

/**
 * Asks the store unless an outage is on. Store trouble never becomes an error: `local` decides with
 * this instance's share of the bucket, `open` admits, `closed` denies (a 429, never a 5xx).
 */
export class FailoverRateLimiter implements RateLimiter {
  readonly #options: FailoverRateLimiterOptions;
  #local: MemoryRateLimiter | undefined;
  #localShare = 0;

  constructor(options: FailoverRateLimiterOptions) {
    this.#options = options;
  }

  async consume(bucketKey: string, cost = 1): Promise<Decision> {
    const { store, health } = this.#options;
    if (!health.degraded) {
      try {
        const decision = await store.consume(bucketKey, cost);
        // The local bucket follows this gateway's share of the shared one, so a fallback continues from
        // the shared level instead of a full local bucket (which over-admitted by ~35% under load).
        if (this.#options.onStoreFailure === 'local')
          this.#localLimiter().setLevel(bucketKey, decision.remaining / this.#localShare);
        return decision;
      } catch (err) {
        health.reportFailure(err);
      }
    }
    health.counters.fallbackDecisions += 1;
    return this.#fallback(bucketKey, cost);
  }

  #fallback(bucketKey: string, cost: number): Promise<Decision> {
    const { policy, onStoreFailure } = this.#options;
    const fullMs = Math.ceil((policy.capacity / policy.refillPerSecond) * 1000);
    if (onStoreFailure === 'open') {
      return Promise.resolve({
        allowed: true,
        limit: policy.capacity,
        remaining: policy.capacity,
        resetMs: 0,
        retryAfterMs: 0,
        source: 'open',
      });
    }
    if (onStoreFailure === 'closed') {
      // Retry after one probe period or so: by then the store may answer again.
      return Promise.resolve({
        allowed: false,
        limit: policy.capacity,
        remaining: 0,
        resetMs: fullMs,
        retryAfterMs: 1000,
        source: 'closed',
      });
    }
    return this.#localLimiter().consume(bucketKey, cost);
  }

  /** This instance's share of the bucket; rebuilt only when the live gateway count changes. */
  #localLimiter(): MemoryRateLimiter {
    const { policy, liveGateways, clock } = this.#options;
    const share = Math.max(1, liveGateways());
    if (this.#local === undefined || share !== this.#localShare) {
      this.#localShare = share;
      this.#local = new MemoryRateLimiter({
        // At least one token, or a small bucket split many ways would deny everything.
        policy: {
          capacity: Math.max(1, policy.capacity / share),
          refillPerSecond: policy.refillPerSecond / share,
        },
        reportedLimit: policy.capacity,
        source: 'local',
        ...(clock === undefined ? {} : { clock }),
      });
    }
    return this.#local;
  }
}
