/** Pools of instances that leave close (in-flight requests finish) and drop out; re-registered ones get fresh pools. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { UpstreamPools } from '../../src/proxy/upstream-client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream, type UpstreamHandler } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait-for.js';

const CONFIG = `services:
  orders:
    discovery: redis
    loadBalancer: { policy: round-robin }
  fixed:
    instances: [FIXED]
    loadBalancer: { policy: round-robin }
routes:
  - { name: orders, match: { path: /orders }, service: orders, stripPrefix: true }
  - { name: fixed, match: { path: /fixed }, service: fixed, stripPrefix: true }
`;

/** An upstream that keeps idle keep-alive connections (so only the gateway closes them) and counts them. */
async function countedUpstream(
  handler?: UpstreamHandler,
): Promise<Upstream & { open: Set<Socket> }> {
  const upstream = await startUpstream(handler);
  upstream.server.keepAliveTimeout = 120_000;
  const open = new Set<Socket>();
  upstream.server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  return Object.assign(upstream, { open });
}

async function pools(gw: TestGateway): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('edgeway_upstream_pools '));
  assert.ok(line, 'edgeway_upstream_pools is exported');
  return Number(line.split(' ')[1]);
}

async function register(gw: TestGateway, id: string, url: string, ttl = '60s'): Promise<void> {
  const response = await fetch(`${gw.adminUrl}/admin/services/orders/instances/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url, ttl }),
  });
  assert.equal(response.status, 200);
}

async function deregister(gw: TestGateway, id: string): Promise<void> {
  const response = await fetch(`${gw.adminUrl}/admin/services/orders/instances/${id}`, {
    method: 'DELETE',
  });
  await response.body?.cancel();
  assert.equal(response.status, 204);
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

describe('upstream pool eviction', () => {
  let redis: TestRedis;
  let base: Upstream & { open: Set<Socket> };
  let fixed: Upstream & { open: Set<Socket> };
  let gw: TestGateway;

  before(async () => {
    redis = await startRedis();
    base = await countedUpstream();
    fixed = await countedUpstream();
    gw = await startGateway(
      { 'config.yaml': CONFIG.replace('FIXED', fixed.url) },
      { redisUrl: redis.url },
    );
    await register(gw, 'base', base.url);
    await waitFor(
      async () => (await get(`${gw.url}/orders/x`)).status === 200,
      5000,
      'base to serve',
    );
  });
  after(async () => {
    await gw.stop();
    await Promise.all([base.close(), fixed.close()]);
    await redis.stop();
  });

  test('instances registered and deregistered in a loop leave no pools or sockets behind', async () => {
    const rounds = 8;
    const departed: Array<Upstream & { open: Set<Socket> }> = [];
    let most = 0;
    try {
      for (let round = 0; round < rounds; round++) {
        const upstream = await countedUpstream();
        departed.push(upstream);
        await register(gw, `t${round}`, upstream.url);
        // Round-robin over base and the newcomer: keep sending until the newcomer served a few.
        await waitFor(
          async () => {
            assert.equal((await get(`${gw.url}/orders/r${round}`)).status, 200);
            return upstream.seen.length >= 3;
          },
          5000,
          `t${round} to serve`,
        );
        assert.ok(upstream.open.size > 0, 'the gateway holds a keep-alive connection to it');
        most = Math.max(most, await pools(gw));
        await deregister(gw, `t${round}`);
        await waitFor(
          () => upstream.open.size === 0,
          3000,
          `t${round}'s keep-alive connections to close`,
        );
        // Only base's pool is left (the static service has not been called yet).
        await waitFor(async () => (await pools(gw)) === 1, 3000, 'the pool count to drop back');
      }
      assert.equal(most, 2, 'base and the newcomer had pools, nothing more');
      assert.ok(base.open.size > 0, 'the instance that stayed keeps its warm connection');
    } finally {
      await Promise.all(departed.map((upstream) => upstream.close()));
    }
  });

  test('a request in flight to an instance that leaves completes; re-registering it serves again', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = await countedUpstream((req, res) => {
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`slow ${req.url}`);
      };
      if (req.url === '/hold') void held.then(answer);
      else answer();
    });
    try {
      await deregister(gw, 'base');
      await register(gw, 'slow', slow.url);
      await waitFor(
        async () => (await get(`${gw.url}/orders/ready`)).body === 'slow /ready',
        5000,
        'slow to be the only instance',
      );
      const inFlight = get(`${gw.url}/orders/hold`);
      await waitFor(() => slow.seen.some((r) => r.url === '/hold'), 3000, 'the held request');
      await deregister(gw, 'slow');
      await waitFor(async () => (await get(`${gw.url}/orders/x`)).status === 503, 3000, '503');
      assert.equal(slow.open.size, 1, 'the connection carrying the held request stays open');
      release();
      assert.deepEqual(await inFlight, { status: 200, body: 'slow /hold' });
      await waitFor(() => slow.open.size === 0, 3000, 'the closed pool to drop its connection');

      await register(gw, 'slow', slow.url);
      await waitFor(
        async () => (await get(`${gw.url}/orders/again`)).body === 'slow /again',
        5000,
        'the re-registered instance to serve through a fresh pool',
      );
      assert.equal(slow.open.size, 1);
    } finally {
      release();
      await slow.close();
    }
  });

  test('an instance whose ttl expires without renewal has its pool closed', async () => {
    const upstream = await countedUpstream();
    try {
      await register(gw, 'brief', upstream.url, '1s');
      await waitFor(
        async () => {
          assert.equal((await get(`${gw.url}/orders/brief`)).status, 200);
          return upstream.seen.length > 0;
        },
        5000,
        'brief to serve',
      );
      assert.equal(upstream.open.size, 1);
      await waitFor(() => upstream.open.size === 0, 5000, "the expired instance's pool to close");
    } finally {
      await upstream.close();
    }
  });

  test('a reload dropping a static instance closes its pool', async () => {
    const next = await countedUpstream();
    try {
      assert.equal((await get(`${gw.url}/fixed/a`)).status, 200);
      assert.ok(fixed.open.size > 0);
      gw.write('config.yaml', CONFIG.replace('FIXED', next.url));
      const reload = await fetch(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
      await reload.body?.cancel();
      assert.equal(reload.status, 200);
      assert.equal((await get(`${gw.url}/fixed/b`)).status, 200);
      assert.equal(next.seen.at(-1)?.url, '/b');
      await waitFor(
        () => fixed.open.size === 0,
        3000,
        "the dropped instance's connections to close",
      );
    } finally {
      await next.close();
    }
  });
});

