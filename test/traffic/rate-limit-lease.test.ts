/** Token leases against a real redis-server: two gateways on one key, commands per request, a gateway that dies, a restart. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { gatewayRedis } from './gateway-redis.js';
import { RedisRateLimiter, bucketRedisKey } from '../../src/traffic/rate-limit/redis-limiter.js';
import {
  createRateLimiterProvider,
  type RateLimiterProvider,
} from '../../src/traffic/rate-limit/provider.js';
import type { Decision, RateLimiter } from '../../src/traffic/rate-limit/limiter.js';
import type { BucketPolicy } from '../../src/traffic/rate-limit/token-bucket.js';
import type { RateLimitConfig } from '../../src/config/schema.js';
import type { RequestContext } from '../../src/request/context.js';
import { buildRateLimitStage } from '../../src/traffic/rate-limit/stage.js';
import { RateLimitCounters } from '../../src/traffic/rate-limit/counters.js';

const redisServer = gatewayRedis();
const { connect, probe: redisProbe } = redisServer;

/** Script calls the gateways sent (EVALSHA, and EVAL on a script-cache miss), from INFO commandstats. */
async function scriptCalls(): Promise<number> {
  const info = await redisProbe().info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm))
    calls += Number(match[2]);
  return calls;
}

/** Redis' clock in ms: the one the shared bucket refills by. */
async function redisNow(): Promise<number> {
  const [seconds, micros] = await redisProbe().time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

/** `workers` loops per limiter, each taking tokens until `stop()` says so; returns the decisions. */
async function hammer(
  limiters: RateLimiter[],
  key: string,
  workers: number,
  stop: () => boolean,
): Promise<Decision[][]> {
  const perLimiter: Decision[][] = limiters.map(() => []);
  const loop = async (i: number): Promise<void> => {
    const limiter = limiters[i] as RateLimiter;
    const out = perLimiter[i] as Decision[];
    while (!stop()) {
      out.push(await limiter.consume(key));
      // Let the other gateway's replies in, as two processes would interleave.
      if (out.length % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all(limiters.flatMap((_, i) => Array.from({ length: workers }, () => loop(i))));
  return perLimiter;
}

/** Tokens outstanding in the one lease held on a key (0 when none). */
async function leaseOf(key: string): Promise<number> {
  const lease = Object.entries(await redisProbe().hgetall(bucketRedisKey(key))).find(([field]) =>
    field.startsWith('l:'),
  );
  return lease === undefined ? 0 : Number(lease[1].split(':')[0]);
}

const admittedOf = (decisions: Decision[]): number => decisions.filter((d) => d.allowed).length;

/** Takes tokens one at a time until denied, so a lease still held when a run stopped is spent too. */
async function drain(limiter: RateLimiter, key: string): Promise<number> {
  let admitted = 0;
  while ((await limiter.consume(key)).allowed) admitted += 1;
  return admitted;
}

describe('token leases shared by two gateways', () => {
  test('a hot key under its limit costs at most 0.2 script calls per request', async () => {
    const policy: BucketPolicy = { capacity: 1_000_000, refillPerSecond: 1_000_000 };
    const limiters = [
      new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 }),
      new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 }),
    ];
    const callsBefore = await scriptCalls();
    let requests = 0;
    const decisions = await hammer(limiters, 'lease:hot', 16, () => (requests += 1) > 8000);
    const calls = (await scriptCalls()) - callsBefore;
    const total = decisions.flat().length;
    await Promise.all(limiters.map((limiter) => limiter.release()));
    assert.equal(admittedOf(decisions.flat()), total, 'the limit is never hit');
    assert.ok(
      calls / total <= 0.2,
      `${calls} script calls for ${total} requests (${(calls / total).toFixed(3)} per request)`,
    );
  });

  test('a token on hand is spent synchronously: a Decision, not a promise, and no store call', async () => {
    const policy: BucketPolicy = { capacity: 1000, refillPerSecond: 1000 };
    const limiter = new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 });
    // Eight at once make the key hot, so the next call leases ahead of its own request.
    await Promise.all(Array.from({ length: 8 }, () => limiter.consume('lease:sync')));
    const leasing = limiter.consume('lease:sync');
    assert.ok(leasing instanceof Promise, 'an empty lease waits for the store');
    await leasing;
    const callsBefore = await scriptCalls();
    const decision = limiter.consume('lease:sync');
    assert.ok(!(decision instanceof Promise), 'a leased token needs no promise');
    assert.equal(decision.allowed, true);
    assert.equal(decision.source, 'store');
    assert.equal((await scriptCalls()) - callsBefore, 0);
    await limiter.release();
  });

  test('hammering one key past its limit admits between 98% and 100% of capacity + refill x elapsed', async () => {
    // Capacity of two seconds' refill: a stalled event loop on a busy machine does not overflow the bucket.
    const policy: BucketPolicy = { capacity: 2000, refillPerSecond: 1000 };
    const limiters = [
      new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 }),
      new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 }),
    ];
    const key = 'lease:accuracy';
    const startedAt = await redisNow();
    const until = Date.now() + 2000;
    const decisions = await hammer(limiters, key, 8, () => Date.now() >= until);
    const held =
      (await drain(limiters[0] as RateLimiter, key)) +
      (await drain(limiters[1] as RateLimiter, key));
    const endedAt = await redisNow();
    const admitted = admittedOf(decisions.flat()) + held;
    const ideal = policy.capacity + (policy.refillPerSecond * (endedAt - startedAt)) / 1000;
    const denied = decisions.flat().length - admitted;
    assert.ok(denied > 0, 'the limit was reached');
    assert.ok(
      decisions.every((d) => admittedOf(d) > 0),
      'both gateways admitted',
    );
    assert.ok(admitted <= ideal, `admitted ${admitted} > ideal ${ideal.toFixed(1)}`);
    assert.ok(
      admitted >= 0.98 * ideal,
      `admitted ${admitted} < 98% of ideal ${ideal.toFixed(1)} (${((admitted / ideal) * 100).toFixed(2)}%)`,
    );
  });

  test('a quiet key takes one token per call, and its RateLimit-Remaining is exact across gateways', async () => {
    const policy: BucketPolicy = { capacity: 50, refillPerSecond: 0.001 };
    // A quarter second between requests on each gateway's clock: 4/s, below the leasing threshold.
    let now = 1_000_000;
    const clock = (): number => (now += 250);
    const limiters = [connect(), connect()].map(
      (redis) => new RedisRateLimiter({ redis, policy, budgetMs: 2000, clock }),
    );
    const callsBefore = await scriptCalls();
    const remaining: number[] = [];
    for (let i = 0; i < 20; i += 1)
      remaining.push((await (limiters[i % 2] as RateLimiter).consume('lease:quiet')).remaining);
    assert.equal((await scriptCalls()) - callsBefore, 20);
    assert.deepEqual(
      remaining,
      Array.from({ length: 20 }, (_, i) => policy.capacity - 1 - i),
    );
    const fields = await redisProbe().hkeys(bucketRedisKey('lease:quiet'));
    assert.deepEqual(fields.sort(), ['at', 'tokens'], 'no lease is held');
  });

  test('RateLimit-Remaining never overstates: the bucket as of the last lease, minus what this gateway spent', async () => {
    const policy: BucketPolicy = { capacity: 400, refillPerSecond: 0.001 };
    const limiters = [
      new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 }),
      new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000 }),
    ];
    let requests = 0;
    const decisions = await hammer(limiters, 'lease:remaining', 4, () => (requests += 1) > 600);
    const held =
      (await drain(limiters[0] as RateLimiter, 'lease:remaining')) +
      (await drain(limiters[1] as RateLimiter, 'lease:remaining'));
    assert.equal(
      admittedOf(decisions.flat()) + held,
      policy.capacity,
      'both gateways together admit exactly capacity',
    );
    for (const own of decisions) {
      // Each gateway's own admissions, in order: the k-th left at most capacity - k tokens anywhere.
      own
        .filter((d) => d.allowed)
        .forEach((d, k) =>
          assert.ok(
            d.remaining <= policy.capacity - 1 - k,
            `remaining ${d.remaining} after ${k + 1} admitted`,
          ),
        );
    }
  });
});

