/** Edge policies through a real gateway and real upstreams: cors, ipAllow/ipDeny, header transforms, addPrefix. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/redis-server.js';

const APP = 'https://app.example.com';

describe('edge policies', () => {
  let up: Upstream;
  let gw: TestGateway;

  before(async () => {
    up = await startUpstream((req, res) => {
      // An upstream with CORS and identity headers of its own, which the route's policies take over.
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('server', 'upstream/1.0');
      res.setHeader('x-powered-by', 'php');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url }));
    });
    const closed = await freePort();
    gw = await startGateway({
      'services.yaml':
        serviceYaml('svc', [up.url]) +
        serviceYaml('dead', [`http://127.0.0.1:${closed}`]).replace('services:\n', ''),
      'routes.yaml': `
gateway: { trustedProxies: [127.0.0.1] }
auth: { issuers: [{ issuer: edgeway, audience: api }] }
routes:
  - name: private
    match: { path: /private }
    service: svc
    auth: { required: true }
    cors: { origins: ["${APP}"], headers: [authorization] }
    ipAllow: [127.0.0.1]
  - name: web
    match: { path: /web, methods: [GET, POST], headers: { x-api-version: "2" } }
    service: svc
    cors: { origins: ["${APP}"], methods: [GET, POST], headers: [authorization, content-type], exposeHeaders: [x-request-id], credentials: true, maxAge: 10m }
  - name: limited
    match: { path: /limited }
    service: svc
    cors: { origins: ["${APP}"] }
    rateLimit: { capacity: 1, refillPerSecond: 0.001, key: route }
  - name: open
    match: { path: /open }
    service: svc
    cors: { origins: ["*"] }
    responseHeaders: { set: { x-frame-options: DENY } }
  - name: allow
    match: { path: /allow }
    service: svc
    ipAllow: [203.0.113.0/24, 2001:db8:1::/48]
    ipDeny: [203.0.113.128/25]
    responseHeaders: { set: { strict-transport-security: max-age=63072000 } }
  - name: deny
    match: { path: /deny }
    service: svc
    ipDeny: ["::ffff:198.51.100.0/120", 2001:db8::/32]
  - name: headers
    match: { path: /headers }
    service: svc
    requestHeaders: { set: { x-api-version: "2" }, remove: [cookie, x-user] }
    responseHeaders: { set: { strict-transport-security: max-age=63072000, cache-control: public }, remove: [server, x-powered-by] }
  - name: headers-dead
    match: { path: /dead }
    service: dead
    responseHeaders: { set: { strict-transport-security: max-age=63072000, cache-control: public, content-type: text/html } }
  - { name: prefixed, match: { path: /api }, service: svc, stripPrefix: true, addPrefix: /v2 }
  - { name: prefixed-kept, match: { path: /kept }, service: svc, addPrefix: /v2 }
`,
    });
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  describe('cors', () => {
    test('a preflight from an allowed origin is answered 204 at the edge with the Access-Control-Allow-* headers', async () => {
      up.seen.length = 0;
      // OPTIONS is not in match.methods and a preflight carries no x-api-version: the route still takes it, and it never reaches the upstream.
      const res = await request(`${gw.url}/web/orders`, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], APP);
      assert.equal(res.headers['access-control-allow-methods'], 'GET, POST');
      assert.equal(res.headers['access-control-allow-headers'], 'authorization, content-type');
      assert.equal(res.headers['access-control-allow-credentials'], 'true');
      assert.equal(res.headers['access-control-max-age'], '600');
      assert.equal(res.headers.vary, 'Origin');
      assert.match(String(res.headers['x-request-id']), /./);
      await res.body.dump();
      assert.equal(up.seen.length, 0);
    });

    test('a preflight from another origin gets 403 forbidden', async () => {
      up.seen.length = 0;
      const res = await request(`${gw.url}/web/orders`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(
        ((await res.body.json()) as { error: { code: string } }).error.code,
        'forbidden',
      );
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(up.seen.length, 0);
    });

    test("an actual request from an allowed origin gets the origin itself, Vary: Origin, expose and credentials headers, and the upstream's own CORS headers are replaced", async () => {
      const res = await request(`${gw.url}/web/orders`, {
        headers: { origin: APP, 'x-api-version': '2' },
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['access-control-allow-origin'], APP);
      assert.equal(res.headers['access-control-allow-credentials'], 'true');
      assert.equal(res.headers['access-control-expose-headers'], 'x-request-id');
      assert.equal(res.headers.vary, 'Origin');
      await res.body.dump();
    });

    test('an actual request from another origin is forwarded without CORS headers (the browser withholds the answer)', async () => {
      const res = await request(`${gw.url}/web/orders`, {
        headers: { origin: 'https://evil.example', 'x-api-version': '2' },
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(res.headers.vary, 'Origin');
      await res.body.dump();
    });

    test("edgeway's own refusal of an allowed origin's request carries the CORS headers, so the page can read it", async () => {
      await (await request(`${gw.url}/limited`, { headers: { origin: APP } })).body.dump();
      const res = await request(`${gw.url}/limited`, { headers: { origin: APP } });
      assert.equal(res.statusCode, 429);
      assert.equal(res.headers['access-control-allow-origin'], APP);
      assert.equal(res.headers.vary, 'Origin');
      await res.body.dump();
    });

    test('on a route that requires a token, the preflight (which never carries one) is answered before auth, and the 401 carries CORS headers', async () => {
      up.seen.length = 0;
      const preflight = await request(`${gw.url}/private`, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
      assert.equal(preflight.statusCode, 204);
      await preflight.body.dump();
      const res = await request(`${gw.url}/private`, { headers: { origin: APP } });
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['access-control-allow-origin'], APP);
      await res.body.dump();
      assert.equal(up.seen.length, 0);
    });

    test('a preflight from an address outside ipAllow is refused before CORS answers it', async () => {
      const res = await request(`${gw.url}/private`, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': 'GET',
          'x-forwarded-for': '198.51.100.7',
        },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      await res.body.dump();
    });

    test('origins "*" answers any origin with that origin, without credentials', async () => {
      const res = await request(`${gw.url}/open`, {
        method: 'OPTIONS',
        headers: { origin: 'http://127.0.0.1:1234', 'access-control-request-method': 'PUT' },
      });
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], 'http://127.0.0.1:1234');
      assert.equal(res.headers['access-control-allow-credentials'], undefined);
      assert.equal(
        res.headers['access-control-allow-methods'],
        'GET, HEAD, PUT, PATCH, POST, DELETE',
      );
      assert.equal(
        res.headers['x-frame-options'],
        'DENY',
        'responseHeaders reach the preflight answer too',
      );
    });

    test('an OPTIONS without Access-Control-Request-Method is no preflight: it is forwarded', async () => {
      up.seen.length = 0;
      const res = await request(`${gw.url}/open/x`, {
        method: 'OPTIONS',
        headers: { origin: APP },
      });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
      assert.equal(up.seen[0]?.method, 'OPTIONS');
    });
  });

  describe('ipAllow / ipDeny', () => {
    const cases: Array<[string, string, number]> = [
      ['/allow', '203.0.113.7', 200],
      ['/allow', '203.0.113.200', 403], // inside ipAllow but carved out by ipDeny
      ['/allow', '198.51.100.7', 403],
      ['/allow', '2001:db8:1::5', 200],
      ['/allow', '2001:db8:2::5', 403],
      ['/allow', '::ffff:203.0.113.9', 200], // IPv4-mapped client address against an IPv4 range
      ['/deny', '198.51.100.7', 403], // IPv4 client against an IPv4-mapped range
      ['/deny', '2001:db8:ffff::1', 403],
      ['/deny', '192.0.2.1', 200],
    ];
    for (const [path, client, status] of cases) {
      test(`${path} from ${client} (through a trusted proxy) is ${status}`, async () => {
        const res = await request(`${gw.url}${path}`, { headers: { 'x-forwarded-for': client } });
        assert.equal(res.statusCode, status);
        const body = await res.body.text();
        if (status === 403)
          assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'forbidden');
      });
    }

    test("a refusal carries the route's responseHeaders too", async () => {
      const res = await request(`${gw.url}/allow`, {
        headers: { 'x-forwarded-for': '198.51.100.7' },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.headers['strict-transport-security'], 'max-age=63072000');
      assert.equal(res.headers['content-type'], 'application/json');
      await res.body.dump();
    });

    test('the loopback peer itself is outside ipAllow when it sends no X-Forwarded-For', async () => {
      const res = await request(`${gw.url}/allow`);
      assert.equal(res.statusCode, 403);
      await res.body.dump();
    });
  });

  describe('header transforms', () => {
    test("requestHeaders sets and removes after edgeway's own rules, underscore spellings of removed names included", async () => {
      up.seen.length = 0;
      const res = await request(`${gw.url}/headers`, {
        headers: { 'x-api-version': '1', cookie: 'session=1', x_user: 'admin', 'x-kept': 'yes' },
      });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
      const seen = up.seen[0]?.headers ?? {};
      assert.equal(seen['x-api-version'], '2');
      assert.equal(seen.cookie, undefined);
      assert.equal(seen.x_user, undefined);
      assert.equal(seen['x-kept'], 'yes');
      assert.match(String(seen['x-forwarded-for']), /127\.0\.0\.1/);
    });

    test('responseHeaders sets and removes on the proxied response', async () => {
      const res = await request(`${gw.url}/headers`);
      assert.equal(res.headers['strict-transport-security'], 'max-age=63072000');
      assert.equal(res.headers['cache-control'], 'public');
      assert.equal(res.headers.server, undefined);
      assert.equal(res.headers['x-powered-by'], undefined);
      assert.match(String(res.headers['x-request-id']), /./);
      await res.body.dump();
    });

    test("responseHeaders reach edgeway's own errors, which keep their JSON content type and no-store", async () => {
      const res = await request(`${gw.url}/dead`);
      assert.equal(res.statusCode, 502);
      assert.equal(res.headers['strict-transport-security'], 'max-age=63072000');
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(
        ((await res.body.json()) as { error: { code: string } }).error.code,
        'bad_gateway',
      );
    });
  });

  test("GET /admin/routes shows each route's policies, header transforms by name only", async () => {
    const routes = (await (await request(`${gw.adminUrl}/admin/routes`)).body.json()) as Array<
      Record<string, unknown>
    >;
    const headers = routes.find((route) => route.name === 'headers');
    assert.deepEqual(headers?.requestHeaders, {
      set: ['x-api-version'],
      remove: ['cookie', 'x-user'],
    });
    assert.equal(JSON.stringify(headers).includes('max-age=63072000'), false);
    const allow = routes.find((route) => route.name === 'allow');
    assert.deepEqual(
      [allow?.ipAllow, allow?.ipDeny, allow?.cors],
      [['203.0.113.0/24', '2001:db8:1::/48'], ['203.0.113.128/25'], null],
    );
    assert.equal(routes.find((route) => route.name === 'prefixed')?.addPrefix, '/v2');
    assert.deepEqual(
      (routes.find((route) => route.name === 'web')?.cors as { origins: string[] }).origins,
      [APP],
    );
  });

  describe('addPrefix', () => {
    const cases: Array<[string, string]> = [
      ['/api/orders/7?x=1', '/v2/orders/7?x=1'],
      ['/api', '/v2'],
      ['/api/', '/v2/'],
      ['/kept/a', '/v2/kept/a'],
    ];
    for (const [sent, received] of cases) {
      test(`${sent} reaches the upstream as ${received}`, async () => {
        const res = await request(`${gw.url}${sent}`);
        assert.deepEqual(await res.body.json(), { url: received });
      });
    }
  });
});
