/** The signing-key ring on both stores: first keys, file mode, publish-then-sign rotation, emergency revocation, retirement and cross-instance reload. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { keyRecordStore, KEYS_HASH } from '../../src/security/key-records.js';
import { SigningKeys } from '../../src/security/signing-keys.js';
import { TokenIssuer } from '../../src/security/tokens.js';
import { TokenVerifier } from '../../src/security/verify.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { redisBackend, tempDir } from './fixtures.js';
import { waitFor } from '../helpers/wait-for.js';

const HOUR = 3_600_000;
const { auth } = configSchema.parse({
  auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] },
});

async function tokenFrom(keys: SigningKeys, now: () => number): Promise<string> {
  return (
    await new TokenIssuer(keys, now).issue({ sub: 'svc', scopes: ['a'], ttlMs: 60_000, aud: 'api' })
  ).token;
}

describe('signing keys in memory mode (key file)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir();
  });
  after(() => dir.remove());

  test('the first use creates keys.json with mode 0600, one current ES256 key and one next key, both published', async () => {
    const keys = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: dir.path }), {
      maxTokenTtlMs: HOUR,
    });
    const file = join(dir.path, 'keys.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(
      keys
        .list()
        .map((k) => k.state)
        .sort(),
      ['current', 'next'],
    );
    assert.equal(keys.jwks().keys.length, 2);
    assert.equal(keys.current().alg, 'ES256');
    assert.equal(keys.current().current, true);
    assert.match(await readFile(file, 'utf8'), /"d":/);
    assert.equal(JSON.stringify(keys.jwks()).includes('"d"'), false);
    assert.equal(JSON.stringify(keys.list()).includes('"d"'), false);
    await keys.close();
  });

  test('rotate makes the published next key current and publishes a new next; old and new tokens verify until the old key retires', async () => {
    let now = Date.now();
    const clock = (): number => now;
    const keys = await SigningKeys.open(
      keyRecordStore({ kind: 'memory', dataDir: dir.path }, clock),
      { maxTokenTtlMs: HOUR, now: clock },
    );
    const verifier = new TokenVerifier(auth, { ownKeys: keys, now: clock });
    const oldKid = keys.current().kid;
    const published = keys.list().find((k) => k.state === 'next')?.kid;
    const oldToken = await tokenFrom(keys, clock);
    const rotated = await keys.rotate();
    assert.equal(rotated.kid, published, 'the key that signs now is the one published before');
    const newNext = keys.list().find((k) => k.state === 'next')?.kid;
    assert.ok(newNext !== undefined && newNext !== published && newNext !== oldKid);
    const newToken = await tokenFrom(keys, clock);
    assert.equal((await verifier.verify(oldToken)).principal.sub, 'svc');
    assert.equal((await verifier.verify(newToken)).principal.sub, 'svc');
    const old = keys.list().find((k) => k.kid === oldKid);
    assert.equal(old?.state, 'retiring');
    assert.equal(old?.retireAfter, now + HOUR);
    assert.deepEqual(
      keys
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
      [oldKid, rotated.kid, newNext].sort(),
    );

    now += HOUR + 1;
    assert.equal(keys.verificationKey(oldKid), undefined);
    assert.deepEqual(
      keys
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
      [rotated.kid, newNext].sort(),
    );
    await keys.close();
  });

  test('an emergency rotation revokes every key at once and signs with a key never published before', async () => {
    const keys = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: dir.path }), {
      maxTokenTtlMs: HOUR,
    });
    const verifier = new TokenVerifier(auth, { ownKeys: keys });
    const leaked = await tokenFrom(keys, Date.now);
    const before = keys.list().map((k) => k.kid);
    const fresh = await keys.revokeAll();
    assert.ok(!before.includes(fresh.kid));
    await assert.rejects(verifier.verify(leaked), /no key matches/);
    assert.ok(
      keys.jwks().keys.every((k) => !before.includes(k.kid as string)),
      'a revoked key is still published',
    );
    assert.deepEqual(
      keys
        .list()
        .filter((k) => before.includes(k.kid))
        .map((k) => k.state),
      before.map(() => 'revoked'),
    );
    assert.equal((await verifier.verify(await tokenFrom(keys, Date.now))).principal.sub, 'svc');
    await keys.close();
  });

  test('a second process on the same data dir loads the same keys', async () => {
    const first = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: dir.path }), {
      maxTokenTtlMs: HOUR,
    });
    const second = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: dir.path }), {
      maxTokenTtlMs: HOUR,
    });
    assert.equal(second.current().kid, first.current().kid);
    await Promise.all([first.close(), second.close()]);
  });

  test('EdDSA keys sign tokens that verify', async () => {
    const other = await tempDir();
    const keys = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: other.path }), {
      maxTokenTtlMs: HOUR,
      algorithm: 'EdDSA',
    });
    const verifier = new TokenVerifier(auth, { ownKeys: keys });
    assert.equal(keys.current().alg, 'EdDSA');
    assert.equal((await verifier.verify(await tokenFrom(keys, Date.now))).principal.sub, 'svc');
    await keys.close();
    await other.remove();
  });
});

describe('signing keys on Redis', () => {
  let redis: TestRedis;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    redis = await startRedis();
    dir = await tempDir();
  });
  after(async () => {
    await redis.stop();
    await dir.remove();
  });

  test('a rotation on one gateway is seen by another within 1 s, and their tokens cross-verify', async () => {
    const a = redisBackend(redis.port, dir.path);
    const b = redisBackend(redis.port, dir.path);
    const keysA = await SigningKeys.open(keyRecordStore(a.backend), { maxTokenTtlMs: HOUR });
    const keysB = await SigningKeys.open(keyRecordStore(b.backend), { maxTokenTtlMs: HOUR });
    assert.equal(keysB.current().kid, keysA.current().kid, 'only one first key is created');
    const oldToken = await tokenFrom(keysA, Date.now);

    const rotated = await keysA.rotate();
    await waitFor(() => keysB.current().kid === rotated.kid, 1000, 'B to see the new key');
    const verifierB = new TokenVerifier(auth, { ownKeys: keysB });
    assert.equal((await verifierB.verify(await tokenFrom(keysA, Date.now))).principal.sub, 'svc');
    assert.equal((await verifierB.verify(oldToken)).principal.sub, 'svc');
    assert.equal(keysB.list().length, 3);

    await Promise.all([keysA.close(), keysB.close()]);
    a.close();
    b.close();
  });

  test('a rotation drops keys whose retireAfter has passed', async () => {
    const { backend, close } = redisBackend(redis.port, dir.path);
    const probe = redis.client();
    await probe.del(KEYS_HASH);
    const keys = await SigningKeys.open(keyRecordStore(backend), { maxTokenTtlMs: 200 });
    await keys.rotate();
    assert.equal(await probe.hlen(KEYS_HASH), 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await keys.rotate();
    assert.equal(await probe.hlen(KEYS_HASH), 3);
    assert.deepEqual(
      keys.list().map((k) => k.state),
      ['next', 'current', 'retiring'],
    );
    await keys.close();
    probe.disconnect();
    close();
  });
});