describe('the ceiling of a leased bucket', () => {
  test('while a lease is live, the shared bucket refills only to capacity minus the lease', async () => {
    // Refill is near-instant, so without the ceiling the bucket would be full again beside A's lease.
    const policy: BucketPolicy = { capacity: 100, refillPerSecond: 100_000 };
    const a = new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000, leaseMs: 10_000 });
    const b = new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000, leaseMs: 10_000 });
    const key = 'lease:ceiling';
    for (let round = 0; round < 8; round += 1)
      await Promise.all(Array.from({ length: 8 }, () => a.consume(key)));
    const outstanding = await leaseOf(key);
    assert.ok(outstanding > 0, 'gateway A holds a lease');
    await sleep(10);
    const decision = await b.consume(key);
    assert.deepEqual(
      [decision.allowed, decision.remaining],
      [true, policy.capacity - outstanding - 1],
    );
  });
});

describe('a gateway that dies holding a lease', () => {
  test('its unspent tokens are never spent twice, and the bucket is whole again once the lease expired and refilled', async () => {
    // Refill from empty takes 2 s, so the key outlives the lease and it is the lease that Redis ends.
    const policy: BucketPolicy = { capacity: 100, refillPerSecond: 50 };
    const leaseMs = 300;
    const dying = connect();
    const a = new RedisRateLimiter({ redis: dying, policy, budgetMs: 2000, leaseMs });
    const b = new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000, leaseMs });
    const key = 'lease:dies';
    // Gateway A spends hot enough to hold a lease larger than its last request.
    let admittedA = 0;
    for (let round = 0; round < 8; round += 1)
      admittedA += admittedOf(await Promise.all(Array.from({ length: 8 }, () => a.consume(key))));
    const unspent = await leaseOf(key);
    assert.ok(unspent > 0, 'gateway A holds a lease');
    const startedAt = await redisNow();
    dying.disconnect(); // A is gone: it never spends nor hands back its lease

    // B drains the bucket at once: it gets neither A's spent tokens nor A's lease.
    const admittedB = await drain(b, key);
    const refill = ((await redisNow()) - startedAt) * (policy.refillPerSecond / 1000);
    assert.ok(
      admittedA + admittedB <= policy.capacity + refill,
      `A ${admittedA} + B ${admittedB} > capacity + refill ${refill.toFixed(1)}`,
    );
    assert.ok(
      admittedB >= policy.capacity - admittedA - unspent,
      `B admitted ${admittedB}: lost more than A's lease of ${unspent}`,
    );

    // The bound: the lease's tokens are out of the bucket for the lease's lifetime, then only refill time.
    await sleep(leaseMs + 100);
    await b.consume(key);
    const fields = await redisProbe().hkeys(bucketRedisKey(key));
    assert.ok(
      fields.includes('tokens') && !fields.some((field) => field.startsWith('l:')),
      `expired lease dropped: ${fields.join(',')}`,
    );
    await sleep(Math.ceil((policy.capacity / policy.refillPerSecond) * 1000) + 100);
    const whole = await b.consume(key);
    assert.deepEqual([whole.allowed, whole.remaining], [true, policy.capacity - 1]);
  });
});

