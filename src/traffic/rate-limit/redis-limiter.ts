/** Token buckets in Redis shared by every gateway, spent through leases of redis/token-lease.lua (README "Token leases"). */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../store/backend.js';
import type { Clock, Decision, RateLimiter } from './limiter.js';
import type { BucketPolicy } from './token-bucket.js';
import { defineScript, type ScriptCommand } from '../../store/lua-script.js';
import { withDeadline } from '../../store/deadline.js';

type LeaseReply = [granted: number, remaining: number, retryAfterMs: number, resetMs: number];

/** Options of a Redis limiter. */
export interface RedisRateLimiterOptions {
  /** The shared connection; ioredis `enableAutoPipelining: true` batches concurrent calls. */
  readonly redis: RedisClient;
  readonly policy: BucketPolicy;
  /** Ms a store call may take before it rejects with StoreTimeoutError (default 50). */
  readonly budgetMs?: number;
  /** Ms a lease may be spent before its rest goes back (default 250). */
  readonly leaseMs?: number;
  /** The largest lease as a fraction of capacity (default 0.1). */
  readonly maxLeaseFraction?: number;
  /**
   * Local ms for leases and rate windows; must not run slower than Redis' clock. Default performance.now:
   * monotonic, so a wall-clock step never stretches a lease.
   */
  readonly clock?: Clock;
  /** Told when a detached hand-back fails (the provider passes StoreHealth.reportFailure: logged, counted). */
  readonly onHandBackFailure?: (err: unknown) => void;
}

/** The Redis key of a bucket; the hash tag keeps it whole on Redis Cluster. */
export function bucketRedisKey(bucketKey: string): string {
  return `edgeway:{rl:${bucketKey}}`;
}

// A lease is sized to what this gateway spent on the key in the last window of this length.
const RATE_WINDOW_MS = 200;
// A key that spent fewer tokens than this in a window (20/s) takes exactly each request's cost.
const MIN_LEASE = 4;

interface Waiter {
  readonly cost: number;
  readonly resolve: (decision: Decision) => void;
  readonly reject: (err: unknown) => void;
}

/** One key as this gateway sees it: its lease, its recent spend, and requests waiting for a store call. */
interface KeyState {
  /** Leased tokens not yet spent. */
  tokens: number;
  /** Local time from which the lease may no longer be spent. */
  expiresAt: number;
  /** Shared tokens as of the last store reply plus the lease, minus local spend since: RateLimit-Remaining. */
  level: number;
  windowStart: number;
  spentNow: number;
  spentBefore: number;
  waiters: Waiter[];
  busy: boolean;
}

