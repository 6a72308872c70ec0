/** The RateLimiter interface every implementation (memory, redis, failover) satisfies. */

/** Where a decision came from: the shared store, this instance's local buckets, or the outage policy. */
export type DecisionSource = 'store' | 'local' | 'open' | 'closed';

/** One rate-limit decision, everything the headers and the 429 answer need. */
export interface Decision {
  readonly allowed: boolean;
  /** The bucket capacity the client is told about (RateLimit-Limit). */
  readonly limit: number;
  /** Whole tokens left after this decision. */
  readonly remaining: number;
  /** Ms until the bucket is full again. */
  readonly resetMs: number;
  /** Ms until the request's cost is available again (0 when allowed). */
  readonly retryAfterMs: number;
  readonly source: DecisionSource;
}

/** Takes tokens from named buckets of one policy (capacity, refill rate). */
export interface RateLimiter {
  /**
   * Takes `cost` tokens (default 1) from the bucket named `bucketKey`, creating it full if new. A decision
   * made from what this process holds (local buckets, a lease's tokens) comes back at once, so the stage
   * costs no promise; one that needs the store comes as a promise.
   */
  consume(bucketKey: string, cost?: number): Decision | Promise<Decision>;
}

/** A clock in milliseconds; injected so tests drive time. */
export type Clock = () => number;

/** The logging calls rate limiting makes (pino's signature). */
export interface TrafficLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}
