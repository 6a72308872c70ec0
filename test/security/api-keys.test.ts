/** One contract suite for API keys on both stores (apikeys.json and a real Redis), plus revocation fan-out to a second process's cache. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiKeys } from '../../src/security/api-keys/api-keys.js';
import { apiKeyDigest, newApiKey } from '../../src/security/api-keys/key-material.js';
import { API_KEYS_BY_DIGEST } from '../../src/security/api-keys/records.js';
import type { Principal } from '../../src/request/context.js';
import type { StoreBackend } from '../../src/store/backend.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { redisBackend, tempDir } from './fixtures.js';

let redis: TestRedis;
let dir: Awaited<ReturnType<typeof tempDir>>;
const closers: Array<() => void | Promise<void>> = [];

before(async () => {
  redis = await startRedis();
  dir = await tempDir();
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await redis.stop();
  await dir.remove();
});

/** Two processes' views of one store: what `issue` writes on one, the other must see. */
const stores: Array<[string, () => Promise<[ApiKeys, ApiKeys]>]> = [
  [
    'memory (apikeys.json)',
    async () => {
      const backend: StoreBackend = {
        kind: 'memory',
        dataDir: join(dir.path, String(closers.length)),
      };
      return [await open(backend), await open(backend)];
    },
  ],
  [
    'redis',
    async () => {
      const first = redisBackend(redis.port, dir.path);
      const second = redisBackend(redis.port, dir.path);
      closers.push(first.close, second.close);
      return [await open(first.backend), await open(second.backend)];
    },
  ],
];

async function open(backend: StoreBackend): Promise<ApiKeys> {
  const keys = await ApiKeys.open(backend);
  closers.push(() => keys.close());
  return keys;
}

const principalOf = async (keys: ApiKeys, key: string): Promise<Principal | string> =>
  keys.lookup(apiKeyDigest(key));

for (const [name, openPair] of stores) {
  describe(`API keys on the ${name} store`, () => {
    test('an issued key authenticates as its consumer with its scopes; another key does not', async () => {
      const [keys] = await openPair();
      const issued = await keys.issue({
        consumer: 'team-a',
        scopes: ['orders:read', 'orders:write'],
      });
      assert.match(issued.key, /^ewk_[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
      assert.match(issued.id, /^ak_[0-9a-f]{16}$/);
      assert.equal(issued.expiresAt, null);
      const principal = await principalOf(keys, issued.key);
      assert.deepEqual(principal, {
        sub: 'team-a',
        scopes: ['orders:read', 'orders:write'],
        claims: {},
      });
      assert.equal(await principalOf(keys, newApiKey().key), 'unknown');
      assert.equal(await principalOf(keys, `${issued.key}x`), 'unknown');
    });

    test('a key past its ttl is refused as expired', async () => {
      const [keys] = await openPair();
      const issued = await keys.issue({ consumer: 'brief', scopes: [], ttlMs: 50 });
      assert.equal(typeof (await principalOf(keys, issued.key)), 'object');
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.equal(
        keys.cached(apiKeyDigest(issued.key)),
        undefined,
        'the cache entry dies with the key',
      );
      assert.equal(await principalOf(keys, issued.key), 'expired');
    });

    test('list shows every key with consumer and scopes, never the key or its digest', async () => {
      const [keys] = await openPair();
      const issued = await keys.issue({ consumer: 'lister', scopes: ['a'], ttlMs: 3_600_000 });
      const listed = (await keys.list()).find((k) => k.id === issued.id);
      assert.deepEqual(listed, {
        id: issued.id,
        consumer: 'lister',
        scopes: ['a'],
        createdAt: issued.createdAt,
        expiresAt: issued.expiresAt,
      });
      const text = JSON.stringify(await keys.list());
      assert.equal(text.includes(issued.key), false);
      assert.equal(text.includes(apiKeyDigest(issued.key)), false);
    });

    test('revoking a key reaches a process that had it cached', async () => {
      const [issuer, gateway] = await openPair();
      const issued = await issuer.issue({ consumer: 'revoked', scopes: [] });
      const digest = apiKeyDigest(issued.key);
      // Memory mode: the other process sees a new key at its next poll of apikeys.json.
      // A lookup racing the subscription's first (re)connect is not cached, so this may take two; and
      // the key must stay cached a while, or that late reset (not the revocation) would drop it below.
      await waitFor(
        async () => {
          if (
            typeof (await gateway.lookup(digest)) !== 'object' ||
            gateway.cached(digest) === undefined
          )
            return false;
          await new Promise((resolve) => setTimeout(resolve, 200));
          return gateway.cached(digest) !== undefined;
        },
        3000,
        'the second process to know and cache the new key',
      );
      assert.equal(typeof (await issuer.lookup(digest)), 'object');
      assert.equal(await issuer.revoke(issued.id), true);
      assert.equal(issuer.cached(digest), undefined, 'the revoking process forgets it at once');
      const ms = await waitFor(
        () => gateway.cached(digest) === undefined,
        1000,
        'the second process to drop the revoked key',
      );
      assert.ok(ms < 1000);
      assert.equal(await gateway.lookup(digest), 'unknown');
      assert.equal(await issuer.revoke(issued.id), false, 'a second revoke finds nothing');
    });

    test('bad consumers, scopes and ttls are refused before anything is stored', async () => {
      const [keys] = await openPair();
      const before = (await keys.list()).length;
      await assert.rejects(keys.issue({ consumer: '', scopes: [] }), RangeError);
      await assert.rejects(keys.issue({ consumer: 'a b', scopes: [] }), RangeError);
      await assert.rejects(keys.issue({ consumer: 'ok', scopes: ['has"quote'] }), RangeError);
      await assert.rejects(keys.issue({ consumer: 'ok', scopes: [], ttlMs: 0 }), RangeError);
      for (const ttlMs of [Number.POSITIVE_INFINITY, Number.NaN, -1])
        await assert.rejects(keys.issue({ consumer: 'ok', scopes: [], ttlMs }), RangeError);
      assert.equal((await keys.list()).length, before);
    });
  });
}

test('memory mode keeps only digests in apikeys.json, readable by the owner only', async () => {
  const dataDir = join(dir.path, 'file-check');
  const keys = await open({ kind: 'memory', dataDir });
  const issued = await keys.issue({ consumer: 'filed', scopes: [] });
  const path = join(dataDir, 'apikeys.json');
  const text = await readFile(path, 'utf8');
  assert.equal(text.includes(issued.key), false);
  assert.equal(text.includes(apiKeyDigest(issued.key)), true);
  const { stat } = await import('node:fs/promises');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});

test('Redis holds digests only, and issuing sweeps keys that have expired', async () => {
  const { backend, close } = redisBackend(redis.port, dir.path);
  closers.push(close);
  const keys = await open(backend);
  const client = redis.client();
  closers.push(() => client.disconnect());
  const short = await keys.issue({ consumer: 'sweep', scopes: [], ttlMs: 30 });
  assert.equal(await client.hexists(API_KEYS_BY_DIGEST, apiKeyDigest(short.key)), 1);
  assert.equal(await client.hexists(API_KEYS_BY_DIGEST, short.key), 0);
  await new Promise((resolve) => setTimeout(resolve, 60));
  await keys.issue({ consumer: 'sweeper', scopes: [] });
  assert.equal(await client.hexists(API_KEYS_BY_DIGEST, apiKeyDigest(short.key)), 0);
  assert.equal(
    (await keys.list()).some((k) => k.id === short.id),
    false,
  );
});