describe('a gateway that stops', () => {
  test('hands its unspent lease back, so nothing is lost', async () => {
    const policy: BucketPolicy = { capacity: 200, refillPerSecond: 0.001 };
    const a = new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000, leaseMs: 10_000 });
    const b = new RedisRateLimiter({ redis: connect(), policy, budgetMs: 2000, leaseMs: 10_000 });
    const key = 'lease:stops';
    let admittedA = 0;
    for (let round = 0; round < 8; round += 1)
      admittedA += admittedOf(await Promise.all(Array.from({ length: 8 }, () => a.consume(key))));
    assert.ok((await leaseOf(key)) > 0, 'gateway A holds a lease');
    await a.release();
    assert.equal(await leaseOf(key), 0);
    const next = await b.consume(key);
    assert.deepEqual([next.allowed, next.remaining], [true, policy.capacity - admittedA - 1]);
  });
});

describe('Redis restart while gateways hold leases', () => {
  const base: RateLimitConfig = {
    capacity: 1000,
    refillPerSecond: 1000,
    key: 'ip',
    onStoreFailure: 'closed',
    mode: 'enforce',
  };
  const logger = { warn: () => undefined, info: () => undefined };
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

  test('shadow mode on a leased hot key never denies nor adds headers, and counts what it would have limited', async () => {
    const counters = new RateLimitCounters();
    const shadow: RateLimitConfig = {
      ...base,
      capacity: 100,
      refillPerSecond: 0.001,
      mode: 'shadow',
    };
    const stages = gateways.map((gateway) =>
      buildRateLimitStage({ name: 'shadowed', rateLimit: shadow }, { limiters: gateway, counters }),
    );
    const headers: Array<[string, string]> = [];
    // The stage reads only the client address, principal and request headers.
    const ctx = {
      clientIp: '10.9.0.7',
      principal: undefined,
      req: { headers: {} },
      responseHeaders: headers,
    } as unknown as RequestContext;
    await Promise.all(Array.from({ length: 300 }, (_, i) => stages[i % 2]?.(ctx)));
    assert.deepEqual(headers, []);
    assert.equal(counters.get('shadowed', 'allowed'), shadow.capacity);
    assert.equal(counters.get('shadowed', 'shadow_limited'), 200);
  });

  test('decisions follow onStoreFailure during the outage and come back to the shared bucket, never throwing', async () => {
    const closed = (gateways[0] as RateLimiterProvider).limiterFor('restart', base);
    const local = (gateways[1] as RateLimiterProvider).limiterFor('restart', {
      ...base,
      onStoreFailure: 'local',
    });
    let warm = 0;
    await hammer([closed, local], 'restart:hot', 4, () => (warm += 1) > 400);
    await redisServer.server().stop();
    // Held leases may still be spent (their tokens left Redis first); then the outage policy decides.
    const during = await Promise.all(
      [closed, local].map(async (limiter) => {
        const out: Decision[] = [];
        for (let i = 0; i < 2000 && (out.at(-1)?.source ?? 'store') === 'store'; i += 1)
          out.push(await limiter.consume('restart:hot'));
        for (let i = 0; i < 20; i += 1) out.push(await limiter.consume('restart:hot'));
        return out;
      }),
    );
    const [closedTail, localTail] = during.map((out) => out.slice(-20));
    assert.ok(
      closedTail?.every((d) => d.source === 'closed' && !d.allowed),
      'closed denies during the outage',
    );
    assert.ok(
      localTail?.every((d) => d.source === 'local'),
      'local decides with local buckets during the outage',
    );

    await redisServer.server().restart();
    const deadline = Date.now() + 15_000;
    while (gateways.some((g) => g.health?.degraded) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(
      gateways.map((g) => g.health?.degraded),
      [false, false],
    );
    // One shared bucket again on a fresh key: both gateways together admit its capacity and no more.
    const fresh = { ...base, capacity: 100, refillPerSecond: 0.001 };
    const limiters = [
      (gateways[0] as RateLimiterProvider).limiterFor('fresh', fresh),
      (gateways[1] as RateLimiterProvider).limiterFor('fresh', fresh),
    ];
    let count = 0;
    const restored = await hammer(limiters, 'restart:fresh', 4, () => (count += 1) > 300);
    const held =
      (await drain(limiters[0] as RateLimiter, 'restart:fresh')) +
      (await drain(limiters[1] as RateLimiter, 'restart:fresh'));
    assert.ok(restored.flat().every((d) => d.source === 'store'));
    assert.equal(admittedOf(restored.flat()) + held, fresh.capacity);
  });
});
