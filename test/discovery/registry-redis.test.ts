/** The registry contract on Redis, plus what only a shared registry does: push between gateways and outages. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { register } from '../../src/discovery/client.js';
import { RedisRegistry } from '../../src/discovery/redis-registry.js';
import { freePort, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { instance, registryContract } from './registry.contract.js';
import { captureLogger, startRedisRegistry } from './redis-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

async function flush(): Promise<void> {
  const client = server.client();
  await client.flushall();
  client.disconnect();
}

describe('RedisRegistry contract', () => {
  registryContract(async () => {
    await flush();
    return startRedisRegistry(server);
  });
});

describe('RedisRegistry between gateways', () => {
  // Reconciliation is far away, so anything seen within the test came through the change feed.
  const noReconcile = { reconcileIntervalMs: 600_000 };

  test('a second gateway sees register, deregister and expiry within 1 s, pushed', async () => {
    await flush();
    const a = await startRedisRegistry(server, noReconcile);
    const b = await startRedisRegistry(server, noReconcile);
    try {
      const changes: string[] = [];
      b.registry.onChange((service) => changes.push(service));

      await a.registry.register(instance(), 60_000);
      assert.ok(
        (await waitFor(() => b.registry.list('orders').length === 1, 1000, 'register on b')) < 1000,
      );
      assert.equal(b.registry.list('orders')[0]?.url, 'http://127.0.0.1:9001');

      await a.registry.register(instance({ draining: true }), 60_000);
      await waitFor(() => b.registry.list('orders')[0]?.draining === true, 1000, 'draining on b');

      await a.registry.deregister('orders', 'a1');
      await waitFor(() => b.registry.list('orders').length === 0, 1000, 'deregister on b');

      await a.registry.register(instance({ id: 'short' }), 200);
      await waitFor(
        () => b.registry.list('orders').length === 1,
        1000,
        'short-lived register on b',
      );
      const expiresAt = b.registry.list('orders')[0]?.expiresAt ?? 0;
      await waitFor(() => b.registry.list('orders').length === 0, 2000, 'expiry on b');
      assert.ok(
        Date.now() - expiresAt < 1000,
        `b saw the expiry ${Date.now() - expiresAt} ms late`,
      );
      assert.deepEqual(changes, ['orders', 'orders', 'orders', 'orders', 'orders']);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  test('a malformed record written by hand is skipped with one warning, the rest still served', async () => {
    await flush();
    const gw = await startRedisRegistry(server);
    try {
      await gw.registry.register(instance(), 60_000);
      await gw.redis.hset('edgeway:{registry}:instances', 'orders/bad', '{"url": "ftp://x"}');
      await gw.redis.hset(
        'edgeway:{registry}:instances',
        'orders/huge',
        '{"url": "http://127.0.0.1:9", "capacity": 1e308}',
      );
      for (const member of ['orders/bad', 'orders/huge']) {
        await gw.redis.zadd('edgeway:{registry}:expiry', Date.now() + 60_000, member);
        await gw.redis.zadd('edgeway:{registry}:index', 0, member);
      }
      await gw.registry.register(instance({ id: 'a2' }), 60_000);
      assert.deepEqual(
        gw.registry.list('orders').map((rec) => rec.id),
        ['a1', 'a2'],
      );
      await gw.registry.register(instance({ id: 'a3' }), 60_000);
      const logger = gw.logger as ReturnType<typeof captureLogger>;
      assert.equal(logger.warnings.filter((w) => w.includes('orders/bad')).length, 1);
      assert.equal(logger.warnings.filter((w) => w.includes('orders/huge')).length, 1);
    } finally {
      await gw.dispose();
    }
  });
});

describe('RedisRegistry start', () => {
  test('waits for connections still being set up and loads what is registered', async () => {
    await flush();
    const writer = await startRedisRegistry(server);
    await writer.registry.register(instance(), 60_000);
    const redis = new Redis(server.url);
    const subscriber = new Redis(server.url);
    const registry = new RedisRegistry(
      { kind: 'redis', redis, subscriber, dataDir: '' },
      { logger: captureLogger() },
    );
    try {
      await registry.start();
      assert.deepEqual(
        registry.list('orders').map((rec) => rec.id),
        ['a1'],
      );
      assert.equal(registry.status().stale, false);
    } finally {
      await registry.close();
      redis.disconnect();
      subscriber.disconnect();
      await writer.dispose();
    }
  });

  test('gives up waiting on an unreachable Redis after startWaitMs, stale, with one warning', async () => {
    const port = await freePort();
    const redis = new Redis({ port, host: '127.0.0.1' });
    const subscriber = new Redis({ port, host: '127.0.0.1' });
    const logger = captureLogger();
    const registry = new RedisRegistry(
      { kind: 'redis', redis, subscriber, dataDir: '' },
      { logger, startWaitMs: 300 },
    );
    try {
      await registry.start();
      assert.deepEqual(registry.status(), {
        backend: 'redis',
        connected: false,
        lastSyncAt: 0,
        stale: true,
      });
      assert.deepEqual(registry.list('orders'), []);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(logger.warnings.length, 1);
    } finally {
      await registry.close();
      redis.disconnect();
      subscriber.disconnect();
    }
  });
});

describe('RedisRegistry through a Redis outage, with the registration client', () => {
  test('serves the last known set while Redis is down, and resyncs as clients re-register on an empty restart', async () => {
    await flush();
    const logger = captureLogger();
    const gw = await startRedisRegistry(server, { logger, reconcileIntervalMs: 1000 });
    const quiet = captureLogger();
    const client = await register({
      redis: server.url,
      service: 'orders',
      id: 'c1',
      url: 'http://127.0.0.1:9101',
      ttlMs: 900,
      logger: quiet,
    });
    try {
      await waitFor(() => gw.registry.list('orders').length === 1, 1000, 'client registration');
      const known = gw.registry.list('orders');

      await server.stop();
      await waitFor(() => gw.registry.status().connected === false, 2000, 'disconnect noticed');
      assert.equal(gw.registry.status().stale, true);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // past the TTL and a reconcile period
      assert.equal(gw.registry.list('orders'), known);
      assert.equal(logger.warnings.length, 1, `warnings: ${logger.warnings.join(' | ')}`);

      await server.restart();
      await waitFor(
        () => gw.registry.status().connected && !gw.registry.status().stale,
        5000,
        'reconnect and resync',
      );
      await waitFor(
        () => gw.registry.list('orders').length === 1,
        5000,
        'client heartbeat re-registering',
      );
      assert.equal(gw.registry.list('orders')[0]?.url, 'http://127.0.0.1:9101');
      assert.ok(logger.infos.some((line) => line.includes('resynced')));
      assert.equal(logger.warnings.length, 1);
    } finally {
      await client.stop();
      await gw.dispose();
    }
  });

  test('an empty restart forgets no instance whose TTL has not run out', async () => {
    await flush();
    const gw = await startRedisRegistry(server, {
      logger: captureLogger(),
      reconcileIntervalMs: 500,
    });
    try {
      await gw.registry.register(
        {
          service: 'pay',
          id: 'p1',
          url: 'http://127.0.0.1:9301',
          weight: 1,
          capacity: 100,
          meta: {},
          draining: false,
        },
        4000,
      );
      await waitFor(() => gw.registry.list('pay').length === 1, 1000, 'registration');
      await server.stop();
      await waitFor(() => gw.registry.status().connected === false, 2000, 'disconnect noticed');
      await server.restart();
      await waitFor(
        () => gw.registry.status().connected && !gw.registry.status().stale,
        5000,
        'reconnect and resync',
      );
      await new Promise((resolve) => setTimeout(resolve, 1200)); // two reconciliations of the empty Redis
      assert.deepEqual(
        gw.registry.list('pay').map((rec) => rec.id),
        ['p1'],
        'kept while its TTL runs',
      );
      await waitFor(
        () => gw.registry.list('pay').length === 0,
        5000,
        'dropped once its TTL has passed without a heartbeat',
      );
    } finally {
      await gw.dispose();
    }
  });

  test('the client heartbeats keep its instance past the ttl', async () => {
    await flush();
    const gw = await startRedisRegistry(server);
    const reg = await register({
      redis: server.url,
      service: 'users',
      id: 'u1',
      url: 'http://127.0.0.1:9201',
      ttlMs: 450,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.deepEqual(
        gw.registry.list('users').map((rec) => rec.id),
        ['u1'],
      );
    } finally {
      await reg.stop();
      await gw.dispose();
    }
  });

  test('the client rejects invalid options before touching Redis', async () => {
    await assert.rejects(
      register({ redis: server.url, service: 'a/b', url: 'http://127.0.0.1:1' }),
      /service must/,
    );
    await assert.rejects(
      register({ redis: server.url, service: 'a', url: 'http://127.0.0.1:1', ttlMs: 0 }),
      /ttl must/,
    );
  });

  test('the client deregisters on stop, and a gateway hears it', async () => {
    await flush();
    const gw = await startRedisRegistry(server);
    try {
      const reg = await register({
        redis: server.url,
        service: 'users',
        url: 'http://127.0.0.1:9201',
        meta: { version: '2' },
        ttlMs: 5000,
      });
      assert.match(reg.id, /^[A-Za-z0-9._:-]+$/);
      await waitFor(() => gw.registry.list('users').length === 1, 1000, 'client registration');
      assert.deepEqual(gw.registry.list('users')[0]?.meta, { version: '2' });
      await reg.stop();
      await waitFor(() => gw.registry.list('users').length === 0, 1000, 'client deregistration');
    } finally {
      await gw.dispose();
    }
  });
});
