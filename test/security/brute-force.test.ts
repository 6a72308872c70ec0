/** The invalid-token guard: an IP that keeps sending bad tokens gets 429, yet its valid tokens still pass. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { FailureThrottle } from '../../src/security/brute-force.js';
import { createSecurity, type Security } from '../../src/security/index.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { redisBackend, tempDir } from './fixtures.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let security: Security;
let redis: TestRedis;

before(async () => {
  dir = await tempDir();
  redis = await startRedis();
  const { auth } = configSchema.parse({
    auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] },
  });
  security = await createSecurity({ kind: 'memory', dataDir: dir.path }, auth, {
    invalidTokensPerMinute: 3,
  });
});

after(async () => {
  await security.close();
  await redis.stop();
  await dir.remove();
});

async function codeOf(authorization: string | undefined, ip: string): Promise<string> {
  try {
    await security.authenticate(authorization, ip);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    return err.code;
  }
}

describe('the invalid-token guard', () => {
  test('answers 429 with Retry-After once an IP exceeds its invalid tokens, but never to a valid token', async () => {
    const valid = (await security.issueToken({ sub: 's', scopes: [], ttlMs: 60_000 })).token;
    assert.deepEqual(
      await Promise.all(
        ['Bearer x.y.z', 'Bearer a.b.c', 'Bearer q.r.s'].map((h) => codeOf(h, '192.0.2.7')),
      ),
      ['unauthorized', 'unauthorized', 'unauthorized'],
    );
    try {
      await security.authenticate('Bearer x.y.z', '192.0.2.7');
      assert.fail('an invalid token was accepted');
    } catch (err) {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.status, 429);
      const retryAfter = Number(err.headers.find(([name]) => name === 'retry-after')?.[1]);
      assert.ok(retryAfter > 0 && retryAfter <= 300, `retry-after ${retryAfter}`);
    }
    assert.equal(await codeOf(`Bearer ${valid}`, '192.0.2.7'), 'ok');
    assert.equal(await codeOf(`Bearer ${valid}`, '192.0.2.8'), 'ok');
  });

  test('does not count requests without a token', async () => {
    for (let i = 0; i < 5; i += 1)
      assert.equal(await codeOf(undefined, '192.0.2.9'), 'unauthorized');
    const valid = (await security.issueToken({ sub: 's', scopes: [], ttlMs: 60_000 })).token;
    assert.equal(await codeOf(`Bearer ${valid}`, '192.0.2.9'), 'ok');
  });

  test('on Redis, failures seen by one gateway count on another', async () => {
    const a = redisBackend(redis.port, dir.path);
    const b = redisBackend(redis.port, dir.path);
    const options = { name: 'test-failures', failures: 2, windowSec: 60, blockSec: 60 };
    const onA = new FailureThrottle(a.backend, options);
    const onB = new FailureThrottle(b.backend, options);
    assert.equal(await onA.fail('10.0.0.1'), 0);
    assert.equal(await onA.fail('10.0.0.1'), 0);
    assert.equal(onB.blockedFor('10.0.0.1'), 0);
    const blockedMs = await onB.fail('10.0.0.1');
    assert.ok(blockedMs > 50_000, `blocked for ${blockedMs} ms`);
    assert.ok(onB.blockedFor('10.0.0.1') > 0);
    a.close();
    b.close();
  });
});
