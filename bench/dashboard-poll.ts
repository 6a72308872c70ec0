/**
 * Cost of one dashboard poll (`GET /admin/stats` minus HTTP) over a loaded history: 24 h of minutes for
 * 20 routes, 4 gateways, 20 instances and 200 consumers a minute in a throwaway Redis. Prints, per range,
 * the first (cold) poll and the mean wall and CPU time of 100 warm polls including JSON.stringify:
 * `node --import tsx bench/dashboard-poll.ts`.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { startRedis } from '../test/helpers/redis-server.js';
import { RedisHistory, historyKey } from '../src/telemetry/history/history.js';
import { StatsCollector } from '../src/telemetry/history/stats.js';
import { createStatsEndpoint } from '../src/admin/dashboard/stats-endpoint.js';
import { CONSUMERS, GATEWAYS, INSTANCES } from '../src/telemetry/history/history-fields.js';
import { RANGES, type RangeName } from '../src/telemetry/history/history-read.js';
import { configSchema } from '../src/config/schema.js';

const ROUTES = 20;
const POLLS = 100;

async function load(client: Redis, current: number): Promise<void> {
  for (let m = 0; m < 1440; m++) {
    const minute = current - m * 60_000;
    const pipeline = client.pipeline();
    for (let r = 0; r < ROUTES; r++) {
      const fields: Record<string, number> = {
        requests: 6000,
        e3: 5,
        e4: 120,
        e5: 12,
        rl: 40,
        'x:unauthorized': 80,
        'x:rate_limited': 40,
        'x:bad_gateway': 12,
      };
      for (let b = 20; b < 34; b++) fields[`l${b}`] = 400;
      pipeline.hset(historyKey(`route-${r}`, minute), fields);
    }
    const gateways: Record<string, number> = {};
    for (let g = 0; g < 4; g++)
      Object.assign(gateways, {
        [`gw-${g}|requests`]: 30_000,
        [`gw-${g}|e4`]: 600,
        [`gw-${g}|e5`]: 60,
        [`gw-${g}|rl`]: 200,
      });
    pipeline.hset(historyKey(GATEWAYS, minute), gateways);
    const instances: Record<string, number> = {};
    for (let s = 0; s < 5; s++)
      for (let i = 0; i < 4; i++)
        Object.assign(instances, {
          [`svc-${s}|i-${i}|ok`]: 5000,
          [`svc-${s}|i-${i}|status_5xx`]: 5,
          [`svc-${s}|i-${i}|connect_error`]: 2,
        });
    pipeline.hset(historyKey(INSTANCES, minute), instances);
    const consumers: Record<string, number> = {};
    for (let s = 0; s < 200; s++)
      Object.assign(consumers, { [`r|consumer-${s}`]: 100 + s, [`l|consumer-${s}`]: s % 7 });
    pipeline.hset(historyKey(CONSUMERS, minute), consumers);
    await pipeline.exec();
  }
}

const redis = await startRedis();
const client = new Redis({ host: '127.0.0.1', port: redis.port });
try {
  const now = Date.now();
  await load(client, Math.floor(now / 60_000) * 60_000);
  const stats = new StatsCollector();
  const history = new RedisHistory(client, stats, {
    logger: pino({ level: 'silent' }),
    gateway: { id: 'gw-0', version: 'bench', startedAt: now },
  });
  const { routes } = configSchema.parse({
    routes: Array.from({ length: ROUTES }, (_, r) => ({
      name: `route-${r}`,
      match: { path: `/r${r}` },
      service: 'svc',
    })),
  });
  const endpoint = createStatsEndpoint({
    stats,
    history,
    gatewayId: 'gw-0',
    routes: () => routes.map((config) => ({ name: config.name, config })),
    meta: () => ({
      version: 'bench',
      startedAt: now,
      store: { kind: 'redis', state: 'ready' },
      registry: {},
      traceUrl: null,
    }),
  });
  for (const range of Object.keys(RANGES) as RangeName[]) {
    let started = process.hrtime.bigint();
    const size = JSON.stringify(await endpoint(range)).length;
    const cold = Number(process.hrtime.bigint() - started) / 1000;
    started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (let i = 0; i < POLLS; i++) JSON.stringify(await endpoint(range));
    const wall = Number(process.hrtime.bigint() - started) / 1000 / POLLS;
    const used = process.cpuUsage(cpu);
    console.log(
      `${range}: cold ${(cold / 1000).toFixed(0)} ms; warm ${wall.toFixed(0)} µs wall, ${((used.user + used.system) / POLLS).toFixed(0)} µs CPU per poll; body ${(size / 1024).toFixed(1)} KiB`,
    );
  }
} finally {
  client.disconnect();
  await redis.stop();
}
