/** Redis-backed limiting across gateways: one combined bucket, key expiry, and a Redis outage and return. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { gatewayRedis } from './gateway-redis.js';
import { RedisRateLimiter } from '../../src/traffic/rate-limit/redis-limiter.js';
import {
  createRateLimiterProvider,
  type RateLimiterProvider,
} from '../../src/traffic/rate-limit/provider.js';
import type { RateLimiter } from '../../src/traffic/rate-limit/limiter.js';
import type { RateLimitConfig } from '../../src/config/schema.js';
import type { RequestContext } from '../../src/request/context.js';
import { GatewayError } from '../../src/errors.js';
import { buildRateLimitStage } from '../../src/traffic/rate-limit/stage.js';
import { RateLimitCounters } from '../../src/traffic/rate-limit/counters.js';

const redisServer = gatewayRedis();
const { connect } = redisServer;

async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

describe('RedisRateLimiter shared by two gateways', () => {
  test('two limiter instances on one Redis enforce one combined bucket', async () => {
    const policy = { capacity: 20, refillPerSecond: 20 };
    const limiters = [
      new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 }),
      new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 }),
    ];
    let admitted = 0;
    const started = Date.now();
    const worker = async (limiter: RedisRateLimiter): Promise<void> => {
      while (Date.now() - started < 1500) {
        if ((await limiter.consume('combined:k')).allowed) admitted += 1;
        await sleep(2);
      }
    };
    await Promise.all([0, 1, 2, 3].map((i) => worker(limiters[i % 2] as RedisRateLimiter)));
    const seconds = (Date.now() - started) / 1000;
    const ideal = policy.capacity + policy.refillPerSecond * seconds;
    const error = Math.abs(admitted - ideal) / ideal;
    assert.ok(
      error <= 0.1,
      `admitted ${admitted}, ideal ${ideal.toFixed(1)} (${(error * 100).toFixed(1)}% off)`,
    );
  });

  test('a bucket key disappears once the bucket would be full again', async () => {
    const limiter = new RedisRateLimiter({
      redis: connect(),
      policy: { capacity: 5, refillPerSecond: 50 },
      budgetMs: 2000,
    });
    for (let i = 0; i < 5; i += 1) await limiter.consume('expiry:k');
    const probe = redisServer.server().client();
    try {
      assert.deepEqual(await scanKeys(probe, 'edgeway:{rl:expiry:*'), ['edgeway:{rl:expiry:k}']);
      const ttl = await probe.pttl('edgeway:{rl:expiry:k}');
      assert.ok(ttl > 0 && ttl <= 100, `pttl ${ttl}`);
      await sleep(250);
      assert.deepEqual(await scanKeys(probe, 'edgeway:{rl:expiry:*'), []);
    } finally {
      probe.disconnect();
    }
  });
});

describe('Redis outage and return', () => {
  const config: RateLimitConfig = {
    capacity: 10,
    refillPerSecond: 1,
    key: 'ip',
    onStoreFailure: 'local',
    mode: 'enforce',
  };
  const logs: Array<{ level: string; message: string }> = [];
  const logger = {
    warn: (_: object, message: string) => logs.push({ level: 'warn', message }),
    info: (_: object, message: string) => logs.push({ level: 'info', message }),
  };
  let gateways: RateLimiterProvider[] = [];

  before(async () => {
    gateways = ['gw-a', 'gw-b'].map((gatewayId) => {
      const redis = connect();
      return createRateLimiterProvider({
        backend: { kind: 'redis', redis, subscriber: redis, dataDir: '' },
        logger,
        gatewayId,
        budgetMs: 200,
      });
    });
    for (const gateway of gateways) await gateway.start();
    for (const gateway of gateways) await gateway.presence?.beat();
  });

  after(async () => {
    for (const gateway of gateways) await gateway.close();
  });

  const limiterOf = (i: number, cfg: RateLimitConfig = config): RateLimiter =>
    (gateways[i] as RateLimiterProvider).limiterFor('orders', cfg);

  test('each gateway learns the live gateway count from heartbeats', () => {
    assert.deepEqual(
      gateways.map((g) => g.presence?.liveCount),
      [2, 2],
    );
  });

  test('with Redis killed, decisions come from local buckets sized to this gateway share', async () => {
    await limiterOf(0).consume('outage:warm');
    // A bucket drained through the shared store stays drained in the local fallback.
    for (let i = 0; i < config.capacity; i++) await limiterOf(0).consume('outage:drained');
    await redisServer.server().stop();
    const drained = await Promise.all(
      Array.from({ length: config.capacity }, () => limiterOf(0).consume('outage:drained')),
    );
    assert.ok(
      drained.filter((d) => d.allowed).length <= 1,
      'at most a refilled token passes a bucket the shared store had emptied',
    );
    const burst = await Promise.all(
      Array.from({ length: 10 * config.capacity }, () => limiterOf(0).consume('outage:k')),
    );
    const admitted = burst.filter((d) => d.allowed).length;
    // The first decision may still wait out its budget; every one of them is answered, none throws.
    assert.ok(
      burst.every((d) => d.source === 'local'),
      `sources ${[...new Set(burst.map((d) => d.source))].join(',')}`,
    );
    // Half of capacity 10 (two live gateways), plus at most a token of refill during the test.
    assert.ok(admitted >= 5 && admitted <= 6, `admitted ${admitted} of ${burst.length}`);
    assert.equal(gateways[0]?.health?.degraded, true);
    assert.equal(gateways[0]?.health?.counters.outages, 1);
    assert.ok((gateways[0]?.health?.counters.fallbackDecisions ?? 0) >= 100);
    assert.equal(gateways[0]?.presence?.liveCount, 2, 'the last known count is kept');
  });

  test('open admits and closed denies while the store is away, never throwing', async () => {
    const open = await limiterOf(1, { ...config, onStoreFailure: 'open' }).consume('outage:open');
    const closed = await limiterOf(1, { ...config, onStoreFailure: 'closed' }).consume(
      'outage:closed',
    );
    assert.deepEqual([open.allowed, open.source], [true, 'open']);
    assert.deepEqual([closed.allowed, closed.source], [false, 'closed']);
    assert.ok(closed.retryAfterMs > 0);
  });

  test('a closed route answers 429, never 5xx, and the stage counts the fallback', async () => {
    const counters = new RateLimitCounters();
    const stage = buildRateLimitStage(
      { name: 'closed-route', rateLimit: { ...config, onStoreFailure: 'closed' } },
      { limiters: gateways[0] as RateLimiterProvider, counters },
    );
    // The stage reads only the client address, principal and request headers.
    const ctx = {
      clientIp: '10.9.0.1',
      principal: undefined,
      req: { headers: {} },
      responseHeaders: [],
    } as unknown as RequestContext;
    await assert.rejects(
      async () => stage?.(ctx),
      (err: unknown) =>
        err instanceof GatewayError &&
        err.status === 429 &&
        err.headers.some(([h]) => h === 'Retry-After'),
    );
    assert.equal(counters.get('closed-route', 'fallback'), 1);
    assert.equal(counters.get('closed-route', 'limited'), 1);
  });

  test('the outage is logged once per gateway, not once per request', () => {
    assert.equal(logs.filter((l) => l.level === 'warn').length, 2);
  });

  test('with Redis back, the probe restores shared limiting without a failed request', async () => {
    await redisServer.server().restart();
    const deadline = Date.now() + 15_000;
    while (gateways.some((g) => g.health?.degraded) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(
      gateways.map((g) => g.health?.degraded),
      [false, false],
    );
    assert.equal(logs.filter((l) => l.level === 'info').length, 2);
    // One shared bucket again: both gateways together admit capacity (plus a token of refill at most).
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) => limiterOf(i % 2).consume('restored:k')),
    );
    const admitted = burst.filter((d) => d.allowed).length;
    assert.ok(burst.every((d) => d.source === 'store'));
    assert.ok(admitted >= 10 && admitted <= 11, `admitted ${admitted}`);
  });
});
