/** Rolling stats: percentiles within the sketch's error, minute and second windows, recent ring, Redis history. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StatsCollector, MINUTES } from '../../src/telemetry/history/stats.js';
import { REASONS } from '../../src/telemetry/history/reasons.js';
import { OUTCOME_INDEX } from '../../src/telemetry/history/instance-stats.js';
import { bucketIndex, newSketch, quantileMs } from '../../src/telemetry/history/latency-sketch.js';
import { RedisHistory, historyKey } from '../../src/telemetry/history/history.js';
import { parseAggregate } from '../../src/telemetry/history/history-fields.js';

/** The merged aggregate of a route's minute in Redis. */
async function minuteIn(history: RedisHistory, route: string, at: number) {
  const [fields] = await history.minuteFields(route, [Math.floor(at / 60_000) * 60_000]);
  return parseAggregate(fields ?? new Map());
}
import { Redis } from 'ioredis';
import pino from 'pino';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

describe('latency sketch', () => {
  const cases: Array<[string, number[], number, number]> = [
    ['uniform 1..1000 ms, p50', Array.from({ length: 1000 }, (_, i) => i + 1), 0.5, 500],
    ['uniform 1..1000 ms, p99', Array.from({ length: 1000 }, (_, i) => i + 1), 0.99, 990],
    ['99 fast and 1 slow, p99 is fast', [...Array(99).fill(5), 2000], 0.99, 5],
    ['98 fast and 2 slow, p99 is slow', [...Array(98).fill(5), 2000, 2000], 0.99, 2000],
    ['sub-millisecond', Array(10).fill(0.1), 0.5, 0.25],
  ];
  for (const [name, values, q, expected] of cases) {
    test(`${name} is within 13 %`, () => {
      const sketch = newSketch();
      for (const v of values) sketch[bucketIndex(v)] = (sketch[bucketIndex(v)] as number) + 1;
      const got = quantileMs(sketch, q) as number;
      assert.ok(Math.abs(got - expected) / expected <= 0.13, `${got} vs ${expected}`);
    });
  }
  test('an empty sketch has no quantile', () => {
    assert.equal(quantileMs(newSketch(), 0.5), undefined);
  });
});

describe('stats collector', () => {
  test('per-minute aggregates count requests, 3xx, 4xx, 5xx, 429 and reasons and roll over after 15 minutes', () => {
    const c = clock();
    const stats = new StatsCollector({ now: c.now });
    const route = stats.route('orders-read');
    route.record(200, 10, 'r1', 't1');
    route.record(503, 20, 'r2', 't2');
    route.record(429, 1, 'r3', 't3', REASONS.indexOf('rate_limited'), {
      sub: 'alice',
      method: 'GET',
      path: '/',
      instance: undefined,
      attempts: 0,
    });
    route.record(304, 1, 'r3', 't3');
    c.advance(60_000);
    route.record(200, 30, 'r4', 't4');
    const minute0 = T0 / 60_000;
    let minutes = stats.minuteAggregates('orders-read', minute0 - MINUTES, minute0 + 1);
    assert.deepEqual(
      minutes.map(({ minute, aggregate: a }) => [
        minute - T0,
        a.requests,
        a.status3xx,
        a.errors5xx,
        a.errors4xx,
        a.rateLimited,
        a.reasons[REASONS.indexOf('rate_limited')],
      ]),
      [
        [0, 4, 1, 1, 1, 1, 1],
        [60_000, 1, 0, 0, 0, 0, 0],
      ],
    );
    assert.deepEqual(
      stats.consumers.minute(minute0),
      new Map([['alice', { requests: 1, rateLimited: 1 }]]),
    );
    c.advance(MINUTES * 60_000);
    route.record(200, 30, 'r5', 't5');
    const current = Math.floor(c.now() / 60_000);
    minutes = stats.minuteAggregates('orders-read', current - MINUTES + 1, current);
    assert.equal(
      minutes.reduce((sum, m) => sum + m.aggregate.requests, 0),
      1,
      'old minutes are gone, not aliased',
    );
  });

  test('the trailing window and live rate only see recent seconds', () => {
    const c = clock();
    const stats = new StatsCollector({ now: c.now });
    const route = stats.route('r');
    for (let i = 0; i < 10; i++) route.record(i < 3 ? 500 : 200, 100, `r${i}`, '');
    c.advance(1000);
    assert.equal(stats.rate('r', 5), 2);
    const w = stats.window('r', 60);
    assert.equal(w.requests, 10);
    assert.equal(w.errorRatio, 0.3);
    assert.ok(Math.abs((w.p99Ms as number) - 100) <= 13);
    c.advance(61_000);
    assert.equal(stats.window('r', 60).requests, 0);
    assert.equal(stats.rate('r', 5), 0);
  });

  test('recent keeps slow, 5xx and 4xx requests newest first, each kind in its own bounded ring', () => {
    const c = clock();
    const stats = new StatsCollector({ now: c.now, slowMs: 500, recentSize: 3 });
    const route = stats.route('r');
    const at = (id: string, status: number, ms = 5): void => {
      c.advance(1);
      route.record(status, ms, id, '');
    };
    at('fast', 200);
    at('slow', 200, 800);
    at('failed-1', 502);
    at('not-found', 404);
    at('failed-2', 500);
    at('failed-3', 500);
    for (let i = 0; i < 5; i++) at(`unauthorized-${i}`, 401);
    assert.deepEqual(
      stats.recent().map((r) => r.requestId),
      ['unauthorized-4', 'unauthorized-3', 'unauthorized-2', 'failed-3', 'failed-2', 'failed-1'],
      'a burst of 401s does not push the 5xx rows out',
    );
  });

  test('instance recorders idle for the kept minutes are forgotten when a new instance appears', () => {
    const c = clock();
    const stats = new StatsCollector({ now: c.now });
    stats.instance('orders', 'old-pod').record(OUTCOME_INDEX.ok, 5);
    stats.instance('orders', 'busy-pod').record(OUTCOME_INDEX.ok, 5);
    c.advance(MINUTES * 60_000);
    stats.instance('orders', 'busy-pod').record(OUTCOME_INDEX.connect_error, 5);
    c.advance(60_000);
    stats.instance('orders', 'new-pod').record(OUTCOME_INDEX.ok, 5);
    assert.equal(stats.findInstance('orders', 'old-pod'), undefined);
    assert.equal(
      stats.findInstance('orders', 'busy-pod')?.summary(MINUTES).outcomes.connect_error,
      1,
    );
    assert.deepEqual(
      [...stats.instances()].map((i) => i.id),
      ['busy-pod', 'new-pod'],
    );
  });

  test('a failure row carries method, path, instance, reason, attempts and consumer', () => {
    const stats = new StatsCollector();
    stats
      .route('orders')
      .record(
        502,
        12,
        'req-1',
        '4bf92f3577b34da6a3ce929d0e0e4736',
        REASONS.indexOf('bad_gateway'),
        { sub: 'alice', method: 'POST', path: '/orders/7', instance: 'orders-2', attempts: 3 },
      );
    assert.deepEqual(stats.recent()[0], {
      at: stats.recent()[0]?.at,
      requestId: 'req-1',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      route: 'orders',
      method: 'POST',
      path: '/orders/7',
      instance: 'orders-2',
      status: 502,
      reason: 'bad_gateway',
      upstreamFailure: undefined,
      message: undefined,
      attempts: 3,
      sub: 'alice',
      durationMs: 12,
    });
  });
});

