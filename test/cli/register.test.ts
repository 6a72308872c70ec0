/** `edgeway register` and `edgeway services` as child processes against real gateways, a real Redis and its restart. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway, discoveredOrdersYaml } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { runCli, status } from './cli-process.js';
import { waitFor } from '../helpers/wait-for.js';

const CONFIG = discoveredOrdersYaml();

describe('edgeway register on Redis', () => {
  let redis: TestRedis;
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    redis = await startRedis();
    upstream = await startUpstream();
    gw = await startGateway({ 'config.yaml': CONFIG }, { redisUrl: redis.url });
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
    await redis.stop();
  });

  test('registers, is routed to and listed by `edgeway services`; SIGTERM deregisters it (503 within 1 s)', async () => {
    const cli = runCli([
      'register',
      '--service',
      'orders',
      '--url',
      upstream.url,
      '--id',
      'r1',
      '--weight',
      '3',
      '--meta',
      'zone=eu',
      '--ttl',
      '5s',
      '--redis',
      redis.url,
    ]);
    try {
      await cli.waitFor('registered orders/r1');
      await waitFor(async () => (await status(`${gw.url}/orders`)) === 200, 2000, 'routing to r1');
      const services = runCli(['services', '--admin', gw.adminUrl]);
      assert.equal(await services.exited(), 0, services.stderr());
      const row = services
        .stdout()
        .split('\n')
        .find((line) => line.includes('r1'));
      assert.ok(row, services.stdout());
      assert.match(
        row,
        /^orders\s+r1\s+http:\/\/127\.0\.0\.1:\d+\s+healthy\s+3\s+0\s+[\d.]+ms\s+\d+s$/,
      );
      assert.ok(row.includes(upstream.url));

      cli.child.kill('SIGTERM');
      const signalled = Date.now();
      assert.equal(await cli.exited(), 0, cli.stderr());
      assert.match(cli.stdout(), /deregistered orders\/r1 \(SIGTERM\)/);
      // The process exits only after its DEL went through; every gateway hears of it through the push.
      await waitFor(
        async () => (await status(`${gw.url}/orders`)) === 503,
        1000,
        'the gateway to drop r1 within 1 s',
      );
      assert.ok(Date.now() - signalled < 3000, 'deregistered promptly after SIGTERM');
    } finally {
      await cli.kill();
    }
  });

  test('the Redis URL it prints has its password redacted', async () => {
    // A password on a Redis without one is accepted by ioredis (it warns and carries on).
    const url = redis.url.replace('redis://', 'redis://:hunter2@');
    const cli = runCli([
      'register',
      '--service',
      'orders',
      '--url',
      upstream.url,
      '--id',
      'p1',
      '--redis',
      url,
    ]);
    try {
      await cli.waitFor('registered orders/p1');
      assert.match(cli.stdout(), /at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\n/);
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited(), 0, cli.stderr());
      assert.ok(!`${cli.stdout()}${cli.stderr()}`.includes('hunter2'), cli.stdout());
    } finally {
      await cli.kill();
    }
  });

  test('Redis killed and restarted: the gateway serves its last known set, and the heartbeat brings the instance back', async () => {
    const cli = runCli([
      'register',
      '--service',
      'orders',
      '--url',
      upstream.url,
      '--id',
      'r2',
      '--ttl',
      '3s',
      '--redis',
      redis.url,
    ]);
    try {
      await cli.waitFor('registered orders/r2');
      await waitFor(async () => (await status(`${gw.url}/orders`)) === 200, 2000, 'routing to r2');
      await redis.stop();
      // Longer than the TTL: a gateway that expired instances on its own clock would answer 503 here.
      for (let i = 0; i < 8; i++) {
        assert.equal(
          await status(`${gw.url}/orders`),
          200,
          'serving from the last known set during the outage',
        );
        await new Promise((r) => setTimeout(r, 500));
      }
      await redis.restart();
      const probe = redis.client();
      try {
        await waitFor(
          async () => (await probe.hget('edgeway:{registry}:instances', 'orders/r2')) !== null,
          10_000,
          'the heartbeat to re-register r2',
        );
      } finally {
        probe.disconnect();
      }
      // A gateway started after the restart knows only what Redis holds now.
      const fresh = await startGateway({ 'config.yaml': CONFIG }, { redisUrl: redis.url });
      try {
        await waitFor(
          async () => (await status(`${fresh.url}/orders`)) === 200,
          3000,
          'a fresh gateway to route to r2',
        );
        await waitFor(
          async () =>
            (await fetch(`${gw.adminUrl}/admin/services`).then((r) => r.text())).includes('"r2"'),
          3000,
          'the old gateway to resync',
        );
        assert.equal(await status(`${gw.url}/orders`), 200);
      } finally {
        await fresh.stop();
      }
      cli.child.kill('SIGINT');
      assert.equal(await cli.exited(), 0, cli.stderr());
    } finally {
      await cli.kill();
    }
  });
});

describe('edgeway register without Redis (admin API of an embedded gateway)', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({ 'config.yaml': CONFIG });
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  test('registers through PUT, is routed to, and SIGINT deletes it', async () => {
    const cli = runCli([
      'register',
      '--service',
      'orders',
      '--url',
      upstream.url,
      '--id',
      'a1',
      '--ttl',
      '600ms',
      '--admin',
      gw.adminUrl,
    ]);
    try {
      await cli.waitFor('registered orders/a1');
      // 1.5 s is past the 600 ms TTL: the re-PUT heartbeats keep it.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await status(`${gw.url}/orders`), 200);
      cli.child.kill('SIGINT');
      assert.equal(await cli.exited(), 0, cli.stderr());
      assert.equal(await status(`${gw.url}/orders`), 503);
    } finally {
      await cli.kill();
    }
  });

  test('a gateway that is not there makes register exit 1 with the reason', async () => {
    const cli = runCli([
      'register',
      '--service',
      'orders',
      '--url',
      upstream.url,
      '--admin',
      'http://127.0.0.1:1',
    ]);
    assert.equal(await cli.exited(), 1);
    assert.match(cli.stderr(), /cannot register orders\//);
  });

  const usage: Array<[string, string[], RegExp]> = [
    ['no --url', ['--service', 'orders'], /--service and --url are required/],
    [
      'a bad ttl',
      ['--service', 'orders', '--url', 'http://127.0.0.1:1', '--ttl', 'soon'],
      /--ttl must be a duration/,
    ],
    [
      'weight 0',
      ['--service', 'orders', '--url', 'http://127.0.0.1:1', '--weight', '0'],
      /--weight must be an integer >= 1/,
    ],
    [
      'weight 1e308',
      ['--service', 'orders', '--url', 'http://127.0.0.1:1', '--weight', '1e308'],
      /weight must be at most 10000/,
    ],
    [
      'a ttl of 100000h',
      ['--service', 'orders', '--url', 'http://127.0.0.1:1', '--ttl', '100000h'],
      /ttl must be at most 24h/,
    ],
    [
      'meta without =',
      ['--service', 'orders', '--url', 'http://127.0.0.1:1', '--meta', 'zone'],
      /--meta takes key=value/,
    ],
    ['a bad service name', ['--service', 'a/b', '--url', 'http://127.0.0.1:1'], /service must be/],
  ];
  for (const [what, args, message] of usage) {
    test(`register with ${what} exits 2 with a usage message`, async () => {
      const cli = runCli(['register', ...args]);
      assert.equal(await cli.exited(), 2);
      assert.match(cli.stderr(), message);
    });
  }

  test('register, services and demo print --help and exit 0', async () => {
    for (const command of ['register', 'services', 'demo']) {
      const cli = runCli([command, '--help']);
      assert.equal(await cli.exited(), 0);
      assert.match(cli.stdout(), new RegExp(`^edgeway ${command}`));
    }
  });
});
