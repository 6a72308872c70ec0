import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream } from '../helpers/upstream.js';
import { freePort } from '../helpers/redis-server.js';

test('SIGTERM stops accepting, drains the in-flight request and exits 0', async () => {
  const up = await startUpstream((_req, res) => setTimeout(() => res.end('finished'), 700));
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-stop-'));
  writeFileSync(join(dir, 'c.yaml'), `services:\n  svc:\n    instances: [${up.url}]\nroutes:\n  - { name: all, match: { path: / }, service: svc }\n`);
  const [port, adminPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['bin/edgeway.js', 'start', '--config', dir, '--port', String(port), '--admin-port', String(adminPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REDIS_URL: '', EDGEWAY_DATA_DIR: join(dir, '.data') },
  });
  try {
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    while (!log.includes('edgeway listening')) {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(log, /embedded in-memory store/);
    const slow = request(`http://127.0.0.1:${port}/slow`);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(child.pid as number, 'SIGTERM');
    const res = await slow;
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'finished');
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    await assert.rejects(request(`http://127.0.0.1:${port}/after`));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
