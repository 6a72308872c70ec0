/** The dashboard page in headless Chromium, fed by the real stats endpoint over a tiny hono app on 127.0.0.1. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { dashboardPage } from '../../src/admin/dashboard/page.js';
import {
  createStatsEndpoint,
  type DashboardStats,
} from '../../src/admin/dashboard/stats-endpoint.js';
import { StatsCollector } from '../../src/telemetry/history/stats.js';
import type { ActiveAlert, AlertEvent } from '../../src/telemetry/alerts/alerts.js';
import { configSchema } from '../../src/config/schema.js';
import { REASONS, reasonOf } from '../../src/telemetry/history/reasons.js';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';

const END = Date.UTC(2026, 10, 26, 12, 0, 30);

// The rate-limit stage answers 429 itself; other statuses stand for what the upstream answered.
const reason = (status: number) =>
  status === 429 ? REASONS.indexOf('rate_limited') : reasonOf(status, undefined);
const detail = {
  sub: undefined,
  method: 'GET',
  path: '/orders/1',
  instance: 'orders-1',
  attempts: 1,
};

/** 15 minutes of synthetic traffic on two routes, ending with 50 req/s on orders-read. */
function syntheticStats(): { stats: StatsCollector; now: () => number } {
  let t = END - 15 * 60_000;
  const stats = new StatsCollector({ now: () => t, slowMs: 800 });
  const orders = stats.route('orders-read');
  const search = stats.route('search');
  let n = 0;
  for (let minute = 0; minute < 14; minute++) {
    for (let i = 0; i < 30 + minute * 10; i++) {
      t = END - 15 * 60_000 + minute * 60_000 + i * 100;
      orders.record(
        i % 25 === 0 ? 502 : 200,
        5 + (i % 40),
        `req-${n++}`,
        '',
        reason(i % 25 === 0 ? 502 : 200),
        detail,
      );
      search.record(
        i % 7 === 0 ? 429 : 200,
        40 + i,
        `req-${n++}`,
        '',
        reason(i % 7 === 0 ? 429 : 200),
        detail,
      );
    }
  }
  for (let second = 5; second >= 1; second--) {
    for (let i = 0; i < 50; i++) {
      t = END - second * 1000 + i * 10;
      orders.record(
        i < 1 ? 503 : 200,
        i === 49 ? 1200 : 12,
        `live-${second}-${i}`,
        'a3ce929d0e0e47364bf92f3577b34da6',
        reason(i < 1 ? 503 : 200),
        detail,
      );
    }
  }
  t = END;
  return { stats, now: () => t };
}

const alerts: ActiveAlert[] = [
  {
    rule: 'orders-errors',
    kind: 'error-ratio',
    subject: 'orders-read',
    value: 0.02,
    threshold: 0.01,
    since: END - 90_000,
  },
];
const alertHistory: AlertEvent[] = [
  {
    rule: 'orders-errors',
    kind: 'error-ratio',
    subject: 'orders-read',
    state: 'firing',
    at: END - 30_000,
    since: END - 90_000,
    value: 0.02,
    threshold: 0.01,
  },
];
const { routes } = configSchema.parse({
  routes: ['orders-read', 'search', 'idle-route'].map((name) => ({
    name,
    match: { path: `/${name}` },
    service: 'svc',
  })),
});
const meta = () => ({
  version: '0.1.0',
  startedAt: END - 3_600_000,
  store: { kind: 'memory' as const, state: 'embedded' },
  registry: {},
  traceUrl: null,
});

describe('dashboard', () => {
  let server: ServerType;
  let base: string;
  const { stats, now } = syntheticStats();
  const endpoint = createStatsEndpoint({
    stats,
    now,
    gatewayId: 'gw-1',
    meta,
    alerts: { active: () => alerts, history: async () => alertHistory },
    routes: () => routes.map((config) => ({ name: config.name, config })),
  });

  before(async () => {
    const app = new Hono();
    app.get('/', (c) => c.html(dashboardPage()));
    app.get('/admin/stats', async (c) => c.json(await endpoint()));
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        base = `http://127.0.0.1:${info.port}`;
        resolve();
      });
    });
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test("without Redis the endpoint serves this gateway's 15 minutes: every configured route, live rate, classes and failures", async () => {
    const body = (await (await fetch(`${base}/admin/stats`)).json()) as DashboardStats;
    assert.equal(body.source, 'local');
    assert.deepEqual(
      body.routes.map((r) => r.name),
      ['idle-route', 'orders-read', 'search'],
    );
    const orders = body.routes.find((r) => r.name === 'orders-read');
    assert.equal(orders?.liveRps, 50);
    assert.equal(orders?.series.requests.length, 15);
    assert.equal(orders?.config?.match.path, '/orders-read');
    const search = body.routes.find((r) => r.name === 'search');
    assert.ok((search?.totals.s429 ?? 0) > 0);
    assert.equal(search?.reasons.rate_limited, search?.totals.s429);
    assert.equal(body.failures[0]?.requestId, 'live-1-49');
    assert.equal(body.alerts.active[0]?.rule, 'orders-errors');
    assert.equal(body.alerts.history[0]?.state, 'firing');
    assert.deepEqual(
      body.gateways.map((g) => [g.id, g.totals.requests]),
      [['gw-1', body.fleet.totals.requests]],
    );
  });

  test(
    'the page renders routes, alerts and failures in Chromium without errors or foreign requests',
    {
      skip: existsSync(CHROMIUM)
        ? false
        : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this test`,
    },
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
          if (!req.url().startsWith(base)) foreign.push(req.url());
        });
        await page.goto(`${base}/`);
        const row = page.locator('tr[data-route="orders-read"]');
        await row.waitFor({ timeout: 10_000 });
        await page.locator('#status.live').waitFor({ timeout: 10_000 });
        assert.match(await page.locator('#status').innerText(), /this gateway only/);
        assert.equal(await row.locator('[data-k="live"]').innerText(), '50.0/s');
        assert.equal(await row.locator('svg.chart').count(), 2);
        assert.match(await page.locator('#alerts').innerText(), /orders-errors/);
        assert.match(
          await page.locator('#alerts tr[data-alert="orders-errors"]').innerText(),
          /firing/,
        );
        assert.match(
          await page.locator('#meta').innerText(),
          /v0\.1\.0\s+up 1h 0m\s+store: memory \(embedded\)/,
        );
        const failures = await page.locator('#failures').innerText();
        assert.match(failures, /a3ce929d0e0e47364bf92f3577b34da6/);
        assert.equal(
          await page.locator('#failures a.trace').count(),
          0,
          'no links without dashboard.traceUrl',
        );
        assert.equal(
          await page.locator('#certificates-panel').isVisible(),
          false,
          'no Certificates panel without ACME',
        );
        mkdirSync('test-output', { recursive: true });
        await page.screenshot({ path: 'test-output/dashboard-local.png', fullPage: true });
        assert.deepEqual(problems, []);
        assert.deepEqual(foreign, []);
      } finally {
        await browser.close();
      }
    },
  );
});
