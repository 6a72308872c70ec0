/** `npm run chaos`: steady load on two gateways sharing one Redis while an upstream dies, Redis restarts, config reloads, keys rotate and a token is revoked. */
import { execFile, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compiled, freePort, startNode, stopAll } from './processes.js';
import { startRedis, type TestRedis } from '../test/helpers/redis-server.js';

const run = promisify(execFile);
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 60);
const CONCURRENCY = 20;
const LIMIT = { capacity: 50, refillPerSecond: 20 };
const CPUS = '0-1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CONFIG = `auth:
  issuers: [{ issuer: edgeway, audience: api }]
services:
  api:
    discovery: redis
    loadBalancer: { policy: least-request }
    healthCheck: { path: /healthz, interval: 1s, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 2 }
    outlierDetection: { consecutive5xx: 3, baseEjectionTime: 10s, maxEjectionPercent: 50 }
    retries: { attempts: 2, on: [connect-failure, reset, 502, 503, 504], backoff: 10ms }
    timeouts: { connect: 500ms, request: 5s }
routes:
  - { name: api, match: { path: /api }, service: api }
  - { name: limited, match: { path: /limited }, service: api, rateLimit: { capacity: ${LIMIT.capacity}, refillPerSecond: ${LIMIT.refillPerSecond}, key: route } }
  - { name: secure, match: { path: /secure }, service: api, auth: { required: true, scopes: [read] } }
