/** The dashboard's Certificates panel: rows and colours from the ACME view, and a real order against pebble shown in Chromium. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { certificateRows } from '../../src/admin/dashboard/certificates-view.js';
import { createStatsEndpoint } from '../../src/admin/dashboard/stats-endpoint.js';
import { StatsCollector } from '../../src/telemetry/history/stats.js';
import type { CertificateView } from '../../src/telemetry/certificates.js';
import { Gateway } from '../../src/server/gateway.js';
import { createPebble } from '../helpers/pebble.js';
import { freePort } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const DAY = 86_400_000;
const meta = () => ({
  version: 'test',
  startedAt: 0,
  store: { kind: 'memory' as const, state: 'embedded' },
  registry: {},
  traceUrl: null,
});

describe('certificate rows', () => {
  const cases: Array<[string, CertificateView, number | null, 'ok' | 'warn' | 'bad']> = [
    [
      'valid, 60 days left',
      { domain: 'a.test', state: 'valid', notAfter: NOW + 60 * DAY },
      60,
      'ok',
    ],
    [
      'valid, 13.5 days left',
      { domain: 'a.test', state: 'valid', notAfter: NOW + 13.5 * DAY },
      13,
      'warn',
    ],
    [
      'valid, exactly 14 days left',
      { domain: 'a.test', state: 'valid', notAfter: NOW + 14 * DAY },
      14,
      'ok',
    ],
    [
      'valid, 2.9 days left',
      { domain: 'a.test', state: 'valid', notAfter: NOW + 2.9 * DAY },
      2,
      'bad',
    ],
    [
      'expired an hour ago',
      { domain: 'a.test', state: 'valid', notAfter: NOW - 3_600_000 },
      -1,
      'bad',
    ],
    [
      'renewal failed, 40 days left',
      { domain: 'a.test', state: 'renewing-failed', notAfter: NOW + 40 * DAY },
      40,
      'warn',
    ],
    [
      'renewal failed, 1 day left',
      { domain: 'a.test', state: 'renewing-failed', notAfter: NOW + DAY + 1 },
      1,
      'bad',
    ],
    [
      'failed, no certificate',
      { domain: 'a.test', state: 'failed', lastError: 'boom', retryAt: NOW + 60_000 },
      null,
      'bad',
    ],
    ['pending', { domain: 'a.test', state: 'pending' }, null, 'ok'],
    ['ordering', { domain: 'a.test', state: 'ordering' }, null, 'ok'],
  ];
  for (const [name, view, days, severity] of cases) {
    test(`${name}: expires in ${days} days, ${severity}`, () => {
      const [row] = certificateRows([view], NOW);
      assert.equal(row?.expiresInDays, days);
      assert.equal(row?.severity, severity);
    });
  }

  test('the stats JSON carries a failed domain with its error and next retry, sorted by domain; null without ACME', async () => {
    const views: CertificateView[] = [
      {
        domain: 'shop.test',
        state: 'failed',
        lastError: 'acme: connect ECONNREFUSED 127.0.0.1:14000',
        retryAt: NOW + 30_000,
      },
      {
        domain: 'api.test',
        state: 'valid',
        issuer: 'Pebble Intermediate CA 1',
        serial: '0a',
        notAfter: NOW + 90 * DAY,
      },
    ];
    const stats = new StatsCollector({ now: () => NOW });
    const body = JSON.parse(
      JSON.stringify(
        await createStatsEndpoint({
          stats,
          now: () => NOW,
          gatewayId: 'gw',
          meta,
          certificates: () => views,
        })(),
      ),
    );
    assert.deepEqual(body.certificates, [
      {
        domain: 'api.test',
        state: 'valid',
        issuer: 'Pebble Intermediate CA 1',
        serial: '0a',
        notAfter: NOW + 90 * DAY,
        expiresInDays: 90,
        severity: 'ok',
      },
      {
        domain: 'shop.test',
        state: 'failed',
        lastError: 'acme: connect ECONNREFUSED 127.0.0.1:14000',
        retryAt: NOW + 30_000,
        expiresInDays: null,
        severity: 'bad',
      },
    ]);
    assert.equal(
      (await createStatsEndpoint({ stats, now: () => NOW, gatewayId: 'gw', meta })()).certificates,
      null,
    );
  });
});

describe('certificates panel with ACME against pebble', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test(
    'after the order the page shows the domain valid, issued by pebble, with its expiry',
    {
      skip: existsSync(CHROMIUM)
        ? false
        : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this test`,
    },
    async () => {
      const domain = 'shop.acme.test';
      const [port, redirectPort] = [await freePort(), await freePort()];
      const pebble = await createPebble({ httpPort: redirectPort, tlsPort: port });
      cleanups.push(() => pebble.stop());
      const dir = mkdtempSync(join(tmpdir(), 'edgeway-certdash-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      mkdirSync(join(dir, 'config'));
      writeFileSync(
        join(dir, 'config', 'gateway.yaml'),
        [
          'gateway:',
          `  listen: { host: 127.0.0.1, port: ${port} }`,
          `  tls: { acme: { directory: "${pebble.directory}", ca: "${pebble.caPath}", challenge: http-01, email: ops@acme.test }, redirectHttpPort: ${redirectPort} }`,
          'services:',
          '  shop: { instances: [http://127.0.0.1:9] }',
          'routes:',
          `  - { name: shop, match: { host: ${domain}, path: / }, service: shop }`,
        ].join('\n'),
      );
      const gateway = await Gateway.start({
        configPath: join(dir, 'config'),
        adminPort: 0,
        dataDir: join(dir, 'data'),
        logger: pino({ level: 'silent' }),
        accessLog: { destination: { write: () => undefined }, minLength: 0 },
        watch: false,
        acme: { retryMs: 300, maxRetryMs: 2000, waitMs: 100 },
      });
      cleanups.push(() => gateway.stop());
      await waitFor(
        () => gateway.acme?.certificates()[0]?.state === 'valid',
        30_000,
        'a valid certificate from pebble',
      );
      const notAfter = gateway.acme?.certificates()[0]?.notAfter ?? 0;

      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        const problems: string[] = [];
        page.on('pageerror', (err) => problems.push(err.message));
        await page.goto(`http://127.0.0.1:${gateway.adminPort}/`);
        const row = page.locator(`#certificates tr[data-domain="${domain}"]`);
        await row.waitFor({ timeout: 10_000 });
        assert.equal(await page.locator('#certificates-panel').isVisible(), true);
        assert.equal(await row.locator('[data-k="state"]').innerText(), 'valid');
        assert.match(await row.locator('[data-k="issuer"]').innerText(), /^Pebble Intermediate CA/);
        assert.equal(
          await row.locator('[data-k="notAfter"]').innerText(),
          `${new Date(notAfter).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
        );
        const days = Math.floor((notAfter - Date.now()) / DAY);
        assert.match(
          await row.locator('[data-k="expires"]').innerText(),
          new RegExp(`^expires in (${days}|${days - 1}) days$`),
        );
        // pebble issues five-year certificates: nothing to warn about.
        assert.equal(await row.getAttribute('data-severity'), 'ok');
        assert.equal(await row.locator('[data-k="expires"]').getAttribute('class'), '');
        assert.equal(await row.locator('[data-k="error"]').innerText(), '–');
        assert.equal(await row.locator('[data-k="retry"]').innerText(), '–');
        mkdirSync('test-output', { recursive: true });
        await page.screenshot({ path: 'test-output/dashboard-certificates.png', fullPage: true });
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
      }
    },
  );
});