describe('redis history', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  test('two gateways flush into the same per-minute hashes; the merged series sums them, with a bounded TTL', async () => {
    const now = Date.now();
    const a = new StatsCollector();
    const b = new StatsCollector();
    const clientA = redis.client();
    const clientB = redis.client();
    try {
      const historyA = new RedisHistory(clientA, a, { logger: pino({ level: 'silent' }) });
      const historyB = new RedisHistory(clientB, b, { logger: pino({ level: 'silent' }) });
      for (let i = 0; i < 5; i++) a.route('orders-read').record(200, 10, `a${i}`, '');
      for (let i = 0; i < 3; i++)
        b.route('orders-read').record(i === 0 ? 503 : 200, 1000, `b${i}`, '');
      await Promise.all([historyA.stop(), historyB.stop()]);
      const last = await minuteIn(historyA, 'orders-read', now);
      assert.equal(last.requests, 8);
      assert.equal(last.errors5xx, 1);
      const p99 = quantileMs(last.latency, 0.99);
      assert.ok(p99 !== undefined && Math.abs(p99 - 1000) <= 130);
      const minute = Math.floor(now / 60_000) * 60_000;
      const ttl = await clientA.pttl(historyKey('orders-read', minute));
      assert.ok(ttl > 24 * 3_600_000 && ttl <= 25 * 3_600_000, String(ttl));
      await historyA.flush();
      assert.equal(
        (await minuteIn(historyA, 'orders-read', now)).requests,
        8,
        'a flush with nothing pending adds nothing',
      );
    } finally {
      clientA.disconnect();
      clientB.disconnect();
    }
  });

  test('deltas survive a Redis outage and are sent once it is back', async () => {
    const stats = new StatsCollector();
    // As the gateway connects (src/store/connect.ts): fail fast, reconnect in the background.
    const client = new Redis({
      host: '127.0.0.1',
      port: redis.port,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 50,
    });
    client.on('error', () => undefined);
    try {
      const history = new RedisHistory(client, stats, { logger: pino({ level: 'silent' }) });
      stats.route('payments').record(200, 5, 'p1', '');
      await redis.stop();
      await assert.rejects(history.flush());
      await redis.restart();
      while (client.status !== 'ready') await new Promise((resolve) => setTimeout(resolve, 20));
      await history.flush();
      assert.equal((await minuteIn(history, 'payments', Date.now())).requests, 1);
    } finally {
      client.disconnect();
    }
  });
});
