/** Tracks whether the shared rate-limit store answers: one log line per outage, a probe to come back. */
import type { RedisClient } from '../../store/backend.js';
import type { TrafficLogger } from './limiter.js';
import { withDeadline } from '../../store/deadline.js';

/** Options of the store health tracker. */
export interface StoreHealthOptions {
  readonly redis: RedisClient;
  readonly logger: TrafficLogger;
  /** Ms a probe PING may take (default 50, the decision budget). */
  readonly budgetMs?: number;
  /** Ms between probes during an outage (default 250). */
  readonly probeIntervalMs?: number;
}

/** Counters the metrics module reads (plain numbers, monotonic). */
export interface StoreHealthCounters {
  /** Outages begun (the store stopped answering after having answered). */
  outages: number;
  /** Store calls that failed or timed out. */
  failures: number;
  /** Decisions made without the store (local, open or closed). */
  fallbackDecisions: number;
}

/**
 * Shared by every limiter on one connection. The first failure starts an outage: it is logged once,
 * decisions stop going to Redis (so nothing piles up in ioredis' queue) and a PING probe runs every
 * probeIntervalMs; the first probe answered in time ends the outage (logged once), without waiting
 * for a request to test the store.
 */
export class StoreHealth {
  readonly counters: StoreHealthCounters = { outages: 0, failures: 0, fallbackDecisions: 0 };
  readonly #redis: RedisClient;
  readonly #logger: TrafficLogger;
  readonly #budgetMs: number;
  readonly #probeIntervalMs: number;
  #probe: NodeJS.Timeout | undefined;
  #since = 0;

  constructor(options: StoreHealthOptions) {
    this.#redis = options.redis;
    this.#logger = options.logger;
    this.#budgetMs = options.budgetMs ?? 50;
    this.#probeIntervalMs = options.probeIntervalMs ?? 250;
  }

  /** True during an outage: limiters decide locally instead of asking the store. */
  get degraded(): boolean {
    return this.#probe !== undefined;
  }

  /** Records a failed store call; the first one of an outage logs and starts probing. */
  reportFailure(err: unknown): void {
    this.counters.failures += 1;
    if (this.#probe !== undefined) return;
    this.counters.outages += 1;
    this.#since = Date.now();
    this.#logger.warn(
      { err: String(err) },
      'rate-limit store unavailable; deciding with local buckets until it answers',
    );
    this.#probe = setInterval(() => void this.#check(), this.#probeIntervalMs);
    this.#probe.unref();
  }

  /** Stops probing (shutdown). */
  close(): void {
    clearInterval(this.#probe);
    this.#probe = undefined;
  }

  async #check(): Promise<void> {
    try {
      await withDeadline(this.#redis.ping(), this.#budgetMs);
    } catch {
      this.counters.failures += 1;
      return;
    }
    if (this.#probe === undefined) return;
    this.close();
    this.#logger.info(
      { outageMs: Date.now() - this.#since },
      'rate-limit store answers again; back to shared buckets',
    );
  }
}
