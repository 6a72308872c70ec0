/** The signing-key ring on both stores: first key, file mode, rotation, retirement and cross-instance reload. */
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
const { auth } = configSchema.parse({ auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] } });

async function tokenFrom(keys: SigningKeys, now: () => number): Promise<string> {
  return (await new TokenIssuer(keys, now).issue({ sub: 'svc', scopes: ['a'], ttlMs: 60_000, aud: 'api' })).token;
}

describe('signing keys in memory mode (key file)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir();
  });
  after(() => dir.remove());

  test('the first use creates keys.json with mode 0600 and one current ES256 key', async () => {
    const keys = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: dir.path }), { maxTokenTtlMs: HOUR });
    const file = join(dir.path, 'keys.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(keys.list().length, 1);
    assert.equal(keys.current().alg, 'ES256');
    assert.equal(keys.current().current, true);
    assert.match(await readFile(file, 'utf8'), /"d":/);
    assert.equal(JSON.stringify(keys.jwks()).includes('"d"'), false);
    assert.equal(JSON.stringify(keys.list()).includes('"d"'), false);
    await keys.close();
  });

  test('after rotate old and new tokens verify, until the old key retires', async () => {
    let now = Date.now();
    const clock = (): number => now;
    const keys = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: dir.path }, clock), { maxTokenTtlMs: HOUR, now: clock });
    const verifier = new TokenVerifier(auth, { ownKeys: keys, now: clock });
    const oldKid = keys.current().kid;
    const oldToken = await tokenFrom(keys, clock);
    const rotated = await keys.rotate();
    assert.notEqual(rotated.kid, oldKid);
    const newToken = await tokenFrom(keys, clock);
    assert.equal((await verifier.verify(oldToken)).principal.sub, 'svc');
    assert.equal((await verifier.verify(newToken)).principal.sub, 'svc');
    const old = keys.list().find((k) => k.kid === oldKid);
    assert.equal(old?.current, false);
    assert.equal(old?.retireAfter, now + HOUR);
    assert.deepEqual(keys.jwks().keys.map((k) => k.kid).sort(), [oldKid, rotated.kid].sort());

    now += HOUR + 1;
    assert.equal(keys.verificationKey(oldKid), undefined);
    assert.deepEqual(keys.jwks().keys.map((k) => k.kid), [rotated.kid]);
    await keys.close();
  });

  test('a second process on the same data dir loads the same keys', async () => {
    const first = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: dir.path }), { maxTokenTtlMs: HOUR });
    const second = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: dir.path }), { maxTokenTtlMs: HOUR });
    assert.equal(second.current().kid, first.current().kid);
    await Promise.all([first.close(), second.close()]);
  });

  test('EdDSA keys sign tokens that verify', async () => {
    const other = await tempDir();
    const keys = await SigningKeys.open(keyRecordStore({ kind: 'memory', dataDir: other.path }), { maxTokenTtlMs: HOUR, algorithm: 'EdDSA' });
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
    assert.equal(keysB.list().length, 2);

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
    assert.equal(await probe.hlen(KEYS_HASH), 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await keys.rotate();
    assert.equal(await probe.hlen(KEYS_HASH), 2);
    assert.equal(keys.list().length, 2);
    await keys.close();
    probe.disconnect();
    close();
  });
});