/*
 * Through a whole gateway, stopping closes the client's connection, and the proxy then aborts the upstream
 * request itself (client gone): that cuts the connection with or without the pool being reached. So this
 * drives the pools directly, where only the closing set lets close(true) reach a pool already evicted.
 */
test('a cut-off close also aborts requests in flight on pools evicted before it (a departed instance)', async () => {
  const upstream = await countedUpstream(() => undefined);
  const pools = new UpstreamPools();
  try {
    const user = pools.forSettings({ connectTimeoutMs: 2000, maxConnections: 4 });
    user.use([upstream.url]);
    const held = user
      .dispatcher(upstream.url)
      .request({ path: '/hold', method: 'GET' })
      .then(
        () => 'answered',
        (err: unknown) => err,
      );
    await waitFor(() => upstream.seen.length === 1, 3000, 'the request to reach the upstream');
    user.release();
    assert.equal(pools.size, 0, 'the departed origin no longer counts as open');
    assert.equal(upstream.open.size, 1, 'an evicted pool waits for its request, which never ends');
    await pools.close(true);
    await waitFor(() => upstream.open.size === 0, 2000, 'the held connection to be cut');
    assert.ok((await held) instanceof Error, 'the held request fails');
  } finally {
    await pools.close(true);
    await upstream.close();
  }
});

test("a retired runtime's retry to an origin no user names any more closes its pool once answered", async () => {
  const departed = await countedUpstream();
  const staying = await countedUpstream();
  const pools = new UpstreamPools();
  try {
    const settings = { connectTimeoutMs: 2000, maxConnections: 4 };
    const retired = pools.forSettings(settings);
    retired.use([departed.url]);
    // A reload: the new runtime names only the instance that stays, and the old one is released.
    const current = pools.forSettings(settings);
    current.use([staying.url]);
    retired.release();
    assert.equal(pools.size, 0);
    // A request still running on the retired runtime retries, on the instance it knew.
    const answer = await retired
      .dispatcher(departed.url)
      .request({ path: '/retry', method: 'GET' });
    assert.equal(answer.statusCode, 200);
    await answer.body.text();
    await waitFor(() => departed.open.size === 0, 3000, "the retry's connection to close");
    assert.equal(pools.size, 0, 'no pool kept for an origin nobody names');
  } finally {
    await pools.close(true);
    await Promise.all([departed.close(), staying.close()]);
  }
});
