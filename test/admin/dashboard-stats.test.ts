/** The dashboard's stats endpoint over shared Redis history: merged across gateways, local when Redis is gone. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createStatsEndpoint } from '../../src/admin/dashboard/stats-endpoint.js';
import { RedisHistory } from '../../src/telemetry/history.js';
import { StatsCollector } from '../../src/telemetry/stats.js';
import pino from 'pino';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

describe('dashboard stats endpoint with Redis history', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  test('charts merge every gateway; when Redis is down they fall back to this gateway', async () => {
    const clients = [0, 1].map(() => {
      const client = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
      client.on('error', () => undefined);
      return client;
    });
    try {
      const [local, remote] = [new StatsCollector(), new StatsCollector()];
      const [localHistory, remoteHistory] = [new RedisHistory(clients[0] as Redis, local, { logger: pino({ level: 'silent' }) }), new RedisHistory(clients[1] as Redis, remote, { logger: pino({ level: 'silent' }) })];
      for (let i = 0; i < 4; i++) local.route('orders-read').record(200, 10, `l${i}`, '');
      for (let i = 0; i < 6; i++) remote.route('orders-read').record(429, 1, `r${i}`, '');
      await Promise.all([localHistory.flush(), remoteHistory.flush()]);
      const endpoint = createStatsEndpoint({ stats: local, history: localHistory });

      const merged = await endpoint();
      assert.equal(merged.source, 'redis');
      const route = merged.routes[0];
      assert.equal(route?.name, 'orders-read');
      assert.equal(route?.series.at(-1)?.requests, 10);
      assert.equal(route?.rateLimited, 6);

      await redis.stop();
      const fallback = await endpoint();
      assert.equal(fallback.source, 'local');
      assert.equal(fallback.routes[0]?.series.at(-1)?.requests, 4);
      await redis.restart();
    } finally {
      for (const client of clients) client.disconnect();
    }
  });
});
