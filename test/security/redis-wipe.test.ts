/** A Redis restarted without persistence: gateways write back the signing keys and revocations they hold, so tokens keep verifying. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { createSecurity, type Security } from '../../src/security/index.js';
import { KEYS_HASH } from '../../src/security/key-records.js';
import { REVOCATIONS_KEY } from '../../src/security/revocations.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { redisBackend, tempDir } from './fixtures.js';

const { auth } = configSchema.parse({
  auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] },
});
let redis: TestRedis;
let dir: Awaited<ReturnType<typeof tempDir>>;
const cleanups: Array<() => Promise<void> | void> = [];

before(async () => {
  redis = await startRedis();
  dir = await tempDir();
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await redis.stop();
  await dir.remove();
});

/** A gateway's security core on its own two Redis connections. */
async function gatewaySecurity(): Promise<Security> {
  const { backend, close } = redisBackend(redis.port, dir.path);
  const security = await createSecurity(backend, auth);
  cleanups.push(close, () => security.close());
  return security;
}

async function outcome(security: Security, token: string): Promise<string> {
  try {
    return (await security.authenticate(`Bearer ${token}`, '192.0.2.1')).sub;
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    return err.message;
  }
}

test('after Redis restarts empty, tokens signed before keep verifying on the running gateway and on one started afterwards; revocations survive', async () => {
  const running = await gatewaySecurity();
  const before = await running.issueToken({ sub: 'issued-before', scopes: [], ttlMs: 3_600_000 });
  const revoked = await running.issueToken({ sub: 'revoked-before', scopes: [], ttlMs: 3_600_000 });
  await running.revoke(revoked.jti, revoked.expiresAt);
  const probe = redis.client();
  cleanups.push(() => probe.disconnect());
  const kidsBefore = Object.keys(await probe.hgetall(KEYS_HASH)).sort();

  await redis.stop();
  await redis.restart();
  await waitFor(
    async () => (await probe.hlen(KEYS_HASH)) === kidsBefore.length,
    5000,
    'the running gateway to write its keys back',
  );
  assert.deepEqual(
    Object.keys(await probe.hgetall(KEYS_HASH)).sort(),
    kidsBefore,
    'the same keys, not new ones',
  );
  await waitFor(
    async () => (await probe.zscore(REVOCATIONS_KEY, revoked.jti)) !== null,
    5000,
    'the revocation to be written back',
  );

  assert.equal(await outcome(running, before.token), 'issued-before');
  const started = await gatewaySecurity();
  assert.equal(await outcome(started, before.token), 'issued-before');
  assert.equal(await outcome(started, revoked.token), 'invalid token: token revoked');
  const after = await running.issueToken({ sub: 'issued-after', scopes: [], ttlMs: 60_000 });
  assert.equal(await outcome(started, after.token), 'issued-after');
});
