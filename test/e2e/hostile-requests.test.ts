import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { connect } from 'node:net';
import { rawRequest, responseCount, statusOf } from '../helpers/raw-http.js';

/** Sends `head`, and `body` only once the server said 100 Continue; resolves with everything read until the server closes. */
function continued(port: number, head: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let reply = '';
    socket.on('data', (chunk: Buffer) => {
      const first = reply === '';
      reply += chunk.toString('latin1');
      if (first && reply.startsWith('HTTP/1.1 100 ')) socket.write(body);
    });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer: ${reply}`)));
  });
}

const SMUGGLED = 'GET /api/smuggled HTTP/1.1\r\nHost: a\r\n\r\n';

const attacks: Array<{ name: string; data: string; status: number }> = [
  {
    name: 'Content-Length with Transfer-Encoding (CL.TE)',
    data: `POST /api/a HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    status: 400,
  },
  {
    name: 'two different Content-Length headers',
    data: `POST /api/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 44\r\n\r\nhello${SMUGGLED}`,
    status: 400,
  },
  {
    name: 'two equal Content-Length headers',
    data: `POST /api/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    status: 400,
  },
  {
    name: 'obfuscated Transfer-Encoding',
    data: `POST /api/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    status: 400,
  },
  {
    name: 'Transfer-Encoding with another coding',
    data: `POST /api/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: 'header folding (obs-fold)',
    data: `GET /api/a HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n`,
    status: 400,
  },
  {
    name: 'oversized headers',
    data: `GET /api/a HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
  },
  {
    name: 'absolute-form target naming another host',
    data: `GET http://internal.admin:9901/admin/routes HTTP/1.1\r\nHost: a\r\n\r\n`,
    status: 400,
  },
  {
    name: 'CONNECT tunnel',
    data: `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`,
    status: 405,
  },
  {
    name: 'missing Host',
    data: `GET /api/a HTTP/1.1\r\n\r\n`,
    status: 400,
  },
  {
    name: 'two Host headers',
    data: `GET /api/a HTTP/1.1\r\nHost: a\r\nHost: evil.example\r\n\r\n`,
    status: 400,
  },
  {
    name: 'Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)',
    data: `POST /api/a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    status: 400,
  },
  {
    name: 'TRACE on a route that does not list it',
    data: `TRACE /api/a HTTP/1.1\r\nHost: a\r\nCookie: session=secret\r\n\r\n`,
    status: 405,
  },
  {
    name: 'broken percent-encoding in the path',
    data: `GET /api/%zz HTTP/1.1\r\nHost: a\r\n\r\n`,
    status: 400,
  },
];

describe('hostile requests', () => {
  let up: Upstream;
  let gw: TestGateway;

  before(async () => {
    up = await startUpstream();
    gw = await startGateway({
      'c.yaml':
        serviceYaml('svc', [up.url]) +
        `auth:
  issuers: [{ issuer: edgeway, audience: api }]
routes:
  - { name: api, match: { path: /api }, service: svc }
  - { name: public, match: { path: /public }, service: svc }
  - { name: private, match: { path: /private }, service: svc, auth: { required: true } }
  - { name: traced, match: { path: /traced, methods: [GET, TRACE] }, service: svc }
`,
    });
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  for (const attack of attacks) {
    test(`${attack.name} -> ${attack.status}, nothing smuggled upstream, others still served`, async () => {
      up.seen.length = 0;
      const reply = await rawRequest(gw.gateway.port, attack.data);
      assert.equal(statusOf(reply), attack.status, reply.slice(0, 200));
      assert.match(reply, /content-type: application\/json/i);
      assert.match(reply, /"error":\{"code":"/);
      const id = /x-request-id: ([^\r]+)\r\n/i.exec(reply)?.[1];
      assert.ok(id, 'every answer carries x-request-id');
      assert.ok(reply.includes(`"requestId":"${id}"`), 'the body names the same request id');
      assert.deepEqual(
        up.seen.map((s) => s.url).filter((u) => u.includes('smuggled')),
        [],
      );
      if (attack.status !== 431)
        assert.equal(up.seen.length, 0, 'the upstream saw nothing of a refused request');
      const normal = await request(`${gw.url}/api/ok`);
      assert.equal(normal.statusCode, 200);
      await normal.body.dump();
    });
  }

  test('path tricks never select a route the normalised path would not', async () => {
    for (const path of [
      '/public/../api/x',
      '/public/%2e%2e/api/x',
      '//api/x',
      '/public/.%2e/api/x',
    ]) {
      up.seen.length = 0;
      const res = await request(`${gw.url}${path}`);
      await res.body.dump();
      assert.equal(res.statusCode, 200, path);
      assert.equal(up.seen[0]?.url, '/api/x', path);
    }
    const encodedSlash = await request(`${gw.url}/public%2F..%2Fapi/x`);
    assert.equal(encodedSlash.statusCode, 404, 'an encoded slash is no segment boundary');
    await encodedSlash.body.dump();
  });

  test('refused framing closes the connection: what follows on it is never read as a request', async () => {
    const reply = await rawRequest(
      gw.gateway.port,
      `POST /api/a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
      2000,
    );
    assert.equal(responseCount(reply), 1, reply);
    assert.match(reply, /\r\nconnection: close\r\n/i);
  });

  test('TRACE is refused with 405 and Allow unless the route lists it in match.methods', async () => {
    const refused = await rawRequest(
      gw.gateway.port,
      'TRACE /api/a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    assert.equal(statusOf(refused), 405);
    assert.match(refused, /"code":"method_not_allowed"/);
    assert.match(refused, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/i);
    assert.equal(
      statusOf(
        await rawRequest(
          gw.gateway.port,
          'TRACE /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
        ),
      ),
      405,
    );
    up.seen.length = 0;
    const allowed = await rawRequest(
      gw.gateway.port,
      'TRACE /traced/a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    assert.equal(statusOf(allowed), 200);
    assert.equal(up.seen[0]?.method, 'TRACE');
  });

  test('Expect: 100-continue is answered only after the stages passed', async () => {
    const head = (path: string, length: number): string =>
      `POST ${path} HTTP/1.1\r\nHost: a\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    // The client waits for 100 before sending the body; refused requests get their final answer instead.
    for (const [path, length, status] of [
      ['/private/a', 5, 401],
      ['/api/a', 2 ** 30, 413],
    ] as const) {
      const reply = await rawRequest(gw.gateway.port, head(path, length));
      assert.equal(statusOf(reply), status, reply.slice(0, 200));
    }
    up.seen.length = 0;
    const passed = await continued(gw.gateway.port, head('/api/a', 5), 'hello');
    assert.match(passed, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.equal(up.seen[0]?.body.toString(), 'hello');
  });

  test('a refused request with a small declared body keeps its connection: the body is read and dropped', async () => {
    const reply = await rawRequest(
      gw.gateway.port,
      'POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    assert.equal(responseCount(reply), 2, reply);
  });

  test('a body over maxBodyBytes gets 413 and a closed connection, not a read of the whole body', async () => {
    const started = Date.now();
    const reply = await rawRequest(
      gw.gateway.port,
      `POST /api/a HTTP/1.1\r\nHost: a\r\nContent-Length: ${2 ** 30}\r\n\r\n${'x'.repeat(64 * 1024)}`,
      5000,
    );
    assert.equal(statusOf(reply), 413);
    assert.match(reply, /\r\nconnection: close\r\n/i);
    assert.ok(
      Date.now() - started < 4000,
      'the gateway closed the connection instead of waiting for the rest of the body',
    );
  });

  test('an absolute-form target that agrees with Host is routed by its path only', async () => {
    up.seen.length = 0;
    const reply = await rawRequest(
      gw.gateway.port,
      'GET http://a/api/abs?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    assert.equal(statusOf(reply), 200);
    assert.equal(up.seen[0]?.url, '/api/abs?q=1');
  });
});

describe('request bodies that break off', () => {
  let up: Upstream;
  let gw: TestGateway;

  before(async () => {
    up = await startUpstream();
    gw = await startGateway({
      'c.yaml':
        serviceYaml(
          'svc',
          [up.url],
          '    circuitBreaker: { maxConnections: 2, maxPendingRequests: 1 }\n',
        ) + 'routes:\n  - { name: api, match: { path: /api }, service: svc }\n',
    });
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  const inFlight = (): number =>
    gw.gateway
      .current()
      .services.get('svc')
      ?.endpoints()
      .reduce((n, e) => n + e.inFlight, 0) ?? -1;

  for (const [name, data] of [
    [
      'a broken chunk',
      'POST /api/up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    ],
    [
      'a client that vanishes mid-body',
      'POST /api/up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    ],
  ] as const) {
    test(`${name} frees its upstream attempt, so the circuit breaker never fills up`, async () => {
      for (let i = 0; i < 4; i++) await rawRequest(gw.gateway.port, data, 100);
      const deadline = Date.now() + 2000;
      while (inFlight() !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(inFlight(), 0);
      const res = await request(`${gw.url}/api/ok`);
      assert.equal(res.statusCode, 200);
      await res.body.dump();
    });
  }
});
