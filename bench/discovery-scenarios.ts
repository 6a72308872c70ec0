/**
 * Discovery and balancing scenarios for `npm run bench`: the same route over 3 static vs 3 Redis-registered
 * instances (expected within 5% req/s), and round-robin vs least-request p99 when 1 of 3 instances is 5x slower.
 */
import { spawn } from 'node:child_process';
import { register } from '../src/discovery/client.js';
import { freePort, startBenchUpstream, startGatewayProcess } from './processes.js';
import type { ScenarioContext, ScenarioGroup, Target } from './scenarios.js';

/** Upstreams and load generator share this CPU; the gateway gets `ctx.proxyCpu`. */
const OTHER_CPU = '1';
/** Base latency of the balancing upstreams, ms; the slow one takes 5x. */
const FAST_MS = 2;
const SLOW_MS = FAST_MS * 5;

/** REDIS_URL, else a throwaway redis-server killed when the bench exits. */
export async function benchRedis(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  process.on('exit', () => child.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${port}`;
  // register() rejects until the server accepts connections; retry briefly.
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = await register({
      redis: url,
      service: 'bench-probe',
      id: 'probe',
      url: 'http://127.0.0.1:1',
      ttlMs: 1000,
    }).catch(() => undefined);
    if (probe !== undefined) {
      await probe.stop();
      return url;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server did not start');
}

function config(staticUrls: readonly string[], balancing: readonly string[]): string {
  const list = (urls: readonly string[]): string => `[${urls.join(', ')}]`;
  return `services:
  fixed:
    instances: ${list(staticUrls)}
    loadBalancer: { policy: round-robin }
  found:
    discovery: redis
    loadBalancer: { policy: round-robin }
  rr:
    instances: ${list(balancing)}
    loadBalancer: { policy: round-robin }
  lr:
    instances: ${list(balancing)}
    loadBalancer: { policy: least-request }
routes:
  - { name: fixed, match: { path: /fixed }, service: fixed, stripPrefix: true }
  - { name: found, match: { path: /found }, service: found, stripPrefix: true }
  - { name: rr, match: { path: /rr }, service: rr, stripPrefix: true }
  - { name: lr, match: { path: /lr }, service: lr, stripPrefix: true }
`;
}

async function waitForInstances(adminPort: number, service: string, count: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const body = (await fetch(`http://127.0.0.1:${adminPort}/admin/services`).then((r) =>
      r.json(),
    )) as { services: Array<{ name: string; instances: unknown[] }> };
    if (body.services.find((s) => s.name === service)?.instances.length === count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the gateway never saw ${count} instances of ${service}`);
}

const STATIC = 'discovery: 3 static instances';
const REGISTERED = 'discovery: 3 Redis-registered';
const ROUND_ROBIN = `round-robin, 1 of 3 at ${SLOW_MS}ms`;
const LEAST_REQUEST = `least-request, 1 of 3 at ${SLOW_MS}ms`;

/** The discovery scenarios; one gateway serves them all. */
export const discoveryGroup: ScenarioGroup = {
  scenarios: [
    { name: STATIC },
    { name: REGISTERED, versus: [STATIC] },
    { name: ROUND_ROBIN },
    { name: LEAST_REQUEST },
  ],
  start: startDiscovery,
};

/** Starts the upstreams, Redis registrations and the gateway the discovery scenarios use. */
async function startDiscovery(ctx: ScenarioContext): Promise<Record<string, Target>> {
  const redisUrl = await benchRedis();
  const three = [
    ...ctx.upstreams.slice(0, 2),
    ...(await Promise.all(
      Array.from({ length: 3 - Math.min(2, ctx.upstreams.length) }, () =>
        startBenchUpstream(OTHER_CPU),
      ),
    )),
  ];
  const balancing = [
    await startBenchUpstream(OTHER_CPU, FAST_MS),
    await startBenchUpstream(OTHER_CPU, FAST_MS),
    await startBenchUpstream(OTHER_CPU, SLOW_MS),
  ];
  const gw = await startGatewayProcess(ctx.proxyCpu, config(three, balancing), {}, [
    '--redis',
    redisUrl,
  ]);
  // Heartbeats run until the bench exits; the registrations then lapse with the throwaway Redis.
  await Promise.all(
    three.map((url, i) =>
      register({ redis: redisUrl, service: 'found', id: `bench-${i + 1}`, url, ttlMs: 10_000 }),
    ),
  );
  await waitForInstances(gw.adminPort, 'found', 3);
  const base = `http://127.0.0.1:${gw.port}`;
  const pid = gw.child.pid;
  return {
    [STATIC]: { url: `${base}/fixed/item`, pid },
    [REGISTERED]: { url: `${base}/found/item`, pid },
    [ROUND_ROBIN]: { url: `${base}/rr/item`, pid },
    [LEAST_REQUEST]: { url: `${base}/lr/item`, pid },
  };
}
