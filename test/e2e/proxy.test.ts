import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/redis-server.js';
import { rawRequest, statusOf } from '../helpers/raw-http.js';

describe('proxying through the gateway', () => {
  let up: Upstream;
  let slow: Upstream;
  let gw: TestGateway;
  let closedPort: number;

  before(async () => {
    up = await startUpstream((req, res, body) => {
      res.setHeader('connection', 'x-hop');
      res.setHeader('x-hop', 'secret');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('x-upstream', 'yes');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, bytes: body.length }));
    });
    slow = await startUpstream((_req, res) => setTimeout(() => res.end('late'), 1500));
    closedPort = await freePort();
    gw = await startGateway({
      'services.yaml':
        serviceYaml('svc', [up.url]) +
        serviceYaml('slow', [slow.url]).replace('services:\n', '') +
        serviceYaml('dead', [`http://127.0.0.1:${closedPort}`]).replace('services:\n', ''),
      'routes.yaml': `
gateway: { maxBodyBytes: 1000 }
routes:
  - { name: api, match: { path: /api }, service: svc, stripPrefix: true }
  - { name: keep, match: { path: /keep }, service: svc }
  - { name: slow, match: { path: /slow }, service: slow, timeouts: { request: 300ms } }
  - { name: dead, match: { path: /dead }, service: dead }
`,
    });
  });
  after(async () => {
    await gw.stop();
    await up.close();
    await slow.close();
  });

  test('forwards the normalised path less the prefix, and the query byte for byte', async () => {
    const res = await request(`${gw.url}/api/x/../orders/%7e7?b=%2F&a=1+2&a=3`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await res.body.json(), { url: '/orders/~7?b=%2F&a=1+2&a=3', bytes: 0 });
    const kept = await request(`${gw.url}/keep/a`);
    assert.deepEqual(await kept.body.json(), { url: '/keep/a', bytes: 0 });
  });

  test('strips hop-by-hop and Connection-named headers both ways and spoofed x-edgeway-* headers', async () => {
    up.seen.length = 0;
    // Raw bytes: HTTP clients refuse to send a custom Connection header themselves.
    const reply = await rawRequest(
      gw.gateway.port,
      'GET /api/h HTTP/1.1\r\nHost: a\r\nConnection: close, x-drop-me\r\nx-drop-me: 1\r\nTE: trailers\r\nx-edgeway-sub: admin\r\nX-Edgeway-Scopes: all\r\nx-keep: yes\r\n\r\n',
    );
    assert.equal(statusOf(reply), 200);
    const seen = up.seen[0]?.headers ?? {};
    assert.equal(seen['x-drop-me'], undefined);
    assert.equal(seen.te, undefined);
    assert.equal(seen['x-edgeway-sub'], undefined);
    assert.equal(seen['x-edgeway-scopes'], undefined);
    assert.equal(seen['x-keep'], 'yes');
    const res = await request(`${gw.url}/api/h`);
    await res.body.dump();
    assert.equal(res.headers['x-hop'], undefined);
    assert.notEqual(
      res.headers['keep-alive'],
      'timeout=5',
      "the upstream's Keep-Alive stays with its hop",
    );
    assert.equal(res.headers['x-upstream'], 'yes');
  });

  test('sets x-forwarded-* and keeps a sane client request id, replacing an insane one', async () => {
    up.seen.length = 0;
    const res = await request(`${gw.url}/api/f`, {
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-request-id': 'abc-123', host: 'api.example.com' },
    });
    await res.body.dump();
    const seen = up.seen[0]?.headers ?? {};
    assert.equal(
      seen['x-forwarded-for'],
      '127.0.0.1',
      'an untrusted client cannot inject X-Forwarded-For',
    );
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'api.example.com');
    assert.equal(seen['x-request-id'], 'abc-123');
    assert.equal(res.headers['x-request-id'], 'abc-123');
    const bad = await request(`${gw.url}/api/f`, { headers: { 'x-request-id': 'x'.repeat(300) } });
    await bad.body.dump();
    assert.notEqual(bad.headers['x-request-id'], 'x'.repeat(300));
    assert.match(String(bad.headers['x-request-id']), /^[A-Za-z0-9._:-]+$/);
  });

  test('streams a request body and refuses bodies over maxBodyBytes, declared or chunked', async () => {
    const ok = await request(`${gw.url}/api/b`, { method: 'POST', body: 'x'.repeat(900) });
    assert.deepEqual(await ok.body.json(), { url: '/b', bytes: 900 });
    const declared = await request(`${gw.url}/api/b`, { method: 'POST', body: 'x'.repeat(1001) });
    assert.equal(declared.statusCode, 413);
    assert.equal(
      ((await declared.body.json()) as { error: { code: string } }).error.code,
      'payload_too_large',
    );
    async function* chunks() {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(400, 120);
    }
    up.seen.length = 0;
    const chunked = await request(`${gw.url}/api/b`, {
      method: 'POST',
      body: Readable.from(chunks()),
    });
    assert.equal(chunked.statusCode, 413);
    await chunked.body.dump();
  });

  test('answers 404 not_found, 502 bad_gateway and 504 gateway_timeout in the SPEC JSON shape', async () => {
    for (const [path, status, code] of [
      ['/nothing', 404, 'not_found'],
      ['/dead', 502, 'bad_gateway'],
      ['/slow', 504, 'gateway_timeout'],
    ] as const) {
      const res = await request(`${gw.url}${path}`);
      assert.equal(res.statusCode, status, path);
      assert.equal(res.headers['content-type'], 'application/json');
      const body = (await res.body.json()) as {
        error: { code: string; message: string; requestId: string };
      };
      assert.equal(body.error.code, code);
      assert.equal(body.error.requestId, res.headers['x-request-id']);
      assert.ok(body.error.message.length > 0);
    }
  });

  test('behind a trusted proxy, its X-Forwarded-For chain, proto and host are believed', async () => {
    const g = await startGateway({
      'c.yaml':
        serviceYaml('svc', [up.url]) +
        'gateway: { trustedProxies: [127.0.0.1/32] }\nroutes:\n  - { name: all, match: { path: / }, service: svc }\n',
    });
    try {
      up.seen.length = 0;
      const res = await request(`${g.url}/t`, {
        headers: {
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'api.example.com',
        },
      });
      await res.body.dump();
      const seen = up.seen[0]?.headers ?? {};
      assert.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
      assert.equal(seen['x-forwarded-proto'], 'https');
      assert.equal(seen['x-forwarded-host'], 'api.example.com');
    } finally {
      await g.stop();
    }
  });

  test('a POST is not retried unless its route opts in; a GET is', async () => {
    const bad = await startUpstream((_req, res) => res.writeHead(503).end('busy'));
    // One instance per service, so every retry goes back to it and the upstream counts attempts exactly.
    const svc = (name: string) =>
      serviceYaml(name, [bad.url], '    retries: { attempts: 1, backoff: 1ms }\n').replace(
        'services:\n',
        '',
      );
    const g = await startGateway({
      'c.yaml': `services:\n${svc('a')}${svc('b')}${svc('c')}routes:
  - { name: a, match: { path: /a }, service: a }
  - { name: b, match: { path: /b }, service: b, retryNonIdempotent: true }
  - { name: c, match: { path: /c }, service: c }
`,
    });
    try {
      const attempts = async (path: string, method: 'GET' | 'POST') => {
        const before = bad.seen.length;
        const res = await request(`${g.url}${path}`, { method });
        await res.body.dump();
        assert.equal(res.statusCode, 503);
        return bad.seen.length - before;
      };
      assert.equal(await attempts('/a', 'POST'), 1, 'a POST is sent once');
      assert.equal(await attempts('/b', 'POST'), 2, 'a route that opted in retries it');
      assert.equal(await attempts('/c', 'GET'), 2, 'a GET is retried');
    } finally {
      await g.stop();
      await bad.close();
    }
  });

  test('a retryable 503 with a repeated Retry-After is retried after the first one and answered', async () => {
    const bad = await startUpstream((_req, res) => {
      res.setHeader('retry-after', ['0', '3600']);
      res.writeHead(503).end('busy');
    });
    const g = await startGateway({
      'c.yaml':
        serviceYaml('r', [bad.url], '    retries: { attempts: 1, backoff: 1ms }\n') +
        'routes:\n  - { name: r, match: { path: / }, service: r }\n',
    });
    try {
      const res = await request(`${g.url}/x`, { headersTimeout: 5000 });
      assert.equal(await res.body.text(), 'busy');
      assert.equal(res.statusCode, 503);
      assert.equal(bad.seen.length, 2, 'retried once: the first Retry-After (0) counts');
      const line = g.accessLines.map((l) => JSON.parse(l) as { status: number }).at(-1);
      assert.equal(line?.status, 503);
    } finally {
      await g.stop();
      await bad.close();
    }
  });

  test('an upstream that sends garbage is a 502', async () => {
    const junk = createServer((socket) => socket.end('NOT HTTP AT ALL\r\n\r\n'));
    junk.listen(0, '127.0.0.1');
    await once(junk, 'listening');
    const port = (junk.address() as { port: number }).port;
    const g = await startGateway({
      'c.yaml':
        serviceYaml('j', [`http://127.0.0.1:${port}`]) +
        'routes:\n  - { name: j, match: { path: / }, service: j }\n',
    });
    const res = await request(`${g.url}/x`);
    assert.equal(res.statusCode, 502);
    await res.body.dump();
    await g.stop();
    junk.close();
  });
});
