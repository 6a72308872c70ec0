/** Builds and keeps the limiters routes use, from the gateway's store backend, across config reloads. */
import type { StoreBackend } from '../../store/backend.js';
import type { RateLimitConfig } from '../../config/schema.js';
import type { Clock, RateLimiter, TrafficLogger } from './limiter.js';
import { MemoryRateLimiter } from './memory-limiter.js';
import { RedisRateLimiter } from './redis-limiter.js';
import { FailoverRateLimiter } from './failover-limiter.js';
import { StoreHealth } from './store-health.js';
import { GatewayPresence } from '../gateway-presence.js';

/** Options of the limiter provider. */
export interface RateLimiterProviderOptions {
  readonly backend: StoreBackend;
  readonly logger: TrafficLogger;
  /** Ms a Redis decision may take before the route's onStoreFailure applies (default 50). */
  readonly budgetMs?: number;
  /** This gateway's presence id (default: hostname, pid and a random suffix). */
  readonly gatewayId?: string;
  readonly clock?: Clock;
}

/** Hands a limiter to each route; the same route and policy get the same limiter after a reload. */
export interface RateLimiterProvider {
  limiterFor(route: string, config: RateLimitConfig): RateLimiter;
  /** Outage state and counters (undefined on the memory backend). */
  readonly health: StoreHealth | undefined;
  /** Live gateway heartbeats (undefined on the memory backend). */
  readonly presence: GatewayPresence | undefined;
  /** Starts presence heartbeats (Redis backend); call once at start-up. */
  start(): Promise<void>;
  /** Hands back unspent token leases, stops heartbeats and probes and leaves the presence set. */
  close(): Promise<void>;
}

/**
 * Memory backend: in-process buckets (one gateway). Redis backend: buckets in Redis behind a
 * FailoverRateLimiter, sharing one StoreHealth and one GatewayPresence for the connection.
 */
export function createRateLimiterProvider(
  options: RateLimiterProviderOptions,
): RateLimiterProvider {
  const { backend, logger, clock } = options;
  const budgetMs = options.budgetMs ?? 50;
  const redis = backend.kind === 'redis' ? backend.redis : undefined;
  const health = redis === undefined ? undefined : new StoreHealth({ redis, logger, budgetMs });
  const presence =
    redis === undefined
      ? undefined
      : new GatewayPresence({
          redis,
          ...(options.gatewayId === undefined ? {} : { id: options.gatewayId }),
        });
  const limiters = new Map<string, RateLimiter>();
  const stores: RedisRateLimiter[] = [];

  const build = (config: RateLimitConfig): RateLimiter => {
    const policy = { capacity: config.capacity, refillPerSecond: config.refillPerSecond };
    if (redis === undefined || health === undefined || presence === undefined) {
      return new MemoryRateLimiter({ policy, ...(clock === undefined ? {} : { clock }) });
    }
    const store = new RedisRateLimiter({
      redis,
      policy,
      budgetMs,
      onHandBackFailure: (err) => health.reportFailure(err),
    });
    stores.push(store);
    return new FailoverRateLimiter({
      store,
      policy,
      onStoreFailure: config.onStoreFailure,
      health,
      liveGateways: () => presence.liveCount,
      ...(clock === undefined ? {} : { clock }),
    });
  };

  return {
    health,
    presence,
    limiterFor(route, config) {
      const key = `${route}|${config.capacity}|${config.refillPerSecond}|${config.onStoreFailure}`;
      let limiter = limiters.get(key);
      if (limiter === undefined) {
        limiter = build(config);
        limiters.set(key, limiter);
      }
      return limiter;
    },
    async start() {
      await presence?.start();
    },
    async close() {
      await Promise.all(stores.map((store) => store.release()));
      health?.close();
      await presence?.stop();
    },
  };
}
