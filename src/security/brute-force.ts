/** Failure throttles: after too many failures a key (client IP, client id) is blocked, and its crypto work is rationed. */
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
  type RateLimiterStoreAbstract,
} from 'rate-limiter-flexible';
import type { StoreBackend } from '../store/backend.js';

/** How many failures a key may have per window, and how long it is refused after. */
export interface ThrottleOptions {
  /** Stable name, part of the Redis key: `edgeway:{<name>}:<key>`. */
  readonly name: string;
  /** Failures allowed per window. */
  readonly failures: number;
  /** Window, seconds. */
  readonly windowSec: number;
  /** Refusal once the failures are exceeded, seconds. */
  readonly blockSec: number;
  /** Credential checks a blocked key may still have per second (default 5): its valid credentials still pass, forgeries cost little CPU. */
  readonly checksPerSecondWhileBlocked?: number;
  readonly now?: () => number;
  /** Reports a store failure; the failure then goes uncounted (fail open) rather than failing the request. */
  readonly onError?: (err: unknown) => void;
}

/** Most keys remembered as blocked in this process; beyond it, expired ones are swept. */
const MAX_LOCAL_BLOCKS = 100_000;

/**
 * Counts failures per key with rate-limiter-flexible (shared through Redis when the backend is Redis)
 * and keeps the resulting blocks in a local map, so checking a key is a synchronous lookup. A block
 * does not refuse a key outright (one IP may be a NAT of many users, one of them the attacker): it
 * rations the expensive checks the key may still ask for, so a flood of forgeries costs a few
 * signature checks per second and no Redis round trips, while a valid credential still passes.
 */
export class FailureThrottle {
  readonly #limiter: RateLimiterAbstract | RateLimiterStoreAbstract;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  readonly #blockedUntil = new Map<string, number>();
  readonly #checksPerSecond: number;
  /** Per blocked key: checks left (fractional, refilled continuously) and when last counted. */
  readonly #allowance = new Map<string, { left: number; at: number }>();

  constructor(backend: StoreBackend, options: ThrottleOptions) {
    const common = {
      keyPrefix: `edgeway:{${options.name}}`,
      points: options.failures,
      duration: options.windowSec,
      blockDuration: options.blockSec,
    };
    this.#limiter =
      backend.kind === 'redis'
        ? new RateLimiterRedis({ ...common, storeClient: backend.redis })
        : new RateLimiterMemory(common);
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
    this.#checksPerSecond = options.checksPerSecondWhileBlocked ?? 5;
  }

  /** Milliseconds `key` stays refused, 0 when it may try. */
  blockedFor(key: string): number {
    const until = this.#blockedUntil.get(key);
    if (until === undefined) return 0;
    const left = until - this.#now();
    if (left > 0) return left;
    this.#blockedUntil.delete(key);
    this.#allowance.delete(key);
    return 0;
  }

  /**
   * Takes one credential check from a blocked key's allowance (a token bucket of
   * `checksPerSecondWhileBlocked`); false when it is used up for now. An unblocked key always may.
   */
  mayCheck(key: string): boolean {
    if (this.blockedFor(key) === 0) return true;
    const now = this.#now();
    const rate = this.#checksPerSecond;
    const previous = this.#allowance.get(key) ?? { left: rate, at: now };
    const left = Math.min(rate, previous.left + ((now - previous.at) * rate) / 1000);
    this.#allowance.set(key, { left: left >= 1 ? left - 1 : left, at: now });
    return left >= 1;
  }

  /** Counts one failure of `key`; returns how long it is now refused (0 while under the limit). */
  async fail(key: string): Promise<number> {
    try {
      await this.#limiter.consume(key);
      return 0;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) {
        this.#onError(err);
        return 0;
      }
      this.#block(key, err.msBeforeNext);
      return err.msBeforeNext;
    }
  }

  #block(key: string, ms: number): void {
    const now = this.#now();
    if (this.#blockedUntil.size >= MAX_LOCAL_BLOCKS) {
      for (const [known, until] of this.#blockedUntil) {
        if (until > now) continue;
        this.#blockedUntil.delete(known);
        this.#allowance.delete(known);
      }
    }
    if (this.#blockedUntil.size < MAX_LOCAL_BLOCKS) this.#blockedUntil.set(key, now + ms);
  }
}

/** The default guard against token forgery: past 20 invalid tokens a minute per client IP, 5 min of rationed signature checks. */
export function invalidTokenThrottle(
  backend: StoreBackend,
  overrides: Partial<ThrottleOptions> = {},
): FailureThrottle {
  return new FailureThrottle(backend, {
    name: 'auth-failures',
    failures: 20,
    windowSec: 60,
    blockSec: 300,
    ...overrides,
  });
}
