/** Token buckets in Redis: one atomic redis/token-bucket.lua round trip per decision, shared by every gateway. */
import type { RedisClient } from '../../store/backend.js';
import type { Decision, RateLimiter } from './limiter.js';
import type { BucketPolicy } from './token-bucket.js';
import { defineScript, type ScriptCommand } from '../../store/lua-script.js';
import { withDeadline } from './deadline.js';

type BucketReply = [allowed: number, remaining: number, retryAfterMs: number, resetMs: number];

/** Options of a Redis limiter. */
export interface RedisRateLimiterOptions {
  /** The shared connection; ioredis `enableAutoPipelining: true` batches concurrent decisions. */
  readonly redis: RedisClient;
  readonly policy: BucketPolicy;
  /** Ms a decision may take before it rejects with StoreTimeoutError (default 50). */
  readonly budgetMs?: number;
}

/** The Redis key of a bucket; the hash tag keeps it whole on Redis Cluster. */
export function bucketRedisKey(bucketKey: string): string {
  return `edgeway:{rl:${bucketKey}}`;
}

/**
 * A limiter whose buckets live in Redis. consume() rejects (StoreTimeoutError or the ioredis error)
 * when Redis is slow or gone; FailoverRateLimiter turns that into a local, open or closed decision.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #policy: BucketPolicy;
  readonly #budgetMs: number;
  readonly #takeTokens: ScriptCommand<BucketReply>;

  constructor(options: RedisRateLimiterOptions) {
    this.#policy = options.policy;
    this.#budgetMs = options.budgetMs ?? 50;
    this.#takeTokens = defineScript<BucketReply>(options.redis, 'edgewayTokenBucket', 'token-bucket.lua', 1);
  }

  async consume(bucketKey: string, cost = 1): Promise<Decision> {
    const { capacity, refillPerSecond } = this.#policy;
    const reply = await withDeadline(this.#takeTokens(bucketRedisKey(bucketKey), capacity, refillPerSecond, cost), this.#budgetMs);
    const [allowed, remaining, retryAfterMs, resetMs] = reply;
    return {
      allowed: allowed === 1,
      limit: capacity,
      remaining,
      resetMs,
      retryAfterMs: allowed === 1 ? 0 : retryAfterMs,
      source: 'store',
    };
  }
}
