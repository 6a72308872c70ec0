/** One renderer for every error answer: on the public, admin and redirect listeners `requestId` equals `x-request-id`. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createRedirectServer } from '../../src/server/tls-redirect.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { errorOf, exchange, uploadUntilCut, type Exchange } from '../helpers/http-exchange.js';
import { rawRequest } from '../helpers/raw-http.js';

function assertSpecError(answer: Exchange, status: number, code: string): void {
  assert.equal(answer.status, status, answer.body);
  assert.equal(answer.headers['content-type'], 'application/json');
  const error = errorOf(answer);
  assert.equal(error.code, code);
  assert.ok(error.message.length > 0);
  assert.equal(typeof answer.headers['x-request-id'], 'string');
  assert.equal(error.requestId, answer.headers['x-request-id']);
}

describe("error answers carry the response's request id", () => {
  let gw: TestGateway;
  let guarded: TestGateway;

  before(async () => {
    gw = await startGateway({ 'c.yaml': 'routes: []\n' });
    guarded = await startGateway({ 'c.yaml': 'routes: []\n' }, { adminToken: 'admin-secret-1' });
  });
  after(async () => {
    await guarded.stop();
    await gw.stop();
  });

  test('DELETE /oauth/token is 405 method_not_allowed with Allow: POST', async () => {
    const answer = await exchange(gw.gateway.port, 'DELETE', '/oauth/token');
    assertSpecError(answer, 405, 'method_not_allowed');
    assert.equal(answer.headers.allow, 'POST');
  });

  test('PUT /.well-known/jwks.json is 405 method_not_allowed with Allow: GET, HEAD', async () => {
    const answer = await exchange(gw.gateway.port, 'PUT', '/.well-known/jwks.json');
    assertSpecError(answer, 405, 'method_not_allowed');
    assert.equal(answer.headers.allow, 'GET, HEAD');
  });

  test('a sane client-sent x-request-id is echoed in the header and the body', async () => {
    const answer = await exchange(gw.gateway.port, 'DELETE', '/oauth/token', {
      'x-request-id': 'client-id-42',
    });
    assertSpecError(answer, 405, 'method_not_allowed');
    assert.equal(errorOf(answer).requestId, 'client-id-42');
    const admin = await exchange(gw.gateway.adminPort, 'GET', '/nowhere', {
      'x-request-id': 'client-id-43',
    });
    assertSpecError(admin, 404, 'not_found');
    assert.equal(errorOf(admin).requestId, 'client-id-43');
  });

  test("the proxy's own errors (no route) repeat the id", async () => {
    assertSpecError(await exchange(gw.gateway.port, 'GET', '/no/route'), 404, 'not_found');
  });

  test('a request the parser refuses gets the same shape on the raw socket', async () => {
    const reply = await rawRequest(
      gw.gateway.port,
      'GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n',
    );
    const [head = '', body = ''] = reply.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 Bad Request/);
    const id = /\r\nx-request-id: ([^\r]+)/.exec(head)?.[1];
    assert.ok(id);
    assert.equal((JSON.parse(body) as { error: { requestId: string } }).error.requestId, id);
  });

  for (const [what, request, status, code] of [
    [
      'a malformed request',
      'GET /healthz HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n',
      400,
      'bad_request',
    ],
    [
      'oversized headers',
      `GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
      431,
      'headers_too_large',
    ],
  ] as const) {
    test(`admin: ${what} the parser refuses gets the SPEC shape on the raw socket`, async () => {
      const reply = await rawRequest(gw.gateway.adminPort, request);
      const [head = '', body = ''] = reply.split('\r\n\r\n');
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `));
      const id = /\r\nx-request-id: ([^\r]+)/i.exec(head)?.[1];
      assert.ok(id, head);
      const error = (JSON.parse(body) as { error: { code: string; requestId: string } }).error;
      assert.equal(error.code, code);
      assert.equal(error.requestId, id);
    });
  }

  const admin: Array<[string, () => Promise<Exchange>, number, string]> = [
    [
      'an unknown admin path',
      () => exchange(gw.gateway.adminPort, 'GET', '/admin/nothing-here'),
      404,
      'not_found',
    ],
    [
      'a token request without sub',
      () =>
        exchange(
          gw.gateway.adminPort,
          'POST',
          '/admin/tokens',
          { 'content-type': 'application/json' },
          '{"scopes":[]}',
        ),
      400,
      'bad_request',
    ],
    [
      'a registration with an unknown field',
      () =>
        exchange(
          gw.gateway.adminPort,
          'PUT',
          '/admin/services/s/instances/i',
          { 'content-type': 'application/json' },
          '{"url":"http://127.0.0.1:1","colour":"red"}',
        ),
      400,
      'bad_request',
    ],
    [
      'a deregistration of nothing',
      () => exchange(gw.gateway.adminPort, 'DELETE', '/admin/services/s/instances/none'),
      404,
      'not_found',
    ],
    [
      'a foreign Host',
      () => exchange(gw.gateway.adminPort, 'GET', '/admin/routes', { host: 'attacker.example' }),
      403,
      'forbidden',
    ],
    [
      'a missing bearer token',
      () => exchange(guarded.gateway.adminPort, 'GET', '/admin/routes'),
      401,
      'unauthorized',
    ],
  ];
  for (const [what, send, status, code] of admin) {
    test(`admin: ${what} is ${status} ${code} with requestId = x-request-id`, async () => {
      assertSpecError(await send(), status, code);
    });
  }

  test('admin: a rejected reload is 400 bad_request in the SPEC shape and still lists the check errors', async () => {
    gw.write('c.yaml', 'routes:\n  - { name: a, service: nope }\n');
    try {
      const answer = await exchange(gw.gateway.adminPort, 'POST', '/admin/reload');
      assertSpecError(answer, 400, 'bad_request');
      const body = JSON.parse(answer.body) as { status: string; errors: string[] };
      assert.equal(body.status, 'rejected');
      assert.match(body.errors[0] ?? '', /routes\[0\]\.service: unknown service "nope"$/);
    } finally {
      gw.write('c.yaml', 'routes: []\n');
    }
  });

  test('admin: the 401 keeps its WWW-Authenticate challenge', async () => {
    const answer = await exchange(guarded.gateway.adminPort, 'GET', '/admin/routes');
    assert.equal(answer.headers['www-authenticate'], 'Bearer realm="edgeway-admin"');
  });

  test('an oversized chunked token request is refused after 16 KiB and the connection closes', async () => {
    const head =
      'POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n';
    const payload = Buffer.alloc(16 * 1024, 0x61);
    const chunk = Buffer.concat([
      Buffer.from(`${payload.length.toString(16)}\r\n`),
      payload,
      Buffer.from('\r\n'),
    ]);
    const cut = await uploadUntilCut(gw.gateway.port, head, chunk, 64 * 1024 * 1024);
    assert.match(cut.reply, /^HTTP\/1\.1 413 /);
    assert.ok(cut.sent < 64 * 1024 * 1024, 'the server closed before the whole body was sent');
  });
});

describe('the https redirect listener', () => {
  test('a request it cannot redirect is 400 bad_request with requestId = x-request-id', async () => {
    const server = createRedirectServer(() => 8443);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const reply = await rawRequest(
        (server.address() as AddressInfo).port,
        'GET / HTTP/1.0\r\n\r\n',
      );
      const [head = '', body = ''] = reply.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 400 /);
      const id = /\r\nx-request-id: ([^\r]+)/.exec(head)?.[1];
      assert.ok(id);
      assert.deepEqual(JSON.parse(body), {
        error: {
          code: 'bad_request',
          message: 'a Host header and an origin-form target are needed to redirect to https',
          requestId: id,
        },
      });
    } finally {
      server.close();
    }
  });
});
