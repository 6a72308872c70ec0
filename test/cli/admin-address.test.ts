/** Commands that talk to a gateway find it where the config says (gateway.admin), and read Redis when the gateway is not there. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register, type Registration } from '../../src/discovery/client.js';
import { REGISTRY_KEYS } from '../../src/discovery/registry-scripts.js';
import { discoveredOrdersYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { runCli, status } from './cli-process.js';

/** A config folder like the gateway's, whose gateway.admin names `adminPort` (never the default 9901). */
function configNamingAdmin(adminPort: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-cli-config-'));
  writeFileSync(
    join(dir, 'gateway.yaml'),
    `gateway:\n  admin: { host: 127.0.0.1, port: ${adminPort} }\n`,
  );
  writeFileSync(join(dir, 'services.yaml'), discoveredOrdersYaml());
  return dir;
}

describe('the admin address comes from EDGEWAY_CONFIG', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let config: string;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({ 'config.yaml': discoveredOrdersYaml() });
    assert.notEqual(gw.gateway.adminPort, 9901);
    config = configNamingAdmin(gw.gateway.adminPort);
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
    rmSync(config, { recursive: true, force: true });
  });

  test('register, services and token revoke reach the gateway named by the config alone', async () => {
    const env = { EDGEWAY_CONFIG: config };
    const registered = runCli(
      ['register', '--service', 'orders', '--url', upstream.url, '--id', 'c1'],
      env,
    );
    try {
      await registered.waitFor('registered orders/c1');
      assert.match(
        registered.stdout(),
        new RegExp(`at http://127\\.0\\.0\\.1:${gw.gateway.adminPort}\\n`),
      );
      assert.equal(await status(`${gw.url}/orders`), 200);

      const services = runCli(['services'], env);
      assert.equal(await services.exited(), 0, services.stderr());
      assert.match(services.stdout(), /^orders\s+c1\s+http:\/\/127\.0\.0\.1:\d+\s+healthy\s/m);

      const revoked = runCli(['token', 'revoke', '--jti', 'some-jti'], env);
      assert.equal(await revoked.exited(), 0, revoked.stderr());
      assert.match(
        revoked.stdout(),
        new RegExp(`revoked some-jti \\(via http://127\\.0\\.0\\.1:${gw.gateway.adminPort}\\)`),
      );
    } finally {
      registered.child.kill('SIGTERM');
      await registered.exited();
    }
  });

  test('token revoke with no gateway there says why and where, not "fetch failed"', async () => {
    const closed = await freePort();
    const dir = configNamingAdmin(closed);
    try {
      const revoke = runCli(['token', 'revoke', '--jti', 'x'], { EDGEWAY_CONFIG: dir });
      assert.equal(await revoke.exited(), 1);
      assert.match(
        revoke.stderr(),
        new RegExp(`^edgeway: .*connection refused at 127\\.0\\.0\\.1:${closed}\\n$`),
      );
      assert.doesNotMatch(revoke.stderr(), /fetch failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('edgeway services reads the Redis registry when no gateway answers', () => {
  let redis: TestRedis;
  let registration: Registration;

  before(async () => {
    redis = await startRedis();
    registration = await register({
      redis: redis.url,
      service: 'orders',
      id: 'r9',
      url: 'http://127.0.0.1:9',
      weight: 4,
      ttlMs: 30_000,
    });
  });
  after(async () => {
    await registration.stop();
    await redis.stop();
  });

  test('REDIS_URL set and the configured admin port closed: the registry is listed, the reason is on stderr', async () => {
    const closed = await freePort();
    const dir = configNamingAdmin(closed);
    try {
      const services = runCli(['services'], { EDGEWAY_CONFIG: dir, REDIS_URL: redis.url });
      assert.equal(await services.exited(), 0, services.stderr());
      assert.match(
        services.stdout(),
        /^orders\s+r9\s+http:\/\/127\.0\.0\.1:9\s+registered\s+4\s+-\s+-\s+\d+s$/m,
      );
      assert.match(
        services.stderr(),
        new RegExp(
          `^edgeway: cannot reach the gateway's admin API \\(connection refused at 127\\.0\\.0\\.1:${closed}\\); listing the Redis registry`,
        ),
      );

      const without = runCli(['services'], { EDGEWAY_CONFIG: dir });
      assert.equal(await without.exited(), 1);
      assert.match(
        without.stderr(),
        new RegExp(
          `^edgeway: cannot reach the gateway's admin API: connection refused at 127\\.0\\.0\\.1:${closed}\\n$`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a record written by hand that never expires (score +inf) reads as static, like the admin API shows it', async () => {
    const raw = redis.client();
    const [instances, expiry, index] = REGISTRY_KEYS;
    const closed = await freePort();
    const dir = configNamingAdmin(closed);
    try {
      await raw.hset(instances, 'orders/forever', '{"url":"http://127.0.0.1:8"}');
      await raw.zadd(expiry, '+inf', 'orders/forever');
      await raw.zadd(index, 0, 'orders/forever');
      const services = runCli(['services'], { EDGEWAY_CONFIG: dir, REDIS_URL: redis.url });
      assert.equal(await services.exited(), 0, services.stderr());
      assert.match(
        services.stdout(),
        /^orders\s+forever\s+http:\/\/127\.0\.0\.1:8\s+registered\s+1\s+-\s+-\s+static$/m,
      );
    } finally {
      await Promise.all([
        raw.hdel(instances, 'orders/forever'),
        raw.zrem(expiry, 'orders/forever'),
        raw.zrem(index, 'orders/forever'),
      ]);
      raw.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
