/** docs/discovery.md's plain Redis commands, run exactly as written, register with a live gateway registry. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { startRedisRegistry } from './redis-fixture.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
let server: TestRedis;
let doc: string;

before(async () => {
  server = await startRedis();
  doc = await readFile(new URL('docs/discovery.md', root), 'utf8');
});
after(async () => {
  await server.stop();
});

/** The body of the doc's fenced block whose info string is `sh <name>`. */
function shBlock(name: string): string {
  const match = new RegExp('```sh ' + name + '\\n([\\s\\S]*?)```').exec(doc);
  assert.ok(match?.[1] !== undefined, `docs/discovery.md has no "sh ${name}" block`);
  return match[1];
}

/** Runs a documented shell block from the package root, as a user would paste it. */
async function runBlock(name: string): Promise<string> {
  const { stdout } = await run('sh', ['-c', shBlock(name)], {
    cwd: root,
    env: { ...process.env, REDIS_URL: server.url },
  });
  return stdout;
}

describe('docs/discovery.md', () => {
  test('the redis-cli register, drain and deregister commands reach a gateway within 1 s', async () => {
    const gw = await startRedisRegistry(server, { reconcileIntervalMs: 600_000 });
    try {
      assert.equal((await runBlock('register')).trim().split('\n')[0], '1');
      await waitFor(() => gw.registry.list('orders').length === 1, 1000, 'register');
      const [rec] = gw.registry.list('orders');
      assert.deepEqual(
        {
          id: rec?.id,
          url: rec?.url,
          weight: rec?.weight,
          capacity: rec?.capacity,
          meta: rec?.meta,
          draining: rec?.draining,
        },
        {
          id: 'orders-1',
          url: 'http://127.0.0.1:9001',
          weight: 2,
          capacity: 50,
          meta: { zone: 'eu-1' },
          draining: false,
        },
      );
      assert.equal(
        (await runBlock('register')).trim().split('\n')[0],
        '0',
        'a repeated register is a plain heartbeat',
      );

      await runBlock('drain');
      await waitFor(() => gw.registry.list('orders')[0]?.draining === true, 1000, 'drain');

      assert.equal((await runBlock('deregister')).trim(), '1');
      await waitFor(() => gw.registry.list('orders').length === 0, 1000, 'deregister');
    } finally {
      await gw.dispose();
    }
  });

  test('SCRIPT LOAD + EVALSHA with the documented keys and arguments work from a client library', async () => {
    const gw = await startRedisRegistry(server, { reconcileIntervalMs: 600_000 });
    const raw = server.client();
    try {
      const keys = [
        'edgeway:{registry}:instances',
        'edgeway:{registry}:expiry',
        'edgeway:{registry}:index',
      ];
      const channel = 'edgeway:{registry}:changes';
      const lua = (file: string): Promise<string> =>
        readFile(new URL(`redis/${file}`, root), 'utf8');
      const registerSha = String(
        await raw.call('SCRIPT', 'LOAD', await lua('registry-register.lua')),
      );
      const deregisterSha = String(
        await raw.call('SCRIPT', 'LOAD', await lua('registry-deregister.lua')),
      );

      const reply = (await raw.call(
        'EVALSHA',
        registerSha,
        3,
        ...keys,
        'billing',
        'b-1',
        '{"url":"http://127.0.0.1:9301"}',
        10000,
        channel,
      )) as number[];
      assert.equal(reply[0], 1);
      await waitFor(() => gw.registry.list('billing').length === 1, 1000, 'EVALSHA register');
      assert.deepEqual(gw.registry.list('billing')[0]?.weight, 1);
      assert.ok(
        Math.abs((reply[1] ?? 0) - (Date.now() + 10_000)) < 2000,
        'expiresAt is Redis time + ttl',
      );

      await assert.rejects(
        raw.call(
          'EVALSHA',
          registerSha,
          3,
          ...keys,
          'billing',
          'b/2',
          '{"url":"http://x"}',
          10000,
          channel,
        ),
        /service and id/,
      );
      await assert.rejects(
        raw.call(
          'EVALSHA',
          registerSha,
          3,
          ...keys,
          'billing',
          'b-2',
          '{"port":1}',
          10000,
          channel,
        ),
        /"url"/,
      );
      await assert.rejects(
        raw.call(
          'EVALSHA',
          registerSha,
          3,
          ...keys,
          'billing',
          'b-2',
          '{"url":"http://127.0.0.1:9302"}',
          360_000_000_000,
          channel,
        ),
        /ttl must be at most 86400000 \(24h\)/,
      );

      assert.equal(
        await raw.call('EVALSHA', deregisterSha, 3, ...keys, 'billing', 'b-1', channel),
        1,
      );
      await waitFor(() => gw.registry.list('billing').length === 0, 1000, 'EVALSHA deregister');
    } finally {
      raw.disconnect();
      await gw.dispose();
    }
  });
});
