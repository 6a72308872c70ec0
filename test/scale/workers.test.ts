/** `edgeway start --workers 2` as a child process: both workers answer, SIGHUP restarts them without losing a request, SIGTERM exits 0. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait-for.js';
import { keepAliveLoad } from '../helpers/keep-alive-load.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'edgeway.js');

/** A GET on a fresh connection (no keep-alive), so cluster's round-robin deals each one to the next worker. */
function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** The PIDs holding an established connection to `port` on loopback (the gateway workers' upstream pools). */
function pidsConnectedTo(port: number): Set<number> {
  const out = execFileSync('ss', [
    '-Htnp',
    'state',
    'established',
    'dst',
    `127.0.0.1:${port}`,
  ]).toString();
  return new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
}

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
}

function startEdgeway(args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, [BIN, 'start', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REDIS_URL: '', ...env },
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

describe('edgeway start --workers 2', () => {
  let redis: TestRedis;
  let upstream: Upstream;
  let dir: string;
  let gw: Started;
  let url: string;
  let adminUrl: string;

  before(async () => {
    redis = await startRedis();
    upstream = await startUpstream();
    dir = mkdtempSync(join(tmpdir(), 'edgeway-workers-'));
    writeFileSync(
      join(dir, 'config.yaml'),
      `services:\n  svc:\n    instances: [${upstream.url}]\nroutes:\n  - name: all\n    match: { path: / }\n    service: svc\n`,
    );
    const [port, adminPort] = [await freePort(), await freePort()];
    url = `http://127.0.0.1:${port}`;
    adminUrl = `http://127.0.0.1:${adminPort}`;
    gw = startEdgeway(
      [
        '--config',
        dir,
        '--port',
        String(port),
        '--admin-port',
        String(adminPort),
        '--redis',
        redis.url,
        '--workers',
        '2',
      ],
      { EDGEWAY_DATA_DIR: join(dir, '.data'), EDGEWAY_ACCESS_LOG: 'off' },
    );
    await waitFor(
      async () => gw.output().includes('"msg":"edgeway listening"'),
      30_000,
      'edgeway listening',
      100,
    );
  });

  after(async () => {
    if (gw?.child.exitCode === null && gw.child.signalCode === null) {
      const exited = once(gw.child, 'exit');
      process.kill(gw.child.pid as number, 'SIGKILL');
      await exited;
    }
    await upstream?.close();
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('both workers answer, each a process of its own', async () => {
    const listening = /"pids":\[(\d+),(\d+)\]/.exec(gw.output());
    assert.ok(listening, gw.output());
    const workerPids = new Set([Number(listening[1]), Number(listening[2])]);
    assert.equal(workerPids.size, 2);
    assert.ok(!workerPids.has(gw.child.pid as number), 'workers are not the primary');
    const statuses = await Promise.all(Array.from({ length: 20 }, () => get(`${url}/x`)));
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.deepEqual(
      pidsConnectedTo(upstream.port),
      workerPids,
      'each worker forwarded requests upstream',
    );
    assert.equal(await get(`${adminUrl}/healthz`), 200);
  });

  test('/metrics on the admin port counts the requests of every worker', async () => {
    const routeCount = async (): Promise<{ requests: number; redisUp: string | undefined }> => {
      const text = await new Promise<string>((resolve, reject) => {
        request(`${adminUrl}/metrics`, { agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        })
          .on('error', reject)
          .end();
      });
      const requests = [
        ...text.matchAll(/^edgeway_requests_total\{route="all",[^}]*status="200"[^}]*\} (\d+)$/gm),
      ].reduce((n, m) => n + Number(m[1]), 0);
      return { requests, redisUp: /^edgeway_redis_up (\S+)$/m.exec(text)?.[1] };
    };
    const before = await routeCount();
    const statuses = await Promise.all(Array.from({ length: 20 }, () => get(`${url}/counted`)));
    assert.deepEqual(new Set(statuses), new Set([200]));
    const after = await routeCount();
    assert.equal(after.requests - before.requests, 20, "both workers' requests are in the scrape");
    assert.equal(after.redisUp, '1', 'a gauge of shared state is not summed over workers');
  });

  test('SIGHUP under a loop of keep-alive clients: the rolling restart loses no request', async () => {
    const before = gw.output().length;
    const load = keepAliveLoad(`${url}/kept`, 8);
    await waitFor(async () => load.tally.ok > 100, 10_000, 'the load to run', 20);
    process.kill(gw.child.pid as number, 'SIGHUP');
    await waitFor(
      async () => gw.output().slice(before).includes('rolling restart done'),
      60_000,
      'the rolling restart to finish',
      100,
    );
    const okAtRestart = load.tally.ok;
    await waitFor(
      async () => load.tally.ok > okAtRestart + 100,
      10_000,
      'requests to the new workers',
      20,
    );
    const tally = await load.stop();
    assert.deepEqual(tally.failures, [], `${tally.ok} answered`);
    assert.equal(tally.refused, 0);
  });

  test('SIGHUP restarts the workers one at a time without losing a request of a steady loop', async () => {
    const before = gw.output().length;
    const statuses: number[] = [];
    let running = true;
    const loop = (async () => {
      while (running) statuses.push(await get(`${url}/steady`));
    })();
    await new Promise((r) => setTimeout(r, 300));
    process.kill(gw.child.pid as number, 'SIGHUP');
    await waitFor(
      async () => gw.output().slice(before).includes('rolling restart done'),
      60_000,
      'the rolling restart to finish',
      100,
    );
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await loop;
    const restarted = gw.output().slice(before);
    assert.equal((restarted.match(/"msg":"worker listening"/g) ?? []).length, 2, restarted);
    assert.ok(statuses.length > 20, `only ${statuses.length} requests`);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
      `${statuses.length} requests`,
    );
  });

  test('a SIGHUP while the config is invalid keeps the running workers serving', async () => {
    const config = join(dir, 'config.yaml');
    const good = readFileSync(config, 'utf8');
    const before = gw.output().length;
    writeFileSync(config, 'routes: [{ name: broken }]\n');
    try {
      process.kill(gw.child.pid as number, 'SIGHUP');
      await waitFor(
        async () => gw.output().slice(before).includes('rolling restart done'),
        60_000,
        'the rolling restart to give up',
        100,
      );
      assert.equal(
        (
          gw
            .output()
            .slice(before)
            .match(/keeping the old one/g) ?? []
        ).length,
        2,
      );
      const statuses = await Promise.all(Array.from({ length: 10 }, () => get(`${url}/x`)));
      assert.deepEqual(new Set(statuses), new Set([200]));
    } finally {
      writeFileSync(config, good);
    }
  });

  test('SIGTERM drains every worker under a loop of keep-alive clients, losing no request, and the primary exits 0', async () => {
    const load = keepAliveLoad(`${url}/kept`, 8);
    await waitFor(async () => load.tally.ok > 100, 10_000, 'the load to run', 20);
    const exited = once(gw.child, 'exit');
    process.kill(gw.child.pid as number, 'SIGTERM');
    const timer = setTimeout(() => gw.child.kill('SIGKILL'), 20_000);
    const [code] = await exited;
    clearTimeout(timer);
    const tally = await load.stop();
    assert.equal(code, 0, gw.output());
    assert.deepEqual(tally.failures, [], `${tally.ok} answered`);
    assert.equal(tally.refused, 8);
    assert.equal(await get(`${url}/x`), 0, 'nothing listens any more');
  });

  test('--workers 2 without Redis exits 1 and says why', async () => {
    const alone = startEdgeway(['--config', dir, '--port', '0', '--workers', '2'], {
      EDGEWAY_DATA_DIR: join(dir, '.data'),
    });
    const [code] = await once(alone.child, 'exit');
    assert.equal(code, 1);
    assert.match(alone.output(), /--workers 2 needs a shared store/);
  });
});
