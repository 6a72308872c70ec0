/** Token-bucket arithmetic: a pure function for the memory limiter; redis/token-lease.lua keeps the same bucket with leases on top. */

/** A bucket's shape: `capacity` tokens of burst, refilled continuously at `refillPerSecond`. */
export interface BucketPolicy {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/** What a bucket stores between decisions. A missing state means a full bucket. */
export interface BucketState {
  /** Tokens left, fractional (refill is continuous). */
  readonly tokens: number;
  /** When `tokens` was computed, ms on the clock that drives the bucket. */
  readonly atMs: number;
}

/** One decision and the state to store after it. */
export interface BucketOutcome {
  readonly allowed: boolean;
  readonly state: BucketState;
  /** Whole tokens left after this decision. */
  readonly remaining: number;
  /** Ms until `cost` tokens are available again (0 when they already are). */
  readonly retryAfterMs: number;
  /** Ms until the bucket is full again; the state can be forgotten after that long. */
  readonly resetMs: number;
}

/**
 * Refills the bucket for the time since its last decision, then takes `cost` tokens if it holds them.
 * A clock that went backwards refills nothing (never a negative refill). A cost above capacity is
 * always denied, with retryAfterMs = time until full (the most the bucket can ever hold).
 */
export function takeTokens(
  state: BucketState | undefined,
  policy: BucketPolicy,
  nowMs: number,
  cost: number,
): BucketOutcome {
  const { capacity, refillPerSecond } = policy;
  const perMs = refillPerSecond / 1000;
  const elapsed = state === undefined ? 0 : Math.max(0, nowMs - state.atMs);
  const before =
    state === undefined ? capacity : Math.min(capacity, state.tokens + elapsed * perMs);
  const allowed = before >= cost;
  const tokens = allowed ? before - cost : before;
  const missing = Math.min(cost, capacity) - tokens;
  return {
    allowed,
    state: { tokens, atMs: nowMs },
    remaining: Math.floor(tokens),
    retryAfterMs: missing > 0 ? Math.ceil(missing / perMs) : 0,
    resetMs: Math.ceil((capacity - tokens) / perMs),
  };
}
