/**
 * `--workers 2` against one worker on the same route and the same Redis. Both runs are unpinned (workers
 * spread over every core, sharing them with the load generator and the upstreams), so on a 2-core machine
 * the ratio is a floor, not what two dedicated cores would give. Hooked into `npm run bench`; run alone
 * (`node --import tsx bench/workers-scenario.ts`) it measures both interleaved and prints the scaling ratio.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { drive } from './load.js';
import { freePort, startBenchUpstream, runAndExit, startGatewayProcess } from './processes.js';
import type { ScenarioContext, ScenarioGroup, Target } from './scenarios.js';

/** Every CPU: workers are not pinned (taskset to all cores is the same as no pinning). */
const ALL_CPUS = '0-1';

/** A throwaway redis-server, killed when the bench process exits. */
async function throwawayRedis(): Promise<string> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  process.on('exit', () => child.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 300));
  return `redis://127.0.0.1:${port}`;
}

function config(upstreams: readonly string[]): string {
  return `services:\n  bench:\n    instances: [${upstreams.join(', ')}]\n    loadBalancer: { policy: round-robin }\nroutes:\n  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }\n`;
}

const ONE = 'workers: 1 (unpinned, Redis)';
const TWO = 'workers: 2 (unpinned, Redis)';

/** `edgeway start --workers 1` and `--workers 2` on one Redis. */
export const workersGroup: ScenarioGroup = {
  scenarios: [{ name: ONE }, { name: TWO }],
  start: startWorkers,
};

async function startWorkers(ctx: ScenarioContext): Promise<Record<string, Target>> {
  const redisUrl = await throwawayRedis();
  const one = await startGatewayProcess(ALL_CPUS, config(ctx.upstreams), {}, [
    '--redis',
    redisUrl,
    '--workers',
    '1',
  ]);
  const two = await startGatewayProcess(ALL_CPUS, config(ctx.upstreams), {}, [
    '--redis',
    redisUrl,
    '--workers',
    '2',
  ]);
  // No pid: CPU of a worker cluster is spread over processes, so the table shows req/s only.
  return {
    [ONE]: { url: `http://127.0.0.1:${one.port}/bench/item` },
    [TWO]: { url: `http://127.0.0.1:${two.port}/bench/item` },
  };
}

async function standalone(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const upstreams = [await startBenchUpstream(ALL_CPUS), await startBenchUpstream(ALL_CPUS)];
  const targets = await startWorkers({ upstreams, proxyCpu: ALL_CPUS, otherCpu: ALL_CPUS });
  const [one, two] = [targets[ONE], targets[TWO]] as [Target, Target];
  await drive(one.url, 1, 50, ALL_CPUS);
  await drive(two.url, 1, 50, ALL_CPUS);
  const rps = { one: [] as number[], two: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    rps.one.push((await drive(one.url, seconds, 50, ALL_CPUS)).rps);
    rps.two.push((await drive(two.url, seconds, 50, ALL_CPUS)).rps);
  }
  const median = (v: number[]): number =>
    [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  const [r1, r2] = [median(rps.one), median(rps.two)];
  console.log(
    `\nedgeway --workers scaling (${rounds} rounds x ${seconds}s, c=50, medians; gateways, upstreams and load generator all unpinned on the same cores)`,
  );
  console.log(`  --workers 1: ${r1.toFixed(0)} req/s`);
  console.log(`  --workers 2: ${r2.toFixed(0)} req/s`);
  console.log(
    `  scaling ratio: ${(r2 / r1).toFixed(2)} (2.00 would be perfect; the load generator and upstreams compete for the same cores)`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runAndExit(standalone);
}
