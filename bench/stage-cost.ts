/**
 * In-process cost of the full path's stages, per request: the `auth` stage with one cached token and the
 * `rate_limit` stage on a Redis token bucket that is never hit, built as the gateway builds them and run on
 * a fresh request context each time (as bench/full-path-scenario.ts configures them). Phases run one after
 * the other in one process: a harness-only phase (context and loop), `auth`, `rate_limit`, then both.
 * Under `valgrind --tool=callgrind` with `--callgrind` each phase ends with a dump of its instruction count
 * (callgrind_control -d), so a phase's count over its requests is its exact cost, whatever the machine load:
 * `valgrind --tool=callgrind --callgrind-out-file=OUT node dist/bench/stage-cost.js --callgrind`
 * Without it: CPU µs and bytes allocated per request (heap growth between collections, from v8.GCProfiler).
 * `node --import tsx bench/stage-cost.ts [--requests N] [--redis URL]`
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { configSchema } from '../src/config/schema.js';
import type { RequestContext, Stage } from '../src/request/context.js';
import { buildAuthStage } from '../src/security/auth-stage.js';
import { createSecurity } from '../src/security/index.js';
import { closeBackend, connectBackend } from '../src/store/connect.js';
import { NOOP_SPAN } from '../src/telemetry/tracing/spans.js';
import { RateLimitCounters } from '../src/traffic/rate-limit/counters.js';
import { createRateLimiterProvider } from '../src/traffic/rate-limit/provider.js';
import { buildRateLimitStage } from '../src/traffic/rate-limit/stage.js';
import { benchFlags } from './args.js';
import { benchRedis } from './discovery-scenarios.js';

const ISSUER = { issuer: 'edgeway', audience: 'bench' };

/** The full-path route of bench/full-path-scenario.ts, with the schema's defaults. */
const config = configSchema.parse({
  auth: { issuers: [ISSUER] },
  services: { bench: { instances: ['http://127.0.0.1:1'] } },
  routes: [
    {
      name: 'full',
      match: { path: '/full' },
      service: 'bench',
      auth: { required: true, scopes: ['bench:read'] },
      rateLimit: { capacity: 1_000_000_000, refillPerSecond: 1_000_000_000, key: 'route' },
    },
  ],
});
const route = config.routes[0] as (typeof config.routes)[number];

/** One keep-alive connection: every request of a phase arrives on it. */
const connection = {};

function context(headers: IncomingMessage['headers']): RequestContext {
  return {
    req: { headers, socket: connection } as unknown as IncomingMessage,
    res: { writableEnded: false } as ServerResponse,
    requestId: 'req-1',
    startedAt: 0n,
    route: { name: route.name, config: route } as unknown as RequestContext['route'],
    path: '/full/item',
    query: '',
    clientIp: '127.0.0.1',
    principal: undefined,
    responseHeaders: [],
    upstreamHeaders: [],
    trace: {
      span: NOOP_SPAN,
      context: ROOT_CONTEXT,
      method: 'GET',
      traceId: '',
      incomingTraceparent: undefined,
      incomingTracestate: undefined,
      attempts: 0,
      upstreamFailure: undefined,
    },
    service: undefined,
    instance: undefined,
    upstreamMs: 0,
  };
}

/** Runs `stages` on `requests` fresh contexts, awaiting a stage only when it returned a promise (as handle-request does). */
async function run(
  stages: readonly Stage[],
  headers: IncomingMessage['headers'],
  requests: number,
): Promise<void> {
  for (let i = 0; i < requests; i++) {
    const ctx = context(headers);
    for (const stage of stages) {
      const pending = stage(ctx);
      if (pending !== undefined) await pending;
    }
    if (ctx.responseHeaders.length === 0 && stages.length > 1) throw new Error('no decision');
  }
}

/** CPU µs and bytes allocated per request while `work` runs: between collections the heap grows only by allocation. */
async function measure(work: () => Promise<void>, requests: number) {
  const profiler = new GCProfiler();
  let last = getHeapStatistics().used_heap_size;
  profiler.start();
  const cpu = process.cpuUsage();
  await work();
  const used = process.cpuUsage(cpu);
  const end = getHeapStatistics().used_heap_size;
  let allocated = 0;
  for (const gc of profiler.stop()?.statistics ?? []) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - last;
    last = gc.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += end - last;
  return { cpuUs: (used.user + used.system) / requests, bytes: allocated / requests };
}

async function main(): Promise<void> {
  const {
    requests,
    redis: redisUrl,
    callgrind,
  } = benchFlags({
    requests: 20000,
    redis: null,
    callgrind: false,
  });
  const redis = redisUrl ?? (await benchRedis());
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeway-stage-cost-'));
  const backend = connectBackend(redis, dataDir);
  const security = await createSecurity(backend, config.auth);
  const { token } = await security.issueToken({
    sub: 'bench-client',
    scopes: ['bench:read'],
    ttlMs: 3_600_000,
  });
  const limiters = createRateLimiterProvider({
    backend,
    logger: { warn: () => undefined, info: () => undefined },
  });
  await limiters.start();
  const deps = { limiters, counters: new RateLimitCounters() };
  const auth = buildAuthStage(route, security) as Stage;
  const rateLimit = buildRateLimitStage(route, deps) as Stage;
  const headers = { host: 'bench', authorization: `Bearer ${token}` };
  const phases: ReadonlyArray<readonly [string, readonly Stage[]]> = [
    ['harness', []],
    ['auth', [auth]],
    ['rate_limit', [rateLimit]],
    ['auth + rate_limit', [auth, rateLimit]],
  ];
  for (const [, stages] of phases) await run(stages, headers, Math.min(requests, 5000));
  if (callgrind) {
    const dump = (label: string): void => {
      execFileSync('callgrind_control', ['--dump=' + label, String(process.pid)], {
        stdio: 'ignore',
      });
    };
    dump('warm-up');
    for (const [name, stages] of phases) {
      await run(stages, headers, requests);
      dump(`${name} x${requests}`);
    }
  } else {
    console.log(`stage cost per request, ${requests} requests per phase (in process)`);
    for (const [name, stages] of phases) {
      const { cpuUs, bytes } = await measure(() => run(stages, headers, requests), requests);
      console.log(
        `${name.padEnd(20)}${cpuUs.toFixed(2).padStart(8)} µs CPU${bytes.toFixed(0).padStart(8)} B`,
      );
    }
  }
  await limiters.close();
  await security.close();
  await closeBackend(backend);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
