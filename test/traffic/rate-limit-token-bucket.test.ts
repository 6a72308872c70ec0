/** The token-bucket arithmetic and the memory limiter on an injected clock. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { takeTokens, type BucketState } from '../../src/traffic/rate-limit/token-bucket.js';
import { MemoryRateLimiter } from '../../src/traffic/rate-limit/memory-limiter.js';

const policy = { capacity: 10, refillPerSecond: 2 };

describe('takeTokens', () => {
  const cases: Array<{
    name: string;
    state: BucketState | undefined;
    now: number;
    cost: number;
    allowed: boolean;
    remaining: number;
    retryAfterMs: number;
    resetMs: number;
  }> = [
    {
      name: 'a new bucket starts full',
      state: undefined,
      now: 0,
      cost: 1,
      allowed: true,
      remaining: 9,
      retryAfterMs: 0,
      resetMs: 500,
    },
    {
      name: 'an empty bucket denies and says when the next token comes',
      state: { tokens: 0, atMs: 0 },
      now: 0,
      cost: 1,
      allowed: false,
      remaining: 0,
      retryAfterMs: 500,
      resetMs: 5000,
    },
    {
      name: 'refill is continuous: 250 ms adds half a token',
      state: { tokens: 0.5, atMs: 0 },
      now: 250,
      cost: 1,
      allowed: true,
      remaining: 0,
      retryAfterMs: 500,
      resetMs: 5000,
    },
    {
      name: 'refill stops at capacity',
      state: { tokens: 0, atMs: 0 },
      now: 60_000,
      cost: 1,
      allowed: true,
      remaining: 9,
      retryAfterMs: 0,
      resetMs: 500,
    },
    {
      name: 'a clock going backwards refills nothing',
      state: { tokens: 1, atMs: 1000 },
      now: 0,
      cost: 2,
      allowed: false,
      remaining: 1,
      retryAfterMs: 500,
      resetMs: 4500,
    },
    {
      name: 'a cost takes that many tokens',
      state: undefined,
      now: 0,
      cost: 4,
      allowed: true,
      remaining: 6,
      retryAfterMs: 0,
      resetMs: 2000,
    },
    {
      name: 'a cost above capacity is always denied',
      state: undefined,
      now: 0,
      cost: 11,
      allowed: false,
      remaining: 10,
      retryAfterMs: 0,
      resetMs: 0,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const out = takeTokens(c.state, policy, c.now, c.cost);
      assert.deepEqual(
        {
          allowed: out.allowed,
          remaining: out.remaining,
          retryAfterMs: out.retryAfterMs,
          resetMs: out.resetMs,
        },
        {
          allowed: c.allowed,
          remaining: c.remaining,
          retryAfterMs: c.retryAfterMs,
          resetMs: c.resetMs,
        },
      );
    });
  }
});

describe('MemoryRateLimiter on an injected clock', () => {
  test('admits exactly capacity plus rate times elapsed time', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ policy, clock: () => now });
    let admitted = 0;
    for (now = 0; now <= 10_000; now += 10) {
      for (let i = 0; i < 5; i += 1) if ((await limiter.consume('k')).allowed) admitted += 1;
    }
    assert.equal(admitted, 10 + 2 * 10);
  });

  test('forgets buckets once they are full again, so memory stays bounded', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ policy, clock: () => now });
    for (let i = 0; i < 100; i += 1) await limiter.consume(`client-${i}`);
    assert.equal(limiter.size, 100);
    now = 499;
    assert.equal(limiter.size, 100);
    now = 1500;
    assert.equal(limiter.size, 0);
  });

  test('a forgotten bucket comes back full', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ policy, clock: () => now });
    for (let i = 0; i < 10; i += 1) await limiter.consume('k');
    assert.equal((await limiter.consume('k')).allowed, false);
    now = 5000;
    const decision = await limiter.consume('k');
    assert.deepEqual([decision.allowed, decision.remaining, decision.source], [true, 9, 'store']);
  });
});
