/** The gradient concurrency limiter driven by an injected clock and synthetic latencies. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adaptiveConcurrencySchema } from '../../src/config/adaptive-concurrency-schema.js';
import {
  AdaptiveConcurrencyLimiter,
  concurrencyShedError,
  type ConcurrencyPermit,
} from '../../src/traffic/adaptive-concurrency.js';

const config = adaptiveConcurrencySchema.parse({
  initialLimit: 20,
  maxLimit: 200,
  minRttSamples: 10,
  minRttInterval: '10s',
  sampleInterval: '100ms',
});

function harness() {
  let now = 0;
  const limiter = new AdaptiveConcurrencyLimiter(config, { clock: () => now, random: () => 0.5 });

  /** Offers `offered` concurrent requests, releases the admitted ones with `latencyMs`, then advances one interval. */
  const interval = (offered: number, latencyMs: number): number => {
    const permits: ConcurrencyPermit[] = [];
    for (let i = 0; i < offered; i += 1) {
      const permit = limiter.tryAcquire();
      if (permit !== undefined) permits.push(permit);
    }
    for (const permit of permits) permit.release(latencyMs);
    now += config.sampleInterval;
    return permits.length;
  };

  /** Completes the min-RTT measurement with sequential requests of `latencyMs`. */
  const measure = (latencyMs: number): void => {
    for (let i = 0; i < config.minRttSamples; i += 1) limiter.tryAcquire()?.release(latencyMs);
  };

  return { limiter, interval, measure, advance: (ms: number) => (now += ms) };
}

describe('AdaptiveConcurrencyLimiter', () => {
  test('the config fragment fills defaults and parses durations', () => {
    const parsed = adaptiveConcurrencySchema.parse({});
    assert.deepEqual(
      [parsed.initialLimit, parsed.sampleInterval, parsed.minRttInterval, parsed.minConcurrency],
      [20, 100, 60_000, 3],
    );
    assert.equal(
      adaptiveConcurrencySchema.safeParse({ limit: 5 }).success,
      false,
      'unknown keys are errors',
    );
  });

  test('min RTT is measured first with concurrency pinned to minConcurrency', () => {
    const { limiter, measure } = harness();
    assert.equal(limiter.limit, 3);
    const held = [limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()];
    assert.equal(limiter.tryAcquire(), undefined, 'a fourth request is shed while measuring');
    for (const permit of held) permit?.release(10);
    measure(10);
    assert.equal(limiter.minRtt, 10);
    assert.equal(limiter.limit, 20);
  });

  test('a permit released without a latency frees its slot but is no min-RTT sample', () => {
    const { limiter, measure } = harness();
    for (let i = 0; i < config.minRttSamples * 2; i += 1) limiter.tryAcquire()?.release(undefined);
    assert.equal(
      limiter.minRtt,
      undefined,
      'requests that never reached the upstream measure nothing',
    );
    assert.equal(limiter.limit, 3, 'and every slot came back');
    measure(10);
    assert.equal(limiter.minRtt, 10);
  });

  test('sheds when latency jumps and recovers when it falls back', () => {
    const { limiter, interval, measure } = harness();
    measure(10);
    for (let i = 0; i < 10; i += 1) interval(300, 10);
    const healthy = limiter.limit;
    assert.ok(healthy > 100, `the limit grows while latency stays near min RTT (${healthy})`);

    for (let i = 0; i < 8; i += 1) interval(300, 100);
    const congested = limiter.limit;
    assert.ok(congested < 20, `the limit collapses when latency is 10x min RTT (${congested})`);
    const admitted = interval(300, 100);
    assert.ok(
      admitted <= congested && admitted < 300,
      `excess requests are shed (${admitted} of 300 admitted)`,
    );

    for (let i = 0; i < 15; i += 1) interval(300, 10);
    assert.ok(limiter.limit > 100, `the limit recovers once latency falls (${limiter.limit})`);
  });

  test('latency within the buffer keeps the limit growing; an idle interval leaves it alone', () => {
    const { limiter, interval, measure, advance } = harness();
    measure(10);
    interval(20, 12);
    const after = limiter.limit;
    assert.ok(after > 20, `12 ms is inside the 25% buffer over 10 ms (${after})`);
    advance(1000);
    assert.equal(limiter.limit, after);
  });

  test('min RTT is re-measured periodically, so a new baseline is learned', () => {
    const { limiter, interval, measure, advance } = harness();
    measure(10);
    interval(20, 10);
    advance(config.minRttInterval * 1.2);
    assert.equal(limiter.limit, config.minConcurrency, 're-measuring pins concurrency again');
    measure(40);
    assert.equal(limiter.minRtt, 40);
    for (let i = 0; i < 5; i += 1) interval(300, 40);
    assert.ok(limiter.limit > 20, `40 ms is the new normal, not congestion (${limiter.limit})`);
  });

  test('a permit released twice frees one slot, and the shed error is a 503 with Retry-After', () => {
    const { limiter, measure } = harness();
    measure(10);
    const permit = limiter.tryAcquire();
    const other = limiter.tryAcquire();
    permit?.release(10);
    permit?.release(10);
    assert.equal(limiter.inflight, 1);
    other?.release(10);
    const err = concurrencyShedError('orders');
    assert.deepEqual(
      [err.status, err.code, err.headers],
      [503, 'unavailable', [['Retry-After', '1']]],
    );
  });
});