`;

interface Gw {
  readonly url: string;
  readonly admin: string;
}

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls until `check` holds, returning the ms it took (or NaN after 30 s). */
async function timeUntil(check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 30_000) {
    if (await check().catch(() => false)) return Math.round(performance.now() - started);
    await sleep(50);
  }
  return Number.NaN;
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-chaos-'));
  const env = {
    EDGEWAY_DATA_DIR: join(dir, '.data'),
    EDGEWAY_ACCESS_LOG: 'off',
    REDIS_URL: redis.url,
  };
  const cli = async (...args: string[]): Promise<string> =>
    (
      await run(process.execPath, ['bin/edgeway.js', ...args, '--config', dir], {
        env: { ...process.env, ...env },
      })
    ).stdout;
  writeFileSync(join(dir, 'config.yaml'), CONFIG);
  try {
    await drive(redis, dir, env, cli);
  } finally {
    stopAll();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts upstreams and gateways, runs the load and the events, prints the report. */
async function drive(
  redis: TestRedis,
  dir: string,
  env: NodeJS.ProcessEnv,
  cli: (...args: string[]) => Promise<string>,
): Promise<void> {
  const upstreams: Array<{ url: string; server: ChildProcess; registrar: ChildProcess }> = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = await startNode(
      CPUS,
      [compiled('bench/upstream.ts'), String(port), '0'],
      'ready',
    );
    const registrar = await startNode(
      CPUS,
      [
        'bin/edgeway.js',
        'register',
        '--service',
        'api',
        '--id',
        `u${i}`,
        '--url',
        url,
        '--ttl',
        '3s',
      ],
      'registered',
      env,
    );
    upstreams.push({ url, server, registrar });
  }
  const gateways: Gw[] = [];
  for (let i = 0; i < 2; i++) {
    const [port, adminPort] = [await freePort(), await freePort()];
    await startNode(
      CPUS,
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
      'edgeway listening',
      env,
    );
    gateways.push({ url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}` });
  }
  const everywhere = async (check: (g: Gw) => Promise<boolean>): Promise<boolean> =>
    (await Promise.all(gateways.map(check))).every(Boolean);
  const instances = async (
    g: Gw,
  ): Promise<Array<{ id: string; healthy: boolean | null; ejected: boolean }>> => {
    const body = (await (await fetch(`${g.admin}/admin/services`)).json()) as {
      services: Array<{
        name: string;
        instances: Array<{ id: string; healthy: boolean | null; ejected: boolean }>;
      }>;
    };
    return body.services.find((s) => s.name === 'api')?.instances ?? [];
  };
  await timeUntil(() => everywhere(async (g) => (await instances(g)).length === 3));

  const issue = async (): Promise<{ token: string; jti: string }> =>
    JSON.parse(
      await cli('token', 'issue', '--sub', 'chaos', '--scope', 'read', '--ttl', '10m', '--json'),
    ) as { token: string; jti: string };
  const early = await issue();
  const earlyStatus = await Promise.all(
    gateways.map((g) => status(`${g.url}/secure`, { authorization: `Bearer ${early.token}` })),
  );

  // Load: CONCURRENCY loops, a quarter on the rate-limited route, alternating gateways.
  const counts = {
    sent: 0,
    answered: 0,
    byCode: new Map<number, number>(),
    getFailures: [] as number[],
    limitedOk: [] as number[],
    limitedDemand: 0,
  };
  const startedAt = performance.now();
  const deadline = startedAt + SECONDS * 1000;
  const loops = Array.from({ length: CONCURRENCY }, async (_, worker) => {
    for (let n = 0; performance.now() < deadline; n++) {
      const g = gateways[(worker + n) % 2] as Gw;
      const limited = worker % 4 === 0;
      counts.sent++;
      const code = await status(`${g.url}${limited ? '/limited' : '/api'}`);
      if (code !== 0) counts.answered++;
      counts.byCode.set(code, (counts.byCode.get(code) ?? 0) + 1);
      if (limited) {
        counts.limitedDemand++;
        if (code === 200) counts.limitedOk.push(performance.now() - startedAt);
      } else if (code !== 200)
        counts.getFailures.push(Math.round((performance.now() - startedAt) / 100) / 10);
    }
  });

  const notices: Array<{ event: string; at: string; noticeMs: number }> = [];
  const notes: string[] = [];
  let redisDownAt = Number.NaN;
  const at = async (fraction: number): Promise<string> => {
    await sleep(Math.max(0, startedAt + fraction * SECONDS * 1000 - performance.now()));
    return `${Math.round((performance.now() - startedAt) / 100) / 10}s`;
  };
  const events = (async () => {
    let when = await at(0.15);
    const victim = upstreams[0] as (typeof upstreams)[number];
    victim.server.kill('SIGKILL');
    victim.registrar.kill('SIGKILL');
    notices.push({
      event: 'kill upstream u0 (server + its heartbeat)',
      at: when,
      noticeMs: await timeUntil(() =>
        everywhere(
          async (g) =>
            !(await instances(g)).some((i) => i.id === 'u0' && i.healthy !== false && !i.ejected),
        ),
      ),
    });

    when = await at(0.3);
    redisDownAt = performance.now() - startedAt;
    await redis.stop();
    await sleep(2000);
    await redis.restart();
    notices.push({
      event: 'Redis down 2 s, restarted empty: live instances listed again',
      at: when,
      noticeMs: await timeUntil(() =>
        everywhere(async (g) => (await instances(g)).filter((i) => i.id !== 'u0').length === 2),
      ),
    });
    const afterRestart = await Promise.all(
      gateways.map((g) => status(`${g.url}/secure`, { authorization: `Bearer ${early.token}` })),
    );
    notes.push(
      `a token issued before the Redis restart answered ${earlyStatus.join('/')} before and ${afterRestart.join('/')} after it`,
    );

    when = await at(0.5);
    appendFileSync(
      join(dir, 'config.yaml'),
      '  - { name: reloaded, match: { path: /reloaded }, service: api }\n',
    );
    await Promise.all(
      gateways.map((g) =>
        fetch(`${g.admin}/admin/reload`, { method: 'POST' }).then((r) => r.arrayBuffer()),
      ),
    );
    notices.push({
      event: 'config edit + POST /admin/reload: new route answers',
      at: when,
      noticeMs: await timeUntil(() =>
        everywhere(async (g) => (await status(`${g.url}/reloaded`)) === 200),
      ),
    });

    when = await at(0.65);
    const rotated = /new current key (\S+)/.exec(await cli('keys', 'rotate'))?.[1] ?? '?';
    notices.push({
      event: `keys rotate (${rotated}): served in /.well-known/jwks.json`,
      at: when,
      noticeMs: await timeUntil(() =>
        everywhere(async (g) =>
          (await (await fetch(`${g.url}/.well-known/jwks.json`)).text()).includes(rotated),
        ),
      ),
    });

    when = await at(0.8);
    const issued = await issue();
    const bearer = { authorization: `Bearer ${issued.token}` };
    const before = await Promise.all(gateways.map((g) => status(`${g.url}/secure`, bearer)));
    await cli('token', 'revoke', '--jti', issued.jti);
    notices.push({
      event: `token revoke (was ${before.join('/')} before): 401 everywhere`,
      at: when,
      noticeMs: await timeUntil(() =>
        everywhere(async (g) => (await status(`${g.url}/secure`, bearer)) === 401),
      ),
    });
  })();

  await Promise.all([...loops, events]);
  const elapsed = (performance.now() - startedAt) / 1000;
  const ideal = Math.min(counts.limitedDemand, LIMIT.capacity + LIMIT.refillPerSecond * elapsed);
  const allowed = counts.limitedOk.length;
  const allowedBeforeOutage = counts.limitedOk.filter((t) => t < redisDownAt).length;
  const idealBeforeOutage = LIMIT.capacity + (LIMIT.refillPerSecond * redisDownAt) / 1000;
  process.stdout.write(
    `\nedgeway chaos: ${elapsed.toFixed(1)} s, ${CONCURRENCY} concurrent loops over 2 gateways, 3 upstreams, 1 Redis (2 cores shared with the load generator)\n`,
  );
  process.stdout.write(
    `requests sent ${counts.sent}, answered ${counts.answered} (${counts.sent - counts.answered} without an answer)\n`,
  );
  process.stdout.write(
    `by status: ${[...counts.byCode]
      .sort((a, b) => a[0] - b[0])
      .map(([c, n]) => `${c === 0 ? 'no answer' : c}: ${n}`)
      .join(', ')}\n`,
  );
  process.stdout.write(
    `GETs on /api that failed: ${counts.getFailures.length}${counts.getFailures.length > 0 ? ` (at ${[...new Set(counts.getFailures)].slice(0, 20).join('s, ')}s)` : ''}\n`,
  );
  const pct = (got: number, want: number): string => `${(((got - want) / want) * 100).toFixed(1)}%`;
  process.stdout.write(
    `rate limit /limited: allowed ${allowed} of ${counts.limitedDemand}; ideal ${Math.round(ideal)} (capacity ${LIMIT.capacity} + ${LIMIT.refillPerSecond}/s); error ${pct(allowed, ideal)}; before the Redis outage ${allowedBeforeOutage} vs ${Math.round(idealBeforeOutage)} (${pct(allowedBeforeOutage, idealBeforeOutage)})\n`,
  );
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
  for (const n of notices)
    process.stdout.write(
      `  ${n.at.padStart(6)}  ${n.event}: noticed in ${Number.isNaN(n.noticeMs) ? 'NOT within 30 s' : `${n.noticeMs} ms`}\n`,
    );
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
