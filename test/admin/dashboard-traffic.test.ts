/** The dashboard of a real gateway on Redis after scripted traffic: every count and state in the JSON and in Chromium's DOM. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'undici';
import type { Page } from 'playwright-core';
import { startRedis, freePort, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import type { DashboardStats } from '../../src/admin/dashboard/stats-endpoint.js';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';

const NO_CHROMIUM = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this test`;
const TRACE_URL = 'https://jaeger.example.com/trace/{traceId}';

/** Status counts as the clients saw them, per route. */
type Seen = Record<string, Record<number, number>>;

describe('the dashboard after scripted traffic (200, 401, 404, 429, 502, a dead instance)', () => {
  let redis: TestRedis;
  let live: Upstream;
  let deadUrl: string;
  let gw: TestGateway;
  const seen: Seen = {};
  const failures: Array<{ status: number; path: string; traceId: string }> = [];

  const call = async (
    route: string,
    path: string,
    init: { method?: string; token?: string } = {},
  ): Promise<void> => {
    const res = await request(`${gw.url}${path}`, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.token === undefined ? {} : { authorization: `Bearer ${init.token}` },
    });
    await res.body.dump();
    const byStatus = (seen[route] ??= {});
    byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1;
  };
  const count = (route: string | undefined, status: (s: number) => boolean): number =>
    Object.entries(seen)
      .filter(([name]) => route === undefined || name === route)
      .reduce(
        (sum, [, byStatus]) =>
          sum +
          Object.entries(byStatus)
            .filter(([s]) => status(Number(s)))
            .reduce((n, [, c]) => n + c, 0),
        0,
      );

  before(async () => {
    redis = await startRedis();
    live = await startUpstream((req, res) => {
      res.writeHead(req.url?.includes('/fail') === true ? 502 : 200, {
        'content-type': 'text/plain',
      });
      res.end('ok');
    });
    deadUrl = `http://127.0.0.1:${await freePort()}`;
    gw = await startGateway(
      {
        'c.yaml': `auth:
  issuers:
    - { issuer: edgeway, audience: api }
services:
  orders:
    instances: [${live.url}, ${deadUrl}]
    loadBalancer: { policy: round-robin }
    outlierDetection: { consecutive5xx: 2, baseEjectionTime: 10m }
  payments:
    instances: [${live.url}]
    loadBalancer: { policy: round-robin }
routes:
  - { name: orders, match: { path: /orders }, service: orders }
  - { name: account, match: { path: /account, methods: [GET] }, service: payments, auth: { required: true, scopes: [account:read] }, rateLimit: { capacity: 3, refillPerSecond: 0.001, key: consumer } }
  - { name: payments, match: { path: /payments }, service: payments }
dashboard:
  traceUrl: ${TRACE_URL}
`,
      },
      { redisUrl: redis.url },
    );
    const mint = async (sub: string): Promise<string> => {
      const res = await request(`${gw.adminUrl}/admin/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sub, scopes: ['account:read'], ttl: '10m' }),
      });
      return ((await res.body.json()) as { token: string }).token;
    };
    const [alice, bob] = [await mint('alice'), await mint('bob')];
    for (let i = 0; i < 10; i++) await call('orders', `/orders/${i}`);
    for (let i = 0; i < 4; i++) await call('account', '/account');
    for (let i = 0; i < 5; i++) await call('account', '/account', { token: alice });
    await call('account', '/account', { token: bob });
    for (let i = 0; i < 3; i++) await call('(unrouted)', `/nope/${i}`);
    for (let i = 0; i < 2; i++) await call('payments', '/payments/fail', { method: 'POST' });
    for (let i = 0; i < 3; i++) await call('payments', '/payments/ok');
    const lines = gw.accessLines.map(
      (line) => JSON.parse(line) as { status: number; path: string; traceId: string },
    );
    failures.push(...lines.filter((l) => l.status >= 400));
  });
  after(async () => {
    await gw.stop();
    await live.close();
    await redis.stop();
  });

  test('the scripted traffic produced each status', () => {
    assert.equal(
      count('account', (s) => s === 401),
      4,
    );
    assert.equal(
      count('account', (s) => s === 429),
      2,
    );
    assert.equal(
      count('(unrouted)', (s) => s === 404),
      3,
    );
    assert.equal(
      count('payments', (s) => s === 502),
      2,
    );
    assert.ok(
      count('orders', (s) => s === 502) >= 1,
      'the dead instance answered some orders with 502',
    );
    assert.ok(count('orders', (s) => s === 200) >= 1);
  });

  test('the stats endpoint counts every class, reason, instance and consumer over the fleet (Redis)', async () => {
    const body = (await (
      await request(`${gw.adminUrl}/admin/stats?range=1h`)
    ).body.json()) as DashboardStats;
    assert.equal(body.source, 'redis');
    assert.equal(body.range, '1h');
    assert.equal(body.fleet.series.requests.length, 60);
    const t = body.fleet.totals;
    assert.deepEqual(
      [t.requests, t.s2xx, t.s4xx, t.s429, t.s5xx],
      [
        count(undefined, () => true),
        count(undefined, (s) => s < 300),
        count(undefined, (s) => s >= 400 && s < 500),
        2,
        count(undefined, (s) => s >= 500),
      ],
    );
    const orders502 = count('orders', (s) => s === 502);
    assert.deepEqual(body.fleet.reasons, {
      unauthorized: 4,
      not_found: 3,
      rate_limited: 2,
      bad_gateway: orders502,
      upstream_5xx: 2,
    });
    const dead = body.services
      .find((s) => s.name === 'orders')
      ?.instances.find((i) => i.url === deadUrl);
    assert.equal(dead?.state, 'ejected');
    assert.equal(dead?.active, 'unchecked');
    assert.equal(dead?.attempts.connect_error, orders502);
    assert.equal(dead?.attempts.ok, 0);
    assert.equal(
      body.services.find((s) => s.name === 'payments')?.instances[0]?.attempts.status_5xx,
      2,
    );
    assert.deepEqual(
      body.consumers.byRequests.map((c) => [c.sub, c.requests, c.rateLimited]),
      [
        ['alice', 5, 2],
        ['bob', 1, 0],
      ],
    );
    assert.deepEqual(
      body.consumers.byRateLimited.map((c) => c.sub),
      ['alice'],
    );
    assert.deepEqual(
      body.gateways.map((g) => [g.self, g.totals.requests]),
      [[true, t.requests]],
    );
    assert.equal(body.meta.traceUrl, TRACE_URL);
    assert.deepEqual(body.meta.store, { kind: 'redis', state: 'ready' });
    const failed = body.failures.find((f) => f.status === 502 && f.route === 'orders');
    assert.deepEqual(
      [
        failed?.method,
        failed?.path.startsWith('/orders/'),
        failed?.instance,
        failed?.reason,
        failed?.upstreamFailure,
        failed?.attempts,
      ],
      ['GET', true, dead?.id, 'bad_gateway', 'connect-failure', 1],
    );
    assert.ok(failed?.message, 'the message edgeway answered with');
    assert.match(failed?.traceId ?? '', /^[0-9a-f]{32}$/);
  });

  test(
    'the page shows each count and state, full trace ids as links, and route config on click',
    { skip: NO_CHROMIUM },
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        const problems: string[] = [];
        const foreign: string[] = [];
        page.on('console', (msg) => {
          if (msg.type() === 'error') problems.push(msg.text());
        });
        page.on('pageerror', (err) => problems.push(err.message));
        page.on('request', (req) => {
          if (!req.url().startsWith(gw.adminUrl)) foreign.push(req.url());
        });
        await page.goto(`${gw.adminUrl}/`);
        await page.locator('#status.live').waitFor({ timeout: 10_000 });
        const text = (selector: string): Promise<string> => page.locator(selector).innerText();
        const all = count(undefined, () => true);
        assert.equal(await text('#fleet-tiles [data-k="requests"] .v'), String(all));
        assert.equal(
          await text('#fleet-tiles [data-k="s2xx"] .v'),
          String(count(undefined, (s) => s < 300)),
        );
        assert.equal(await text('#fleet-tiles [data-k="s4xx"] .v'), String(4 + 2 + 3));
        assert.equal(await text('#fleet-tiles [data-k="s429"] .v'), '2');
        assert.equal(
          await text('#fleet-tiles [data-k="s5xx"] .v'),
          String(count(undefined, (s) => s >= 500)),
        );
        const orders502 = count('orders', (s) => s === 502);
        for (const [reason, n] of [
          ['unauthorized', 4],
          ['not_found', 3],
          ['rate_limited', 2],
          ['bad_gateway', orders502],
          ['upstream_5xx', 2],
        ] as const) {
          assert.match(
            await text(`#fleet-reasons [data-reason="${reason}"]`),
            new RegExp(`${reason} ${n}$`),
          );
        }
        const routeCell = (route: string, k: string): Promise<string> =>
          text(`tr[data-route="${route}"] [data-k="${k}"]`);
        assert.equal(await routeCell('account', 's4xx'), '6');
        assert.equal(await routeCell('account', 's429'), '2');
        assert.equal(await routeCell('account', 's2xx'), '4');
        assert.equal(await routeCell('(unrouted)', 's4xx'), '3');
        assert.equal(await routeCell('payments', 's5xx'), '2');
        assert.equal(await routeCell('orders', 's5xx'), String(orders502));
        assert.equal(await routeCell('orders', 's2xx'), String(count('orders', (s) => s === 200)));

        const deadRow = page.locator('tr[data-instance^="orders/"]', { hasText: deadUrl });
        assert.match(await deadRow.locator('[data-k="state"]').innerText(), /^ejected until/);
        assert.equal(
          await deadRow.locator('[data-k="connect_error"]').innerText(),
          String(orders502),
        );
        assert.equal(await deadRow.locator('[data-k="active"]').innerText(), 'unchecked');
        const liveRow = page.locator('tr[data-instance^="orders/"]', { hasText: live.url }).first();
        assert.equal(await liveRow.locator('[data-k="state"]').innerText(), 'up');
        assert.equal(await liveRow.locator('[data-k="connect_error"]').innerText(), '0');
        assert.equal(await text('tr[data-instance^="payments/"] [data-k="status_5xx"]'), '2');

        assert.equal(
          await text('#consumers-requests tr[data-sub="alice"] [data-k="requests"]'),
          '5',
        );
        assert.equal(await text('#consumers-limited tr[data-sub="alice"] [data-k="s429"]'), '2');
        assert.equal(await page.locator('#consumers-limited tr[data-sub="bob"]').count(), 0);

        const row502 = page
          .locator('#failures tr[data-status="502"]', { hasText: '/orders/' })
          .first();
        assert.equal(await row502.locator('[data-k="method"]').innerText(), 'GET');
        assert.equal(
          await row502.locator('[data-k="reason"]').innerText(),
          'bad_gateway (connect-failure)',
        );
        assert.equal(await row502.locator('[data-k="attempts"]').innerText(), '1');
        assert.match(await row502.locator('[data-k="instance"]').innerText(), /.+/);
        const link = row502.locator('a.trace');
        const traceId = await link.innerText();
        assert.ok(
          failures.some((f) => f.traceId === traceId && f.status === 502),
          'the full trace id of a logged 502',
        );
        assert.equal(await link.getAttribute('href'), TRACE_URL.replace('{traceId}', traceId));
        for (const status of [401, 404, 429])
          assert.ok(
            (await page.locator(`#failures tr[data-status="${status}"]`).count()) > 0,
            `a ${status} row`,
          );

        await page.locator('tr[data-route="account"]').click();
        const config = await text('#route-config');
        assert.match(config, /match\s+GET \/account/);
        assert.match(config, /auth\s+bearer token required; scopes account:read/);
        assert.match(config, /rate limit\s+3 burst, 0.001\/s per consumer/);
        assert.match(await text('#meta'), /store: redis \(ready\)\s+registry: connected$/);
        assert.match(await text('#status'), /fleet of 1 gateway/);

        mkdirSync('test-output', { recursive: true });
        await page.screenshot({ path: 'test-output/dashboard-desktop.png', fullPage: true });
        await page.locator('#ranges button[data-range="24h"]').click();
        await page.locator('#ranges button.on[data-range="24h"]').waitFor({ timeout: 10_000 });
        assert.equal(
          await text('#fleet-tiles [data-k="requests"] .v'),
          String(all),
          'the 24 h range holds the same traffic',
        );
        await shootPhone(page);
        assert.deepEqual(problems, []);
        assert.deepEqual(foreign, []);
      } finally {
        await browser.close();
      }
    },
  );
});

/** Re-lays the page at a phone's width and checks nothing but the wide tables scrolls sideways. */
async function shootPhone(page: Page): Promise<void> {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('#ranges button[data-range="15m"]').click();
  await page.locator('#ranges button.on[data-range="15m"]').waitFor({ timeout: 10_000 });
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth,
  );
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone`);
  await page.screenshot({ path: 'test-output/dashboard-phone.png', fullPage: true });
}
