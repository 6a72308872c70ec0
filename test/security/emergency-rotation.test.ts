/** `keys rotate --emergency` (a leaked key): every token issued before is refused at once, on every gateway, verified before or not. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { createSecurity, type Security } from '../../src/security/index.js';
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

/** A security core on its own two Redis connections: a gateway's, or the CLI's. */
async function securityCore(): Promise<Security> {
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
    return err.code;
  }
}

test('a token the gateway verified (and cached) before an emergency rotation is refused after it, like one it never saw', async () => {
  const gateway = await securityCore();
  const cli = await securityCore();
  const used = await gateway.issueToken({ sub: 'used-before', scopes: [], ttlMs: 3_600_000 });
  const unseen = await gateway.issueToken({ sub: 'unseen', scopes: [], ttlMs: 3_600_000 });
  assert.equal(await outcome(gateway, used.token), 'used-before');

  await cli.keys.revokeAll();
  await waitFor(
    async () => (await outcome(gateway, unseen.token)) === 'unauthorized',
    5000,
    'the gateway to learn of the rotation',
  );
  assert.equal(
    await outcome(gateway, used.token),
    'unauthorized',
    'the cached verdict rests on a revoked key',
  );
  const fresh = await gateway.issueToken({ sub: 'fresh', scopes: [], ttlMs: 3_600_000 });
  assert.equal(await outcome(gateway, fresh.token), 'fresh');
});
