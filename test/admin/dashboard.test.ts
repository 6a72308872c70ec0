/** The dashboard page in headless Chromium, fed by the real stats endpoint over a tiny hono app on 127.0.0.1. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { chromium } from 'playwright-core';
import { dashboardPage } from '../../src/admin/dashboard/page.js';
import { createStatsEndpoint, type DashboardStats } from '../../src/admin/dashboard/stats-endpoint.js';
import { StatsCollector } from '../../src/telemetry/stats.js';
import type { ServiceView } from '../../src/telemetry/services-view.js';
import type { ActiveAlert } from '../../src/telemetry/alerts.js';

const CHROMIUM = '/usr/bin/chromium';
const END = Date.UTC(2026, 10, 26, 12, 0, 30);

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
      orders.record(i % 25 === 0 ? 502 : 200, 5 + (i % 40), `req-${n++}`, '');
      search.record(i % 7 === 0 ? 429 : 200, 40 + i, `req-${n++}`, '');
    }
  }
  for (let second = 5; second >= 1; second--) {
    for (let i = 0; i < 50; i++) {
      t = END - second * 1000 + i * 10;
      orders.record(i < 1 ? 503 : 200, i === 49 ? 1200 : 12, `live-${second}-${i}`, 'a3ce929d0e0e47364bf92f3577b34da6');
    }
  }
  t = END;
  return { stats, now: () => t };
}

const services: ServiceView[] = [
  { name: 'orders', instances: [
    { id: 'orders-1', url: 'http://10.0.0.11:8080', healthy: true, weight: 3, inFlight: 4, latencyMs: 11.2 },
    { id: 'orders-2', url: 'http://10.0.0.12:8080', healthy: false, weight: 1, inFlight: 0, latencyMs: undefined },
  ] },
  { name: 'search', instances: [{ id: 'search-1', url: 'http://10.0.0.21:8080', healthy: true, weight: 1, inFlight: 1, latencyMs: 48 }] },
];
const alerts: ActiveAlert[] = [{ rule: 'orders-errors', kind: 'error-ratio', subject: 'orders-read', value: 0.02, threshold: 0.01, since: END - 90_000 }];

describe('dashboard', () => {
  let server: ServerType;
  let base: string;
  const { stats, now } = syntheticStats();
  const endpoint = createStatsEndpoint({ stats, now, servicesView: () => services, alerts: { active: () => alerts }, routeNames: () => ['orders-read', 'search', 'idle-route'] });

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

  test('the stats endpoint returns every configured route with live numbers and 15 minute points', async () => {
    const body = (await (await fetch(`${base}/admin/stats`)).json()) as DashboardStats;
    assert.equal(body.source, 'local');
    assert.deepEqual(body.routes.map((r) => r.name), ['idle-route', 'orders-read', 'search']);
    const orders = body.routes.find((r) => r.name === 'orders-read');
    assert.equal(orders?.rps, 50);
    assert.equal(orders?.series.length, 15);
    assert.equal(orders?.errorRatio, 5 / 250);
    assert.ok((body.routes.find((r) => r.name === 'search')?.rateLimited ?? 0) > 0);
    assert.equal(body.recent[0]?.requestId, 'live-1-49');
    assert.equal(body.services.length, 2);
    assert.equal(body.alerts[0]?.rule, 'orders-errors');
  });

  test('the page renders the routes, services, alerts and recent requests in Chromium without errors', {
    skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this test`,
  }, async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const problems: string[] = [];
      const foreign: string[] = [];
      page.on('console', (msg) => { if (msg.type() === 'error') problems.push(msg.text()); });
      page.on('pageerror', (err) => problems.push(err.message));
      page.on('request', (req) => { if (!req.url().startsWith(base)) foreign.push(req.url()); });
      await page.goto(`${base}/`);
      const row = page.locator('tr[data-route="orders-read"]');
      await row.waitFor({ timeout: 10_000 });
      await page.locator('#status.live').waitFor({ timeout: 10_000 });
      const rowText = await row.innerText();
      assert.match(rowText, /50\.0\/s/);
      assert.match(rowText, /2\.0 %/);
      assert.equal(await row.locator('svg.spark').count(), 3);
      assert.match(await page.locator('#alerts').innerText(), /orders-errors/);
      const servicesText = await page.locator('#services').innerText();
      assert.match(servicesText, /orders-2/);
      assert.match(servicesText, /1\/2 healthy/);
      assert.match(await page.locator('#recent').innerText(), /live-1-49/);
      assert.match(await page.locator('#recent').innerText(), /a3ce929d0e0e47364bf92f3577b34da6/);
      mkdirSync('test-output', { recursive: true });
      await page.screenshot({ path: 'test-output/dashboard.png', fullPage: true });
      assert.deepEqual(problems, []);
      assert.deepEqual(foreign, []);
    } finally {
      await browser.close();
    }
  });
});
