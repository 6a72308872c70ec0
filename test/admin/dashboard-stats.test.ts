/** The dashboard's stats endpoint over shared Redis history: merged across gateways, local when Redis is gone. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createStatsEndpoint } from '../../src/admin/dashboard/stats-endpoint.js';
import { RedisHistory } from '../../src/telemetry/history/history.js';
import { StatsCollector } from '../../src/telemetry/history/stats.js';
import { NO_REASON, REASONS } from '../../src/telemetry/history/reasons.js';
import { OUTCOME_INDEX } from '../../src/telemetry/history/instance-stats.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const silent = pino({ level: 'silent' });
const meta = () => ({
  version: 'test',
  startedAt: 0,
  store: { kind: 'redis' as const, state: 'ready' },
  registry: {},
  traceUrl: null,
});
const detail = (sub: string | undefined) => ({
  sub,
  method: 'GET',
  path: '/orders',
  instance: undefined,
  attempts: 1,
});

describe('dashboard stats endpoint with Redis history', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  test('totals, gateways, instances and consumers merge every gateway; when Redis is down they fall back to this gateway', async () => {
    const clients = [0, 1].map(() => {
      const client = new Redis({
        host: '127.0.0.1',
        port: redis.port,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 50,
      });
      client.on('error', () => undefined);
      return client;
    });
    try {
      const [local, remote] = [new StatsCollector(), new StatsCollector()];
      const localHistory = new RedisHistory(clients[0] as Redis, local, {
        logger: silent,
        gateway: { id: 'gw-a', version: '1.0.0', startedAt: 1 },
      });
      const remoteHistory = new RedisHistory(clients[1] as Redis, remote, {
        logger: silent,
        gateway: { id: 'gw-b', version: '1.0.1', startedAt: 2 },
      });
      for (let i = 0; i < 4; i++)
        local.route('orders-read').record(200, 10, `l${i}`, '', NO_REASON, detail('alice'));
      for (let i = 0; i < 6; i++)
        remote
          .route('orders-read')
          .record(429, 1, `r${i}`, '', REASONS.indexOf('rate_limited'), detail('bob'));
      remote.route('orders-read').record(302, 1, 'redirect', '', NO_REASON, detail(undefined));
      for (let i = 0; i < 3; i++)
        remote.instance('orders', 'orders-2').record(OUTCOME_INDEX.connect_error, 1);
      await remoteHistory.flush();
      const endpoint = createStatsEndpoint({
        stats: local,
        history: localHistory,
        gatewayId: 'gw-a',
        meta,
      });

      const merged = await endpoint();
      assert.equal(merged.source, 'redis');
      assert.equal(merged.routes.length, 1, 'an idle (unrouted) is left out');
      const route = merged.routes[0];
      assert.equal(route?.name, 'orders-read');
      assert.deepEqual(
        route?.totals && [
          route.totals.requests,
          route.totals.s2xx,
          route.totals.s3xx,
          route.totals.s4xx,
          route.totals.s429,
          route.totals.s5xx,
        ],
        [11, 4, 1, 6, 6, 0],
      );
      assert.equal(route?.series.requests.at(-1), 11);
      assert.deepEqual(route?.reasons, { rate_limited: 6 });
      assert.deepEqual(
        merged.gateways.map((g) => [g.id, g.self, g.version, g.totals.requests, g.totals.s429]),
        [
          ['gw-a', true, '1.0.0', 4, 0],
          ['gw-b', false, '1.0.1', 7, 6],
        ],
      );
      assert.deepEqual(
        merged.consumers.byRequests.map((c) => [c.sub, c.requests, c.rateLimited]),
        [
          ['bob', 6, 6],
          ['alice', 4, 0],
        ],
      );
      assert.deepEqual(
        merged.consumers.byRateLimited.map((c) => c.sub),
        ['bob'],
      );

      await redis.stop();
      const fallback = await endpoint();
      assert.equal(fallback.source, 'local');
      assert.ok(fallback.sourceError);
      assert.equal(fallback.routes[0]?.series.requests.at(-1), 4);
      assert.deepEqual(
        fallback.gateways.map((g) => [g.id, g.totals.requests]),
        [['gw-a', 4]],
      );
      await redis.restart();
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  test('a 24 h view reads each minute from Redis once; later polls read only the unfinished minutes', async () => {
    const client = redis.client();
    try {
      const stats = new StatsCollector();
      const history = new RedisHistory(client, stats, {
        logger: silent,
        gateway: { id: 'gw-a', version: '', startedAt: 0 },
      });
      stats.route('orders-read').record(200, 10, 'a', '');
      await history.flush();
      const endpoint = createStatsEndpoint({ stats, history, gatewayId: 'gw-a', meta });
      const commands = async (): Promise<number> =>
        Number(/total_commands_processed:(\d+)/.exec(await client.info('stats'))?.[1]);
      let before = await commands();
      const first = await endpoint('24h');
      const firstCost = (await commands()) - before - 1;
      assert.equal(first.fleet.series.requests.length, 96);
      assert.equal(first.fleet.totals.requests, 1);
      before = await commands();
      const second = await endpoint('24h');
      const secondCost = (await commands()) - before - 1;
      assert.equal(second.fleet.totals.requests, 1);
      // Five hashes (orders-read, (unrouted), gateways, instances, consumers), plus the flush and the gateway list.
      assert.ok(
        firstCost >= 5 * (1440 - 15),
        `the first view reads every past minute of every hash (${firstCost})`,
      );
      assert.ok(
        secondCost <= 5 * 3 + 2,
        `later views read only the minutes not yet final (${secondCost})`,
      );
    } finally {
      client.disconnect();
    }
  });
});
