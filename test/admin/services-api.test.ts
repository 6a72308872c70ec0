/** Admin services API against real gateways on a real Redis: PUT registers and routes, DELETE and TTL remove, bad bodies 400. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway, discoveredOrdersYaml } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait-for.js';

const CONFIG = discoveredOrdersYaml({ stripPrefix: true });

async function status(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

function put(gw: TestGateway, service: string, id: string, body: unknown): Promise<Response> {
  return fetch(`${gw.adminUrl}/admin/services/${service}/instances/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('admin /admin/services', () => {
  let redis: TestRedis;
  let upstream: Upstream;
  let gw: TestGateway;
  let other: TestGateway;

  before(async () => {
    redis = await startRedis();
    upstream = await startUpstream();
    gw = await startGateway({ 'config.yaml': CONFIG }, { redisUrl: redis.url });
    other = await startGateway({ 'config.yaml': CONFIG }, { redisUrl: redis.url });
  });
  after(async () => {
    await other.stop();
    await gw.stop();
    await upstream.close();
    await redis.stop();
  });

  test('a PUT registers an instance that the gateway then routes to, and GET lists it with its live state', async () => {
    assert.equal(await status(`${gw.url}/orders/1`), 503);
    const response = await put(gw, 'orders', 'i1', {
      url: upstream.url,
      weight: 2,
      capacity: 50,
      meta: { zone: 'a' },
      ttl: '30s',
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      id: string;
      url: string;
      weight: number;
      ttlMs: number;
    };
    assert.deepEqual([body.id, body.url, body.weight, body.ttlMs], ['i1', upstream.url, 2, 30_000]);
    await waitFor(
      async () => (await status(`${gw.url}/orders/1`)) === 200,
      2000,
      'the gateway to route to i1',
    );
    assert.equal(upstream.seen.at(-1)?.url, '/1');

    const list = (await (await fetch(`${gw.adminUrl}/admin/services`)).json()) as {
      services: Array<{
        name: string;
        configured: boolean;
        discovery: string;
        instances: Array<Record<string, unknown>>;
      }>;
    };
    const orders = list.services.find((s) => s.name === 'orders');
    assert.ok(orders);
    assert.equal(orders.configured, true);
    assert.equal(orders.discovery, 'redis');
    const [instance] = orders.instances;
    assert.ok(instance);
    assert.deepEqual(
      {
        id: instance.id,
        url: instance.url,
        weight: instance.weight,
        capacity: instance.capacity,
        meta: instance.meta,
        healthy: instance.healthy,
        ejected: instance.ejected,
        draining: instance.draining,
        inFlight: instance.inFlight,
      },
      {
        id: 'i1',
        url: upstream.url,
        weight: 2,
        capacity: 50,
        meta: { zone: 'a' },
        healthy: true,
        ejected: false,
        draining: false,
        inFlight: 0,
      },
    );
    assert.equal(typeof instance.latencyMs, 'number');
    assert.ok((instance.expiresAt as number) > Date.now() + 20_000);
  });

  test('a registration on one gateway is pushed to a second gateway on the same Redis within 1 s', async () => {
    const response = await put(gw, 'orders', 'i1', { url: upstream.url });
    assert.equal(response.status, 200);
    await waitFor(
      async () => (await status(`${other.url}/orders/x`)) === 200,
      1000,
      'the second gateway to route',
    );
    assert.ok(
      (await fetch(`${other.adminUrl}/admin/services`).then((r) => r.text())).includes('"i1"'),
    );
  });

  test('a DELETE removes the instance (503 unavailable after) and a second DELETE is 404', async () => {
    assert.equal((await put(gw, 'orders', 'i1', { url: upstream.url })).status, 200);
    await waitFor(async () => (await status(`${gw.url}/orders/1`)) === 200, 2000, 'routing');
    const removed = await fetch(`${gw.adminUrl}/admin/services/orders/instances/i1`, {
      method: 'DELETE',
    });
    assert.equal(removed.status, 204);
    await waitFor(
      async () =>
        (await status(`${gw.url}/orders/1`)) === 503 &&
        (await status(`${other.url}/orders/1`)) === 503,
      1000,
      'both gateways to drop i1',
    );
    const answer = await fetch(`${gw.url}/orders/1`);
    assert.equal(answer.headers.get('content-type'), 'application/json');
    assert.equal(((await answer.json()) as { error: { code: string } }).error.code, 'unavailable');
    const again = await fetch(`${gw.adminUrl}/admin/services/orders/instances/i1`, {
      method: 'DELETE',
    });
    assert.equal(again.status, 404);
    assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'not_found');
  });

  test('an instance that is not re-PUT drops out after its TTL', async () => {
    assert.equal((await put(gw, 'orders', 'short', { url: upstream.url, ttl: '1s' })).status, 200);
    await waitFor(async () => (await status(`${gw.url}/orders/1`)) === 200, 2000, 'routing');
    const gone = await waitFor(
      async () => (await status(`${gw.url}/orders/1`)) === 503,
      5000,
      'the TTL to expire',
    );
    assert.ok(gone >= 500, `dropped after ${gone} ms, before its 1 s TTL could have passed`);
    const list = await fetch(`${gw.adminUrl}/admin/services`).then((r) => r.text());
    assert.ok(!list.includes('"short"'));
  });

  test('re-PUT heartbeats keep an instance past its TTL', async () => {
    for (let beat = 0; beat < 5; beat++) {
      assert.equal(
        (await put(gw, 'orders', 'beating', { url: upstream.url, ttl: '1s' })).status,
        200,
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await status(`${gw.url}/orders/1`), 200);
    }
    await fetch(`${gw.adminUrl}/admin/services/orders/instances/beating`, {
      method: 'DELETE',
    }).then((r) => r.body?.cancel());
  });

  const badBodies: Array<[string, string, unknown, RegExp?]> = [
    ['not JSON', 'i1', '{"url":'],
    ['an array', 'i1', '[]'],
    ['no url', 'i1', { weight: 1 }],
    ['a relative url', 'i1', { url: '/x' }],
    ['an ftp url', 'i1', { url: 'ftp://127.0.0.1/' }],
    ['a url with credentials', 'i1', { url: 'http://u:p@127.0.0.1/' }],
    ['weight 0', 'i1', { url: 'http://127.0.0.1:1', weight: 0 }],
    ['weight as a string', 'i1', { url: 'http://127.0.0.1:1', weight: '2' }],
    ['capacity 1.5', 'i1', { url: 'http://127.0.0.1:1', capacity: 1.5 }],
    ['meta with a number', 'i1', { url: 'http://127.0.0.1:1', meta: { a: 1 } }],
    ['ttl without a unit', 'i1', { url: 'http://127.0.0.1:1', ttl: '30' }],
    ['ttl as a number', 'i1', { url: 'http://127.0.0.1:1', ttl: 30 }],
    ['ttl 0ms', 'i1', { url: 'http://127.0.0.1:1', ttl: '0ms' }],
    [
      'weight 1e308',
      'i1',
      { url: 'http://127.0.0.1:1', weight: 1e308 },
      /^weight must be at most 10000$/,
    ],
    [
      'capacity 1e308',
      'i1',
      { url: 'http://127.0.0.1:1', capacity: 1e308 },
      /^capacity must be at most 1000000$/,
    ],
    [
      'ttl 100000h',
      'i1',
      { url: 'http://127.0.0.1:1', ttl: '100000h' },
      /^ttl must be at most 24h$/,
    ],
    ['an unknown field', 'i1', { url: 'http://127.0.0.1:1', colour: 'red' }],
    ['an id with a forbidden character', 'bad!id', { url: 'http://127.0.0.1:1' }],
  ];
  for (const [what, id, body, message] of badBodies) {
    test(`a PUT with ${what} is 400 bad_request and registers nothing`, async () => {
      const response = await put(gw, 'orders', id, body);
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('content-type'), 'application/json');
      const parsed = (await response.json()) as {
        error: { code: string; message: string; requestId: string };
      };
      assert.equal(parsed.error.code, 'bad_request');
      assert.ok(parsed.error.message.length > 0);
      if (message !== undefined) assert.match(parsed.error.message, message);
      assert.equal(typeof parsed.error.requestId, 'string');
    });
  }

  test('after the bad PUTs, no instance was registered by them', async () => {
    const list = (await (await fetch(`${gw.adminUrl}/admin/services`)).json()) as {
      services: Array<{ name: string; instances: unknown[] }>;
    };
    assert.deepEqual(list.services.find((s) => s.name === 'orders')?.instances, []);
  });

  test('with an admin token set, the services API refuses requests without it', async () => {
    const guarded = await startGateway(
      { 'config.yaml': CONFIG },
      { redisUrl: redis.url, adminToken: 'secret-token-123' },
    );
    try {
      assert.equal(await status(`${guarded.adminUrl}/admin/services`), 401);
      const ok = await fetch(`${guarded.adminUrl}/admin/services`, {
        headers: { authorization: 'Bearer secret-token-123' },
      });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
    } finally {
      await guarded.stop();
    }
  });
});
