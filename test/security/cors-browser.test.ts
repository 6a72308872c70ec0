/** CORS in a real browser: a page on one loopback origin calls the gateway on another with credentials. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';

/** A page server on 127.0.0.1 with a free port: its origin is the page's origin. */
async function startPage(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>app</title>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** What the page's `fetch(..., {credentials: 'include'})` ended with. */
interface Outcome {
  readonly ok: boolean;
  readonly status?: number;
  readonly body?: string;
  readonly requestId?: string | null;
  readonly error?: string;
}

describe(
  'cors in Chromium',
  {
    skip: existsSync(CHROMIUM)
      ? false
      : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this test`,
  },
  () => {
    let up: Upstream;
    let gw: TestGateway;
    let allowed: { origin: string; server: Server };
    let other: { origin: string; server: Server };

    before(async () => {
      allowed = await startPage();
      other = await startPage();
      up = await startUpstream((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, cookie: req.headers.cookie ?? null }));
      });
      gw = await startGateway({
        'services.yaml': serviceYaml('svc', [up.url]),
        'routes.yaml': `
routes:
  - name: web
    match: { path: /api, methods: [POST] }
    service: svc
    cors: { origins: ["${allowed.origin}"], methods: [POST], headers: [content-type], exposeHeaders: [x-request-id], credentials: true, maxAge: 1m }
`,
      });
    });
    after(async () => {
      await gw.stop();
      await up.close();
      for (const page of [allowed, other]) {
        page.server.closeAllConnections();
        await new Promise<void>((resolve) => page.server.close(() => resolve()));
      }
    });

    test('a credentialed cross-origin fetch succeeds only from the allowed origin, and its preflight never reaches the upstream', async () => {
      const browser = await launchChromium();
      try {
        const context = await browser.newContext();
        // A cookie of the gateway's origin: credentials: 'include' must carry it.
        await context.addCookies([{ name: 'session', value: 's1', url: gw.url }]);
        const page = await context.newPage();
        const call = (): Promise<Outcome> =>
          page.evaluate(async (url) => {
            try {
              // application/json makes this a non-simple request: the browser sends a preflight first.
              const res = await fetch(url, {
                method: 'POST',
                credentials: 'include',
                headers: { 'content-type': 'application/json' },
                body: '{}',
              });
              return {
                ok: true,
                status: res.status,
                body: await res.text(),
                requestId: res.headers.get('x-request-id'),
              };
            } catch (err) {
              return { ok: false, error: String(err) };
            }
          }, `${gw.url}/api/orders`);

        up.seen.length = 0;
        await page.goto(`${allowed.origin}/`);
        const fromAllowed = await call();
        assert.equal(fromAllowed.ok, true, fromAllowed.error);
        assert.equal(fromAllowed.status, 200);
        assert.deepEqual(JSON.parse(fromAllowed.body ?? ''), {
          method: 'POST',
          cookie: 'session=s1',
        });
        assert.match(fromAllowed.requestId ?? '', /./, 'x-request-id is exposed to the page');
        assert.deepEqual(
          up.seen.map((seen) => seen.method),
          ['POST'],
        );

        up.seen.length = 0;
        await page.goto(`${other.origin}/`);
        const fromOther = await call();
        assert.equal(fromOther.ok, false);
        assert.match(fromOther.error ?? '', /TypeError/);
        assert.deepEqual(
          up.seen,
          [],
          'the refused preflight stops the request before the upstream',
        );
      } finally {
        await browser.close();
      }
    });
  },
);
