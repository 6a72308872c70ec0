/** The views plugin hooks get: what they read, what their edits do to the upstream request, and every header they may not touch. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { GatewayError } from '../../src/errors.js';
import type { RequestContext } from '../../src/request/context.js';
import { RequestView, ResponseView } from '../../src/plugins/views.js';

/** A request context as the pipeline builds it, over a real (unconnected) IncomingMessage. */
function context(headers: Record<string, string>): RequestContext {
  const req = new IncomingMessage(new Socket());
  req.method = 'POST';
  req.headers = headers;
  return {
    req,
    path: '/orders/7',
    query: '?a=1&b=2',
    clientIp: '203.0.113.9',
    principal: { sub: 'alice', scopes: ['orders:read'], claims: {} },
    upstreamHeaders: [['x-edgeway-sub', 'alice']],
    responseHeaders: [],
  } as unknown as RequestContext;
}

test('a request view reads the request as the upstream will receive it', () => {
  const ctx = context({
    'x-tenant': 'acme',
    'x-edgeway-sub': 'forged',
    'x-edgeway-tenant': 'forged',
    accept: 'a, b',
  });
  const req = new RequestView(ctx);
  assert.deepEqual(
    [req.method, req.path, req.query, req.clientIp, req.principal?.sub],
    ['POST', '/orders/7', 'a=1&b=2', '203.0.113.9', 'alice'],
  );
  assert.equal(req.headers.get('X-Tenant'), 'acme');
  assert.equal(
    req.headers.get('x-edgeway-sub'),
    'alice',
    "edgeway's identity, never the client's copy",
  );
  assert.equal(
    req.headers.get('x-edgeway-tenant'),
    undefined,
    'a client copy of an edgeway header reads as absent',
  );
  assert.equal(req.headers.get('missing'), undefined);
});

test("set replaces the client's header and earlier edits; delete drops both", () => {
  const ctx = context({ 'x-tenant': 'acme', cookie: 'sid=1' });
  const first = new RequestView(ctx);
  first.headers.set('X-Tenant', 'globex');
  const second = new RequestView(ctx);
  assert.equal(second.headers.get('x-tenant'), 'globex', 'the next plugin sees the edit');
  second.headers.set('x-tenant', 'initech');
  second.headers.delete('cookie');
  assert.deepEqual(ctx.upstreamHeaders, [
    ['x-edgeway-sub', 'alice'],
    ['x-tenant', 'initech'],
  ]);
  assert.deepEqual([...(ctx.droppedHeaders ?? [])].sort(), ['cookie', 'x-tenant']);
  assert.equal(second.headers.get('cookie'), undefined);
});

const refusedOnRequests = [
  'x-edgeway-sub',
  'X-Edgeway-Anything',
  'content-length',
  'transfer-encoding',
  'connection',
  'host',
  'x-request-id',
  'x-forwarded-for',
  'traceparent',
  'upgrade',
  'bad name',
];
for (const name of refusedOnRequests) {
  test(`a plugin cannot set or delete ${name} on a request`, () => {
    const req = new RequestView(context({}));
    assert.throws(() => req.headers.set(name, 'v'), TypeError);
    assert.throws(() => req.headers.delete(name), TypeError);
  });
}

test('header values with CR, LF or NUL are refused', () => {
  const req = new RequestView(context({}));
  for (const value of ['a\r\nx-injected: 1', 'a\nb', 'a\u0000b'])
    assert.throws(() => req.headers.set('x-ok', value), TypeError);
});

test('reject records a GatewayError with the status and code given, and throws it', () => {
  const req = new RequestView(context({}));
  assert.throws(
    () => req.reject(402, 'forbidden', 'pay first'),
    (err: unknown) => err instanceof GatewayError && err.status === 402 && err.code === 'forbidden',
  );
  assert.equal(req.rejection?.status, 402);
  for (const [status, code] of [
    [200, 'forbidden'],
    [403.5, 'forbidden'],
    [600, 'forbidden'],
    [403, 'tenant_unknown'],
  ] as const) {
    assert.throws(() => new RequestView(context({})).reject(status, code as never, 'x'), TypeError);
  }
});

test("a response view edits the upstream's headers but not framing or content-encoding", () => {
  const headers: Record<string, string> = {
    'content-type': 'text/plain',
    server: 'nginx',
    'content-length': '2',
  };
  const res = new ResponseView(201, headers);
  assert.equal(res.status, 201);
  res.headers.set('x-added', '1');
  res.headers.delete('server');
  assert.deepEqual(headers, {
    'content-type': 'text/plain',
    'content-length': '2',
    'x-added': '1',
  });
  for (const name of [
    'content-length',
    'transfer-encoding',
    'content-encoding',
    'connection',
    'x-request-id',
  ]) {
    assert.throws(() => res.headers.set(name, '1'), TypeError);
    assert.throws(() => res.headers.delete(name), TypeError);
  }
});
