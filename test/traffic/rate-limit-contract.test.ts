/** One contract suite for every RateLimiter: the memory limiter and the Redis limiter on a real redis-server. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RateLimiter } from '../../src/traffic/rate-limit/limiter.js';
import type { BucketPolicy } from '../../src/traffic/rate-limit/token-bucket.js';
import { MemoryRateLimiter } from '../../src/traffic/rate-limit/memory-limiter.js';
import { RedisRateLimiter } from '../../src/traffic/rate-limit/redis-limiter.js';
import { FailoverRateLimiter } from '../../src/traffic/rate-limit/failover-limiter.js';
import { StoreHealth } from '../../src/traffic/rate-limit/store-health.js';

type Make = (policy: BucketPolicy) => RateLimiter;

let server: TestRedis;
let redis: Redis;
let run = 0;

before(async () => {
  server = await startRedis();
  redis = new Redis({
    port: server.port,
    host: '127.0.0.1',
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
  });
});

after(async () => {
  await redis.quit();
  await server.stop();
});

const implementations: Array<[string, Make]> = [
  ['MemoryRateLimiter', (policy) => new MemoryRateLimiter({ policy })],
  // A generous budget: the contract is about bucket semantics, not about a loaded CI machine's latency.
  ['RedisRateLimiter', (policy) => new RedisRateLimiter({ redis, policy, budgetMs: 2000 })],
  [
    'FailoverRateLimiter',
    (policy) =>
      new FailoverRateLimiter({
        store: new RedisRateLimiter({ redis, policy, budgetMs: 2000 }),
        policy,
        onStoreFailure: 'closed',
        health: new StoreHealth({
          redis,
          logger: { warn: () => undefined, info: () => undefined },
        }),
        liveGateways: () => 1,
      }),
  ],
];

for (const [name, make] of implementations) {
  describe(`${name} honours the RateLimiter contract`, () => {
    // A fresh key per test, so tests on the shared Redis never see each other's buckets.
    const key = (label: string): string => `contract:${name}:${label}:${(run += 1)}`;

    test('a burst of capacity passes, then it denies with the time to the next token', async () => {
      const limiter = make({ capacity: 5, refillPerSecond: 1 });
      const k = key('burst');
      const remaining: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const d = await limiter.consume(k);
        assert.equal(d.allowed, true);
        assert.equal(d.limit, 5);
        assert.equal(d.retryAfterMs, 0);
        remaining.push(d.remaining);
      }
      assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
      const denied = await limiter.consume(k);
      assert.equal(denied.allowed, false);
      assert.equal(denied.remaining, 0);
      assert.ok(
        denied.retryAfterMs > 500 && denied.retryAfterMs <= 1000,
        `retryAfterMs ${denied.retryAfterMs}`,
      );
      assert.ok(denied.resetMs > 4000 && denied.resetMs <= 5000, `resetMs ${denied.resetMs}`);
      assert.equal(denied.source, 'store');
    });

    test('tokens come back at the refill rate', async () => {
      const limiter = make({ capacity: 2, refillPerSecond: 20 });
      const k = key('refill');
      await limiter.consume(k);
      await limiter.consume(k);
      const started = Date.now();
      let admitted = 0;
      while (Date.now() - started < 1000) {
        if ((await limiter.consume(k)).allowed) admitted += 1;
        await sleep(5);
      }
      // 20 tokens per second for one second, within a generous tolerance for timer jitter.
      assert.ok(admitted >= 15 && admitted <= 24, `admitted ${admitted} in 1 s at 20/s`);
    });

    test('buckets of different keys are kept apart', async () => {
      const limiter = make({ capacity: 3, refillPerSecond: 0.1 });
      const a = key('a');
      const b = key('b');
      for (let i = 0; i < 3; i += 1) await limiter.consume(a);
      assert.equal((await limiter.consume(a)).allowed, false);
      const other = await limiter.consume(b);
      assert.deepEqual([other.allowed, other.remaining], [true, 2]);
    });

    test('a cost takes that many tokens and a cost above capacity never passes', async () => {
      const limiter = make({ capacity: 10, refillPerSecond: 0.1 });
      const k = key('cost');
      const d = await limiter.consume(k, 4);
      assert.deepEqual([d.allowed, d.remaining], [true, 6]);
      assert.equal((await limiter.consume(k, 7)).allowed, false);
      assert.equal((await limiter.consume(k, 6)).allowed, true);
      assert.equal((await limiter.consume(key('huge'), 11)).allowed, false);
    });

    test('concurrent decisions on one bucket never over-admit', async () => {
      const limiter = make({ capacity: 20, refillPerSecond: 0.1 });
      const k = key('concurrent');
      const decisions = await Promise.all(Array.from({ length: 60 }, () => limiter.consume(k)));
      assert.equal(decisions.filter((d) => d.allowed).length, 20);
    });
  });
}
