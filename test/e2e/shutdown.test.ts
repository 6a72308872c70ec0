/** `edgeway start` as a child process: SIGTERM drains without losing a request, SIGHUP reloads instead of killing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { freePort } from '../helpers/redis-server.js';
import { keepAliveLoad } from '../helpers/keep-alive-load.js';
import { waitFor } from '../helpers/wait-for.js';

interface Child {
  readonly child: ChildProcess;
  readonly port: number;
  readonly adminPort: number;
  readonly log: () => string;
}

/** Starts `edgeway start` on a one-route config in a fresh folder and waits until it listens. */
async function startEdgeway(up: Upstream, dir: string): Promise<Child> {
  writeFileSync(
    join(dir, 'c.yaml'),
    `services:\n  svc:\n    instances: [${up.url}]\nroutes:\n  - { name: all, match: { path: / }, service: svc }\n`,
  );
  const [port, adminPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      'bin/edgeway.js',
      'start',
      '--config',
      dir,
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL: '', EDGEWAY_DATA_DIR: join(dir, '.data') },
    },
  );
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${log}`);
      return log.includes('edgeway listening');
    },
    20_000,
    'edgeway listening',
    50,
  );
  return { child, port, adminPort, log: () => log };
}

/** Kills the child by its PID if it still runs. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(child.pid as number, 'SIGKILL');
  await exited;
}

test('SIGTERM stops accepting, drains the in-flight request and exits 0', async () => {
  const up = await startUpstream((_req, res) => setTimeout(() => res.end('finished'), 700));
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-stop-'));
  const gw = await startEdgeway(up, dir);
  try {
    assert.match(gw.log(), /embedded in-memory store/);
    const slow = request(`http://127.0.0.1:${gw.port}/slow`);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(gw.child.pid as number, 'SIGTERM');
    const res = await slow;
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'finished');
    const [code] = (await once(gw.child, 'exit')) as [number];
    assert.equal(code, 0);
    await assert.rejects(request(`http://127.0.0.1:${gw.port}/after`));
  } finally {
    await kill(gw.child);
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM under a loop of keep-alive clients: every request sent is answered, each connection ends between requests', async () => {
  const up = await startUpstream((_req, res) => setTimeout(() => res.end('ok'), 2));
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-stop-'));
  const gw = await startEdgeway(up, dir);
  try {
    const load = keepAliveLoad(`http://127.0.0.1:${gw.port}/x`, 8);
    await waitFor(async () => load.tally.ok > 200, 10_000, 'the load to run', 20);
    process.kill(gw.child.pid as number, 'SIGTERM');
    const [code] = (await once(gw.child, 'exit')) as [number];
    const tally = await load.stop();
    assert.equal(code, 0, gw.log());
    assert.deepEqual(tally.failures, [], `${tally.ok} answered`);
    assert.equal(tally.refused, 8, 'each client ends only when its next connection is refused');
  } finally {
    await kill(gw.child);
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP reloads the config under a loop of keep-alive clients and loses no request', async () => {
  const up = await startUpstream((_req, res) => setTimeout(() => res.end('ok'), 2));
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-hup-'));
  const gw = await startEdgeway(up, dir);
  try {
    const load = keepAliveLoad(`http://127.0.0.1:${gw.port}/x`, 8);
    await waitFor(async () => load.tally.ok > 200, 10_000, 'the load to run', 20);
    const before = gw.log().length;
    process.kill(gw.child.pid as number, 'SIGHUP');
    await waitFor(
      async () => gw.log().slice(before).includes('config reloaded'),
      10_000,
      'the reload',
      20,
    );
    const okAtReload = load.tally.ok;
    await waitFor(
      async () => load.tally.ok > okAtReload + 200,
      10_000,
      'more requests after the reload',
      20,
    );
    const tally = await load.stop();
    assert.equal(gw.child.exitCode, null, gw.log());
    assert.deepEqual(tally.failures, [], `${tally.ok} answered`);
    assert.equal(tally.refused, 0);
    const metrics = await request(`http://127.0.0.1:${gw.adminPort}/metrics`);
    assert.match(await metrics.body.text(), /edgeway_config_reloads_total\{result="success"\} 1\n/);
  } finally {
    await kill(gw.child);
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
