/** One contract suite for every revocation list, plus Redis fan-out to a second gateway and reload on reconnect. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { createSecurity } from '../../src/security/index.js';
import {
  MemoryRevocations,
  openRevocations,
  REVOCATIONS_KEY,
  type RevocationList,
} from '../../src/security/revocations.js';
import type { StoreBackend } from '../../src/store/backend.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { redisBackend, tempDir } from './fixtures.js';
import { waitFor } from '../helpers/wait-for.js';

let redis: TestRedis;
let dir: Awaited<ReturnType<typeof tempDir>>;
const closers: Array<() => void> = [];

before(async () => {
  redis = await startRedis();
  dir = await tempDir();
});

after(async () => {
  for (const close of closers) close();
  await redis.stop();
  await dir.remove();
});

function newRedisBackend(): StoreBackend {
  const { backend, close } = redisBackend(redis.port, dir.path);
  closers.push(close);
  return backend;
}

const implementations: Array<[string, () => Promise<RevocationList>]> = [
  ['memory', async () => new MemoryRevocations(Date.now)],
  ['redis', () => openRevocations(newRedisBackend())],
];

for (const [name, open] of implementations) {
  describe(`the ${name} revocation list`, () => {
    test('reports a revoked jti and nothing else', async () => {
      const list = await open();
      await list.revoke('jti-1', Date.now() + 60_000);
      assert.equal(list.isRevoked('jti-1'), true);
      assert.equal(list.isRevoked('jti-2'), false);
      await list.close();
    });

    test('forgets a revocation once the token has expired', async () => {
      const list = await open();
      await list.revoke('short', Date.now() + 150);
      assert.equal(list.isRevoked('short'), true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(list.isRevoked('short'), false);
      await list.close();
    });

    test('ignores a token that has already expired', async () => {
      const list = await open();
      await list.revoke('past', Date.now() - 1000);
      assert.equal(list.isRevoked('past'), false);
      await list.close();
    });

    test('refuses an empty or oversized jti', async () => {
      const list = await open();
      await assert.rejects(list.revoke('', Date.now() + 60_000), RangeError);
      await assert.rejects(list.revoke('j'.repeat(257), Date.now() + 60_000), RangeError);
      await list.close();
    });

    test('tells listeners about each revocation', async () => {
      const list = await open();
      const heard: string[] = [];
      list.onRevoked((jti) => heard.push(jti));
      await list.revoke('told', Date.now() + 60_000);
      assert.deepEqual(heard, ['told']);
      await list.close();
    });
  });
}

describe('revocations on Redis', () => {
  test('a revocation through a second instance is seen within 1 s, cached token included', async () => {
    const { auth } = configSchema.parse({
      auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] },
    });
    const gatewayA = await createSecurity(newRedisBackend(), auth);
    const gatewayB = await createSecurity(newRedisBackend(), auth);
    const issued = await gatewayA.issueToken({ sub: 'svc', scopes: ['a'], ttlMs: 60_000 });
    assert.equal(
      (await gatewayA.authenticate(`Bearer ${issued.token}`, '198.51.100.1')).sub,
      'svc',
    );

    await gatewayB.revoke(issued.jti, issued.expiresAt);
    await waitFor(
      async () => {
        try {
          await gatewayA.authenticate(`Bearer ${issued.token}`, '198.51.100.1');
          return false;
        } catch (err) {
          return err instanceof GatewayError && err.code === 'unauthorized';
        }
      },
      1000,
      'gateway A to refuse the revoked token',
    );
    await Promise.all([gatewayA.close(), gatewayB.close()]);
  });

  test('the entry lives in Redis until the token expires', async () => {
    const list = await openRevocations(newRedisBackend());
    const expiresAt = Date.now() + 60_000;
    await list.revoke('ttl-check', expiresAt);
    const probe = redis.client();
    assert.equal(Number(await probe.zscore(REVOCATIONS_KEY, 'ttl-check')), expiresAt);
    const pttl = await probe.pttl(REVOCATIONS_KEY);
    assert.ok(pttl > 55_000 && pttl <= 60_000, `key expires with its latest entry (pttl ${pttl})`);
    probe.disconnect();
    await list.close();
  });

  test('a gateway whose subscriber reconnects loads what it missed', async () => {
    const listenerBackend = newRedisBackend();
    const writer = newRedisBackend();
    if (listenerBackend.kind !== 'redis' || writer.kind !== 'redis')
      throw new Error('redis backend expected');
    // Subscribed and loaded before the write below (a subscriber still connecting would load it on its first ready).
    await waitFor(
      () => listenerBackend.subscriber.status === 'ready',
      3000,
      'the subscriber connection',
    );
    const listener = await openRevocations(listenerBackend);
    // An entry added behind the listener's back: no publish reaches it.
    await writer.redis.zadd(REVOCATIONS_KEY, Date.now() + 60_000, 'missed');
    assert.equal(listener.isRevoked('missed'), false);
    listenerBackend.subscriber.disconnect(true);
    await waitFor(() => listener.isRevoked('missed'), 3000, 'the list to reload on reconnect');
    await listener.close();
  });
});
