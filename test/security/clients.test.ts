/** OAuth2 clients on both backends: add prints a secret once, only a hash is stored, verify/remove. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Clients, CLIENTS_HASH } from '../../src/security/clients.js';
import type { StoreBackend } from '../../src/store/backend.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { redisBackend, tempDir } from './fixtures.js';

let redis: TestRedis;
let memoryDir: Awaited<ReturnType<typeof tempDir>>;
let redisDir: Awaited<ReturnType<typeof tempDir>>;
let closeRedis: () => void;
let redisStore: StoreBackend;

before(async () => {
  redis = await startRedis();
  memoryDir = await tempDir();
  redisDir = await tempDir();
  ({ backend: redisStore, close: closeRedis } = redisBackend(redis.port, redisDir.path));
});

after(async () => {
  closeRedis();
  await redis.stop();
  await memoryDir.remove();
  await redisDir.remove();
});

/** Everything the store holds about clients, as text, to prove the secret is not in it. */
async function storedText(backend: StoreBackend): Promise<string> {
  if (backend.kind === 'redis') return JSON.stringify(await backend.redis.hgetall(CLIENTS_HASH));
  return readFile(join(backend.dataDir, 'clients.json'), 'utf8');
}

for (const [name, backend] of [
  ['memory', () => ({ kind: 'memory', dataDir: memoryDir.path }) as StoreBackend],
  ['redis', () => redisStore],
] as const) {
  describe(`clients on the ${name} backend`, () => {
    test('add returns a secret that verifies, and only its hash is stored', async () => {
      const clients = new Clients(backend());
      const { secret } = await clients.add('billing', ['orders:read', 'orders:write']);
      assert.ok(secret.length >= 40);
      const verified = await clients.verify('billing', secret);
      assert.deepEqual(verified?.scopes, ['orders:read', 'orders:write']);
      assert.equal((await storedText(backend())).includes(secret), false);
    });

    test('a wrong secret, an unknown id and an invalid id do not verify', async () => {
      const clients = new Clients(backend());
      const { secret } = await clients.add('reports', ['a']);
      assert.equal(await clients.verify('reports', `${secret}x`), undefined);
      assert.equal(await clients.verify('nobody', secret), undefined);
      assert.equal(await clients.verify('bad id!', secret), undefined);
    });

    test('ids are unique and checked', async () => {
      const clients = new Clients(backend());
      await clients.add('unique', []);
      await assert.rejects(clients.add('unique', []), /already exists/);
      await assert.rejects(clients.add('has space', []), /client id/);
      await assert.rejects(clients.add('quoted', ['a"b']), /invalid scope/);
    });

    test('list shows ids and scopes, never secrets; remove deletes', async () => {
      const clients = new Clients(backend());
      const { secret } = await clients.add('temp', ['x']);
      const listed = await clients.list();
      const temp = listed.find((c) => c.id === 'temp');
      assert.deepEqual(temp?.scopes, ['x']);
      assert.deepEqual(Object.keys(temp ?? {}).sort(), ['createdAt', 'id', 'scopes']);
      assert.equal(await clients.remove('temp'), true);
      assert.equal(await clients.remove('temp'), false);
      assert.equal(await clients.verify('temp', secret), undefined);
      assert.equal(
        (await clients.list()).some((c) => c.id === 'temp'),
        false,
      );
    });
  });
}

test('the memory-mode clients file is readable by its owner only', async () => {
  assert.equal((await stat(join(memoryDir.path, 'clients.json'))).mode & 0o777, 0o600);
});
