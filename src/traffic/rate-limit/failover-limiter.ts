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
  /** The decision of `open` or `closed` during an outage: the same for every request. */
  readonly #outageDecision: Decision | undefined;
  #local: MemoryRateLimiter | undefined;
  #localShare = 0;

  constructor(options: FailoverRateLimiterOptions) {
    this.#options = options;
    const { capacity, refillPerSecond } = options.policy;
    this.#outageDecision =
      options.onStoreFailure === 'open'
        ? {
            allowed: true,
            limit: capacity,
            remaining: capacity,
            resetMs: 0,
            retryAfterMs: 0,
            source: 'open',
          }
        : options.onStoreFailure === 'closed'
          ? {
              allowed: false,
              limit: capacity,
              remaining: 0,
              resetMs: Math.ceil((capacity / refillPerSecond) * 1000),
              // Retry after one probe period or so: by then the store may answer again.
              retryAfterMs: 1000,
              source: 'closed',
            }
          : undefined;
  }

  consume(bucketKey: string, cost = 1): Decision | Promise<Decision> {
    const { store, health } = this.#options;
    if (health.degraded) return this.#fallback(bucketKey, cost);
    let decision: Decision | Promise<Decision>;
    try {
      decision = store.consume(bucketKey, cost);
    } catch (err) {
      health.reportFailure(err);
      return this.#fallback(bucketKey, cost);
    }
    if (!(decision instanceof Promise)) return this.#followed(bucketKey, decision);
    return decision.then(
      (shared) => this.#followed(bucketKey, shared),
      (err: unknown) => {
        health.reportFailure(err);
        return this.#fallback(bucketKey, cost);
      },
    );
  }

  /**
   * The local bucket follows this gateway's share of the shared one, so a fallback continues from the
   * shared level instead of a full local bucket (which over-admitted by ~35% under load).
   */
  #followed(bucketKey: string, decision: Decision): Decision {
    if (this.#options.onStoreFailure === 'local')
      this.#localLimiter().setLevel(bucketKey, decision.remaining / this.#localShare);
    return decision;
  }

  #fallback(bucketKey: string, cost: number): Decision {
    this.#options.health.counters.fallbackDecisions += 1;
    return this.#outageDecision ?? this.#localLimiter().consume(bucketKey, cost);
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
