/** `edgeway token issue` and `keys rotate` against a real Redis whose subscriber connection answers its handshake slowly. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startSlowReplyProxy } from '../helpers/slow-reply-proxy.js';
import { ROOT } from '../cli/cli-process.js';

const run = promisify(execFile);
let redis: TestRedis;

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await redis.stop();
});

/** Runs one command through a fresh proxy: its first connection (commands) is fast, the later ones (subscriber) slow. */
async function cliThroughSlowSubscriber(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proxy = await startSlowReplyProxy(redis.port, (connection) => (connection === 0 ? 0 : 300));
  const { REDIS_URL: _url, EDGEWAY_CONFIG: _config, ...env } = process.env;
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['bin/edgeway.js', ...args, '--redis', proxy.url],
      { cwd: ROOT, env, timeout: 20_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  } finally {
    await proxy.close();
  }
}

test('20 consecutive token issue and keys rotate runs all succeed while the subscriber connection is still in its handshake', async () => {
  const failures: string[] = [];
  for (let i = 0; i < 20; i += 1) {
    const args =
      i % 4 === 3
        ? ['keys', 'rotate']
        : ['token', 'issue', '--sub', `client-${i}`, '--scope', 'orders:read'];
    const result = await cliThroughSlowSubscriber(args);
    if (result.code !== 0 || result.stderr !== '')
      failures.push(`run ${i} (${args.join(' ')}): exit ${result.code}: ${result.stderr.trim()}`);
  }
  assert.deepEqual(failures, []);
});
