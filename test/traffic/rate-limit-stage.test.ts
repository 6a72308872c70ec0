/** The rate_limit stage behind a real HTTP server: headers, 429s, shadow mode and bucket keys. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { GatewayError, errorBody } from '../../src/errors.js';
import { NOOP_SPAN } from '../../src/telemetry/tracing/spans.js';
import type { RequestContext, Stage } from '../../src/request/context.js';
import type { RateLimitConfig } from '../../src/config/schema.js';
import { buildRateLimitStage } from '../../src/traffic/rate-limit/stage.js';
import { RateLimitCounters } from '../../src/traffic/rate-limit/counters.js';
import { createRateLimiterProvider } from '../../src/traffic/rate-limit/provider.js';
import { policyHeader, rateLimitHeaders } from '../../src/traffic/rate-limit/headers.js';

const now = 1_000_000; // a frozen clock: no refill during a test, so header values are exact
const logger = { warn: () => undefined, info: () => undefined };
const limiters = createRateLimiterProvider({
  backend: { kind: 'memory', dataDir: '' },
  logger,
  clock: () => now,
});
const counters = new RateLimitCounters();
const stages = new Map<string, Stage>();

function limit(name: string, rateLimit: Partial<RateLimitConfig>): void {
  const config: RateLimitConfig = {
    capacity: 10,
    refillPerSecond: 2,
    key: 'ip',
    onStoreFailure: 'local',
    mode: 'enforce',
    ...rateLimit,
  };
  const stage = buildRateLimitStage({ name, rateLimit: config }, { limiters, counters });
  assert.ok(stage);
  stages.set(name, stage);
}

// The test server stands in for the gateway: the path names the route, x-test-ip is the client IP
// and x-test-sub plays the auth stage's principal.
let server: Server;
let base: string;
before(async () => {
  server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    const sub = req.headers['x-test-sub'];
    const ctx: RequestContext = {
      // The stage never reads ctx.route (its route is fixed at build time), so a name is all it needs.
      req,
      res,
      requestId: 'req-1',
      startedAt: 0n,
      route: { name } as unknown as RequestContext['route'],
      path: req.url ?? '/',
      query: '',
      clientIp: String(req.headers['x-test-ip'] ?? '127.0.0.1'),
      principal: typeof sub === 'string' ? { sub, scopes: [], claims: {} } : undefined,
      responseHeaders: [],
      upstreamHeaders: [],
      trace: {
        span: NOOP_SPAN,
        context: ROOT_CONTEXT,
        method: 'GET',
        traceId: '',
        incomingTraceparent: undefined,
        incomingTracestate: undefined,
        attempts: 0,
        upstreamFailure: undefined,
      },
      service: undefined,
      instance: undefined,
      upstreamMs: 0,
    };
    // A stage may decide synchronously (and throw its 429) or return a promise, as handle-request allows.
    new Promise<void>((resolve) => resolve((stages.get(name) as Stage)(ctx))).then(
      () => {
        for (const [k, v] of ctx.responseHeaders) res.setHeader(k, v);
        res.end('ok');
      },
      (err: unknown) => {
        const e = err instanceof GatewayError ? err : new GatewayError('bad_gateway', String(err));
        for (const [k, v] of [...ctx.responseHeaders, ...e.headers]) res.setHeader(k, v);
        res
          .writeHead(e.status, { 'content-type': 'application/json' })
          .end(errorBody(e.code, e.message, ctx.requestId));
      },
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const call = (route: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${base}/${route}`, { headers });

async function admitted(
  route: string,
  n: number,
  headers: Record<string, string> = {},
): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i += 1) if ((await call(route, headers)).status === 200) ok += 1;
  return ok;
}

describe('rate_limit stage', () => {
  test('a route without rateLimit gets no stage', () => {
    assert.equal(buildRateLimitStage({ name: 'free' }, { limiters, counters }), undefined);
  });

  test('allowed answers carry the RateLimit headers; the denial is a 429 with Retry-After', async () => {
    limit('headers', {});
    const first = await call('headers');
    assert.equal(first.status, 200);
    assert.deepEqual(
      ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-policy'].map((h) =>
        first.headers.get(h),
      ),
      ['10', '9', '1', '10;w=5'],
    );
    assert.equal(first.headers.get('retry-after'), null);
    await admitted('headers', 9);
    const denied = await call('headers');
    assert.equal(denied.status, 429);
    assert.equal(denied.headers.get('retry-after'), '1');
    assert.equal(denied.headers.get('ratelimit-remaining'), '0');
    assert.equal(denied.headers.get('ratelimit-reset'), '5');
    assert.equal(denied.headers.get('content-type'), 'application/json');
    assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'rate_limited');
    assert.equal(counters.get('headers', 'allowed'), 10);
    assert.equal(counters.get('headers', 'limited'), 1);
  });

  test('Retry-After is the real wait for the next token, rounded up', async () => {
    limit('slow', { capacity: 1, refillPerSecond: 0.1 });
    await call('slow');
    const denied = await call('slow');
    assert.deepEqual(
      [denied.status, denied.headers.get('retry-after'), denied.headers.get('ratelimit-policy')],
      [429, '10', '1;w=10'],
    );
  });

  test('shadow mode never denies and never adds headers, but counts what it would have rejected', async () => {
    limit('shadow', { mode: 'shadow' });
    const responses = await Promise.all(Array.from({ length: 15 }, () => call('shadow')));
    assert.deepEqual([...new Set(responses.map((r) => r.status))], [200]);
    assert.ok(
      responses.every(
        (r) =>
          r.headers.get('ratelimit-limit') === null && r.headers.get('ratelimit-policy') === null,
      ),
    );
    assert.equal(counters.get('shadow', 'shadow_limited'), 5);
    assert.equal(counters.get('shadow', 'allowed'), 10);
    assert.equal(counters.get('shadow', 'limited'), 0);
  });

  test('consumer keys: anonymous callers never share one bucket, and a sub is one bucket wherever it calls from', async () => {
    limit('consumer', { key: 'consumer', capacity: 3 });
    assert.equal(await admitted('consumer', 5, { 'x-test-ip': '10.0.0.1' }), 3);
    assert.equal(
      await admitted('consumer', 5, { 'x-test-ip': '10.0.0.2' }),
      3,
      'another anonymous client has its own bucket',
    );
    assert.equal(
      await admitted('consumer', 2, { 'x-test-ip': '10.0.0.3', 'x-test-sub': 'alice' }),
      2,
    );
    assert.equal(
      await admitted('consumer', 3, { 'x-test-ip': '10.0.0.4', 'x-test-sub': 'alice' }),
      1,
      'alice from elsewhere shares her bucket',
    );
    assert.equal(
      await admitted('consumer', 3, { 'x-test-ip': '10.0.0.1', 'x-test-sub': '10.0.0.1' }),
      3,
      'a sub equal to an IP is not that IP',
    );
  });

  test('header keys: one bucket per value, the client IP when the header is absent', async () => {
    limit('by-header', { key: 'header:X-Api-Key', capacity: 2 });
    assert.equal(await admitted('by-header', 3, { 'x-api-key': 'k1' }), 2);
    assert.equal(await admitted('by-header', 3, { 'x-api-key': 'k2' }), 2);
    assert.equal(await admitted('by-header', 3, { 'x-test-ip': '10.1.0.1' }), 2);
    assert.equal(await admitted('by-header', 3, { 'x-test-ip': '10.1.0.2' }), 2);
    assert.equal(
      await admitted('by-header', 1, { 'x-api-key': 'x'.repeat(4000) }),
      1,
      'a huge value is hashed, still limited',
    );
  });

  test('route and ip keys', async () => {
    limit('whole-route', { key: 'route', capacity: 2 });
    limit('by-ip', { key: 'ip', capacity: 2 });
    assert.equal(
      (await admitted('whole-route', 2, { 'x-test-ip': '10.2.0.1' })) +
        (await admitted('whole-route', 2, { 'x-test-ip': '10.2.0.2' })),
      2,
    );
    assert.equal(
      (await admitted('by-ip', 3, { 'x-test-ip': '10.2.0.1' })) +
        (await admitted('by-ip', 3, { 'x-test-ip': '10.2.0.2' })),
      4,
    );
  });

  test('a decision from local buckets is made synchronously: the stage returns no promise', () => {
    limit('sync', { key: 'route', capacity: 1 });
    const ctx = {
      clientIp: '10.3.0.1',
      principal: undefined,
      req: { headers: {} },
      responseHeaders: [],
    } as unknown as RequestContext;
    assert.equal((stages.get('sync') as Stage)(ctx), undefined);
    assert.deepEqual(ctx.responseHeaders, [
      ['RateLimit-Limit', '1'],
      ['RateLimit-Remaining', '0'],
      ['RateLimit-Reset', '1'],
      ['RateLimit-Policy', '1;w=1'],
    ]);
    assert.throws(
      () => (stages.get('sync') as Stage)(ctx),
      (err: unknown) => err instanceof GatewayError && err.status === 429,
    );
  });

  test('counters expose a snapshot by route and outcome', () => {
    const snapshot = counters.snapshot();
    assert.ok(
      snapshot.some((c) => c.route === 'headers' && c.outcome === 'limited' && c.value === 1),
    );
    assert.ok(snapshot.every((c) => c.value > 0));
  });
});

describe('rate-limit headers', () => {
  const cases: Array<[number, number, string]> = [
    [100, 10, '100;w=10'],
    [5, 0.5, '5;w=10'],
    [10, 3, '10;w=4'],
    [1, 1000, '1;w=1'],
  ];
  for (const [capacity, refillPerSecond, expected] of cases) {
    test(`capacity ${capacity} at ${refillPerSecond}/s advertises ${expected}`, () => {
      assert.equal(policyHeader({ capacity, refillPerSecond }), expected);
    });
  }

  test('a denial rounds Retry-After and RateLimit-Reset up, and never says 0', () => {
    const headers = rateLimitHeaders(
      { allowed: false, limit: 5, remaining: 0, resetMs: 4001, retryAfterMs: 1, source: 'store' },
      '5;w=5',
    );
    assert.deepEqual(headers, [
      ['RateLimit-Limit', '5'],
      ['RateLimit-Remaining', '0'],
      ['RateLimit-Reset', '5'],
      ['RateLimit-Policy', '5;w=5'],
      ['Retry-After', '1'],
    ]);
  });
});
