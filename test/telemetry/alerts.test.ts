/** Alert rules against a real webhook receiver: one firing and one resolved per episode, even across gateways. */
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { alertsSchema } from '../../src/config/alerts-schema.js';
import { AlertEvaluator } from '../../src/telemetry/alerts/alerts.js';
import { MemoryAlertState, RedisAlertState } from '../../src/telemetry/alerts/alert-state.js';
import { StatsCollector } from '../../src/telemetry/history/stats.js';
import { WebhookSender } from '../../src/telemetry/alerts/webhook.js';
import type { ServiceView } from '../../src/telemetry/services-view.js';
import pino from 'pino';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const silent = pino({ level: 'silent' });

interface Hook {
  status: string;
  rule: string;
  kind: string;
  subject: string;
  value: number;
  startsAt: string;
  endsAt?: string;
  gateway?: string;
}

describe('alerts', () => {
  const hooks: Hook[] = [];
  let failNext = 0;
  let receiver: Server;
  let url: string;
  let redis: TestRedis;

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += String(c);
      });
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.statusCode = 503;
          res.end();
          return;
        }
        hooks.push(JSON.parse(body) as Hook);
        res.end('ok');
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });
  beforeEach(() => {
    hooks.length = 0;
    failNext = 0;
  });

  test('the schema fills defaults and rejects duplicate names and unknown kinds', () => {
    const parsed = alertsSchema.parse({
      rules: [
        { name: 'orders-errors', kind: 'error-ratio', route: 'orders-read', threshold: 0.05 },
      ],
      webhooks: [url],
    });
    assert.deepEqual(parsed.rules[0], {
      name: 'orders-errors',
      kind: 'error-ratio',
      route: 'orders-read',
      threshold: 0.05,
      for: 60_000,
      minRequests: 1,
    });
    assert.deepEqual(alertsSchema.parse(undefined), { rules: [], webhooks: [] });
    const dup = alertsSchema.safeParse({
      rules: [
        { name: 'a', kind: 'redis-down' },
        { name: 'a', kind: 'redis-down', for: '5s' },
      ],
    });
    assert.equal(dup.success, false);
    assert.match(JSON.stringify(dup.error?.issues), /duplicate alert name \\"a\\"/);
    assert.equal(
      alertsSchema.safeParse({ rules: [{ name: 'x', kind: 'cpu-high' }] }).success,
      false,
    );
    const badFor = alertsSchema.safeParse({
      rules: [{ name: 'r', kind: 'redis-down', for: '5 minutes' }],
    });
    assert.match(JSON.stringify(badFor.error?.issues), /invalid duration \\"5 minutes\\"/);
    assert.equal(alertsSchema.safeParse({ webhooks: ['ftp://example.com/'] }).success, false);
  });

  test('two gateways sharing one Redis send exactly one firing and one resolved for an error-ratio episode', async () => {
    let t = Date.now();
    const now = () => t;
    const config = alertsSchema.parse({
      rules: [
        {
          name: 'orders-errors',
          kind: 'error-ratio',
          route: 'orders-read',
          threshold: 0.5,
          for: '2s',
        },
      ],
      webhooks: [url],
    });
    const clients = [redis.client(), redis.client()];
    const gateways = clients.map((client, i) => {
      const stats = new StatsCollector({ now });
      const webhooks = new WebhookSender(config.webhooks, { backoffMs: () => 10, logger: silent });
      const evaluator = new AlertEvaluator(
        config,
        { stats },
        {
          store: new RedisAlertState(client),
          localStore: new MemoryAlertState(),
          webhooks,
          logger: silent,
          now,
          gateway: `gw-${i}`,
        },
      );
      return { stats, webhooks, evaluator };
    });
    const evaluateAll = async () => {
      await Promise.all(gateways.map((g) => g.evaluator.evaluate()));
    };
    try {
      for (const g of gateways)
        for (let i = 0; i < 10; i++)
          g.stats.route('orders-read').record(i < 8 ? 500 : 200, 5, `r${i}`, '');
      await evaluateAll();
      assert.deepEqual(
        gateways.map((g) => g.evaluator.active().length),
        [0, 0],
        'pending until `for` has passed',
      );
      t += 2500;
      await evaluateAll();
      await evaluateAll();
      assert.deepEqual(
        gateways.map((g) => g.evaluator.active()[0]?.rule),
        ['orders-errors', 'orders-errors'],
      );
      t += 61_000;
      await evaluateAll();
      await evaluateAll();
      await Promise.all(gateways.map((g) => g.webhooks.drain()));
      assert.deepEqual(
        hooks.map((h) => h.status),
        ['firing', 'resolved'],
      );
      assert.equal(hooks[0]?.rule, 'orders-errors');
      assert.equal(hooks[0]?.subject, 'orders-read');
      assert.equal(hooks[0]?.value, 0.8);
      assert.ok(hooks[1]?.endsAt !== undefined);
      assert.deepEqual(
        gateways.map((g) => g.evaluator.active().length),
        [0, 0],
      );
      const histories = await Promise.all(
        gateways.map(async (g) =>
          (await g.evaluator.history()).map((e) => [e.rule, e.state, e.subject]),
        ),
      );
      const expected = [
        ['orders-errors', 'resolved', 'orders-read'],
        ['orders-errors', 'firing', 'orders-read'],
      ];
      assert.deepEqual(
        histories,
        [expected, expected],
        'one shared history, each change listed once',
      );
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  test('in memory: latency, no-healthy-instance and redis-down rules fire and resolve; a failing webhook is retried', async () => {
    let t = Date.now();
    const now = () => t;
    let services: ServiceView[] = [
      {
        name: 'orders',
        instances: [
          {
            id: 'i-1',
            url: 'http://10.0.0.1',
            healthy: false,
            weight: 1,
            inFlight: 0,
            latencyMs: undefined,
          },
        ],
      },
    ];
    let redisUp = false;
    const config = alertsSchema.parse({
      rules: [
        { name: 'slow', kind: 'latency-p99', route: 'search', thresholdMs: 500, for: '0ms' },
        { name: 'orders-down', kind: 'no-healthy-instance', service: 'orders' },
        { name: 'redis', kind: 'redis-down', for: '1s' },
      ],
      webhooks: [url],
    });
    const stats = new StatsCollector({ now });
    const webhooks = new WebhookSender(config.webhooks, { backoffMs: () => 10, logger: silent });
    const evaluator = new AlertEvaluator(
      config,
      { stats, servicesView: () => services, redisUp: () => redisUp },
      {
        store: new MemoryAlertState(),
        localStore: new MemoryAlertState(),
        webhooks,
        logger: silent,
        now,
      },
    );
    for (let i = 0; i < 100; i++) stats.route('search').record(200, i < 95 ? 20 : 900, `s${i}`, '');
    failNext = 1;
    await evaluator.evaluate();
    assert.deepEqual(
      evaluator
        .active()
        .map((a) => a.rule)
        .sort(),
      ['orders-down', 'slow'],
    );
    t += 1000;
    await evaluator.evaluate();
    assert.deepEqual(
      evaluator
        .active()
        .map((a) => a.rule)
        .sort(),
      ['orders-down', 'redis', 'slow'],
    );
    services = [
      {
        name: 'orders',
        instances: [
          {
            id: 'i-1',
            url: 'http://10.0.0.1',
            healthy: true,
            weight: 1,
            inFlight: 0,
            latencyMs: 3,
          },
        ],
      },
    ];
    redisUp = true;
    t += 61_000;
    await evaluator.evaluate();
    await evaluator.evaluate();
    await webhooks.drain();
    assert.equal(evaluator.active().length, 0);
    const byRule = (rule: string) => hooks.filter((h) => h.rule === rule).map((h) => h.status);
    assert.deepEqual(byRule('slow'), ['firing', 'resolved']);
    assert.deepEqual(byRule('orders-down'), ['firing', 'resolved']);
    assert.deepEqual(byRule('redis'), ['firing', 'resolved']);
    assert.equal(failNext, 0, 'the 503 was answered and the delivery retried');
    const firstAt = t - 62_000;
    const history = (await evaluator.history()).map(
      (e) => [e.rule, e.state, e.at - firstAt] as const,
    );
    assert.deepEqual(
      history.map((e) => e[2]),
      [62_000, 62_000, 62_000, 1000, 0, 0],
      'newest first',
    );
    assert.deepEqual(
      [...history].sort().map((e) => e.join(' ')),
      [
        'orders-down firing 0',
        'orders-down resolved 62000',
        'redis firing 1000',
        'redis resolved 62000',
        'slow firing 0',
        'slow resolved 62000',
      ],
      "every change is listed once, the redis-down rule's from the local store",
    );
  });
});
