/** Gateway presence heartbeats on a real redis-server: live counts, departures, silence and outages. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { GatewayPresence, PRESENCE_KEY } from '../../src/traffic/gateway-presence.js';

let server: TestRedis;
let redis: Redis;

before(async () => {
  server = await startRedis();
  redis = new Redis({
    port: server.port,
    host: '127.0.0.1',
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
  });
  redis.on('error', () => undefined); // the last test kills the server on purpose
});

after(async () => {
  redis.disconnect();
  await server.stop();
});

describe('GatewayPresence', () => {
  const presence = (id: string): GatewayPresence =>
    new GatewayPresence({ redis, id, windowMs: 300, budgetMs: 1000 });

  test('counts every gateway that heartbeats, itself included', async () => {
    const [a, b, c] = [presence('a'), presence('b'), presence('c')];
    assert.equal(a.liveCount, 1, 'one gateway (itself) before any heartbeat');
    assert.equal(await a.beat(), 1);
    await b.beat();
    assert.equal(await c.beat(), 3);
    assert.equal(await a.beat(), 3);
    const ttl = await redis.pttl(PRESENCE_KEY);
    assert.ok(ttl > 0 && ttl <= 300, `the presence key expires with the window (pttl ${ttl})`);
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });

  test('a gateway that leaves is uncounted at once; one that goes silent, after the window', async () => {
    const [a, b, c] = [presence('a'), presence('b'), presence('c')];
    await Promise.all([a.beat(), b.beat(), c.beat()]);
    await b.stop();
    assert.equal(await a.beat(), 2);
    await sleep(150);
    await a.beat();
    await sleep(200);
    // c last beat 350 ms ago (window 300 ms); a beat 200 ms ago.
    assert.equal(await a.beat(), 1);
    await Promise.all([a.stop(), c.stop()]);
  });

  test('start() heartbeats at once and on its interval', async () => {
    const a = new GatewayPresence({
      redis,
      id: 'interval-a',
      intervalMs: 50,
      windowMs: 1000,
      budgetMs: 1000,
    });
    await a.start();
    assert.equal(a.counters.heartbeats, 1);
    await sleep(180);
    assert.ok(a.counters.heartbeats >= 3, `heartbeats ${a.counters.heartbeats}`);
    await a.stop();
    assert.equal(await redis.zscore(PRESENCE_KEY, 'interval-a'), null);
  });

  test('while Redis is away the last known count is kept', async () => {
    const a = new GatewayPresence({ redis, id: 'outage-a', windowMs: 3000, budgetMs: 100 });
    const b = new GatewayPresence({ redis, id: 'outage-b', windowMs: 3000, budgetMs: 100 });
    await b.beat();
    assert.equal(await a.beat(), 2);
    await server.stop();
    assert.equal(await a.beat(), undefined);
    assert.equal(a.liveCount, 2);
    assert.equal(a.counters.failures, 1);
  });
});