/**
 * A limiter whose buckets live in Redis. consume() rejects (StoreTimeoutError or the ioredis error)
 * when Redis is slow or gone; FailoverRateLimiter turns that into a local, open or closed decision.
 * Tokens leave Redis before they are spent, so every gateway together never admits more than the
 * shared bucket holds; a lease's rest goes back when it expires or the next lease is taken.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #policy: BucketPolicy;
  readonly #budgetMs: number;
  readonly #leaseMs: number;
  readonly #maxLease: number;
  readonly #perMs: number;
  readonly #clock: Clock;
  readonly #holder = randomUUID();
  readonly #lease: ScriptCommand<LeaseReply>;
  readonly #keys = new Map<string, KeyState>();
  readonly #onHandBackFailure: (err: unknown) => void;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: RedisRateLimiterOptions) {
    this.#policy = options.policy;
    this.#budgetMs = options.budgetMs ?? 50;
    this.#leaseMs = options.leaseMs ?? 250;
    this.#maxLease = Math.max(
      1,
      Math.floor(options.policy.capacity * (options.maxLeaseFraction ?? 0.1)),
    );
    this.#perMs = options.policy.refillPerSecond / 1000;
    this.#clock = options.clock ?? (() => performance.now());
    this.#onHandBackFailure = options.onHandBackFailure ?? (() => undefined);
    this.#lease = defineScript<LeaseReply>(
      options.redis,
      'edgewayTokenLease',
      'token-lease.lua',
      1,
    );
  }

  consume(bucketKey: string, cost = 1): Decision | Promise<Decision> {
    const now = this.#clock();
    let state = this.#keys.get(bucketKey);
    if (state === undefined) {
      state = {
        tokens: 0,
        expiresAt: 0,
        level: 0,
        windowStart: now,
        spentNow: 0,
        spentBefore: 0,
        waiters: [],
        busy: false,
      };
      this.#keys.set(bucketKey, state);
      this.#sweeper ??= setInterval(() => this.#sweep(), this.#leaseMs).unref();
    }
    roll(state, now);
    // Tokens on hand: a counter decrement, decided before any store call.
    if (state.waiters.length === 0 && state.tokens >= cost && now < state.expiresAt)
      return this.#spend(state, cost);
    const waiting = state;
    return new Promise<Decision>((resolve, reject) => {
      waiting.waiters.push({ cost, resolve, reject });
      if (!waiting.busy) void this.#renew(bucketKey, waiting);
    });
  }

  #spend(state: KeyState, cost: number): Decision {
    state.tokens -= cost;
    state.level -= cost;
    state.spentNow += cost;
    const { capacity } = this.#policy;
    return {
      allowed: true,
      limit: capacity,
      remaining: Math.max(0, Math.floor(state.level)),
      resetMs: Math.ceil((capacity - Math.max(0, state.level)) / this.#perMs),
      retryAfterMs: 0,
      source: 'store',
    };
  }

  /**
   * One store call for every waiting request: hands back the old lease's rest and takes a new lease of
   * max(waiting demand, recent spend), so a burst on a quiet key costs one call, not one per request.
   */
  async #renew(bucketKey: string, state: KeyState): Promise<void> {
    state.busy = true;
    const batch = state.waiters;
    state.waiters = [];
    const sentAt = this.#clock();
    const first = (batch[0] as Waiter).cost;
    let demand = 0;
    for (const waiter of batch) demand += waiter.cost;
    // Waiting requests spend their tokens at once; only the part beyond them is held, so only it is capped.
    const recent = Math.max(state.spentNow, state.spentBefore);
    const want = Math.max(demand, recent >= MIN_LEASE ? Math.min(this.#maxLease, recent) : 0);
    const giveBack = state.tokens;
    state.tokens = 0;
    state.expiresAt = 0;
    try {
      const { capacity, refillPerSecond } = this.#policy;
      const call = this.#lease(
        bucketRedisKey(bucketKey),
        capacity,
        refillPerSecond,
        first,
        want,
        demand,
        giveBack,
        this.#leaseMs,
        this.#holder,
      );
      const [granted, remaining, retryAfterMs, resetMs] = await withDeadline(call, this.#budgetMs);
      state.tokens = granted;
      state.expiresAt = sentAt + this.#leaseMs;
      state.level = remaining + granted;
      // A grant below the batch's demand means the bucket ran short: the rest is denied, as one call each would be.
      for (const waiter of batch) {
        if (state.tokens >= waiter.cost) waiter.resolve(this.#spend(state, waiter.cost));
        else waiter.resolve(this.#deny(waiter.cost, first, remaining, retryAfterMs, resetMs));
      }
    } catch (err) {
      // The call may or may not have run: its lease counts as spent, never as ours to spend twice.
      for (const waiter of batch) waiter.reject(err);
    } finally {
      state.busy = false;
    }
    this.#serveWaiting(bucketKey, state);
  }

  #deny(
    cost: number,
    first: number,
    remaining: number,
    retryAfterMs: number,
    resetMs: number,
  ): Decision {
    const { capacity } = this.#policy;
    // The store priced the first waiter's cost; a dearer request waits for the difference as well.
    const extra = cost > first ? Math.ceil((Math.min(cost, capacity) - first) / this.#perMs) : 0;
    return {
      allowed: false,
      limit: capacity,
      remaining,
      resetMs,
      retryAfterMs: Math.max(1, retryAfterMs + extra),
      source: 'store',
    };
  }

  /** Requests that arrived during a store call: served from the new lease, the rest by the next call. */
  #serveWaiting(bucketKey: string, state: KeyState): void {
    const now = this.#clock();
    const { waiters } = state;
    let served = 0;
    while (
      served < waiters.length &&
      now < state.expiresAt &&
      state.tokens >= (waiters[served] as Waiter).cost
    ) {
      const waiter = waiters[served] as Waiter;
      served += 1;
      waiter.resolve(this.#spend(state, waiter.cost));
    }
    if (served > 0) waiters.splice(0, served);
    if (waiters.length > 0) void this.#renew(bucketKey, state);
  }

  /** Hands back expired leases' rest (one call each) and forgets keys idle for two windows. */
  #sweep(): void {
    const now = this.#clock();
    for (const [bucketKey, state] of this.#keys) {
      if (state.busy || state.waiters.length > 0 || now < state.expiresAt) continue;
      if (state.tokens > 0) {
        void this.#giveBack(bucketKey, state.tokens);
        state.tokens = 0;
      }
      roll(state, now);
      if (state.spentNow === 0 && state.spentBefore === 0) this.#keys.delete(bucketKey);
    }
    if (this.#keys.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /** Hands back every lease's unspent rest (graceful shutdown); a lease that is being renewed just expires. */
  async release(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    const calls: Array<Promise<void>> = [];
    for (const [bucketKey, state] of this.#keys) {
      if (state.busy || state.tokens <= 0) continue;
      calls.push(this.#giveBack(bucketKey, state.tokens));
      state.tokens = 0;
    }
    this.#keys.clear();
    await Promise.all(calls);
  }

  #giveBack(bucketKey: string, tokens: number): Promise<void> {
    const { capacity, refillPerSecond } = this.#policy;
    const call = this.#lease(
      bucketRedisKey(bucketKey),
      capacity,
      refillPerSecond,
      0,
      0,
      0,
      tokens,
      0,
      this.#holder,
    );
    // A hand-back that fails loses those tokens until the refill brings them: never admits too many.
    return withDeadline(call, this.#budgetMs).then(
      () => undefined,
      (err: unknown) => this.#onHandBackFailure(err),
    );
  }
}

/** Moves a key's spend window forward; a gap of two windows or more means no recent spend. */
function roll(state: KeyState, now: number): void {
  const age = now - state.windowStart;
  if (age < RATE_WINDOW_MS) return;
  const adjacent = age < 2 * RATE_WINDOW_MS;
  state.spentBefore = adjacent ? state.spentNow : 0;
  state.spentNow = 0;
  state.windowStart = adjacent ? state.windowStart + RATE_WINDOW_MS : now;
}
