/**
 * `node --import tsx bench/tracing.ts`: the price of tracing, each sampler paired with tracing off in the
 * same run (both gateways loaded at once, see paired.ts): 100% sampled and exported over OTLP/protobuf,
 * `parentbased_traceidratio` 0.1, and the SDK on with `always_off`. Prints the per-core ratio of each round
 * and its median, and the cost per request in µs of CPU. `--cpu-prof DIR` writes the gateways' profiles.
 * Flags: --rounds N, --duration S, --connections N, --only NAME.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { benchFlags } from './args.js';
import { cpuSeconds, drive } from './load.js';
import { median } from './median.js';
import {
  compiled,
  freePort,
  runAndExit,
  startBenchUpstream,
  startGatewayProcess,
  startNode,
} from './processes.js';

const values = benchFlags({
  rounds: 5,
  duration: 5,
  connections: 50,
  only: null,
  'cpu-prof': null,
});
const PROXY_CPU = '0';
const OTHER_CPU = '1';

function config(upstreams: readonly string[]): string {
  return `services:
  bench:
    instances: [${upstreams.join(', ')}]
    loadBalancer: { policy: round-robin }
routes:
  - { name: open, match: { path: /open }, service: bench, stripPrefix: true }
`;
}

const SAMPLERS: Record<string, NodeJS.ProcessEnv> = {
  'traces 100% + OTLP': { OTEL_TRACES_SAMPLER: 'always_on' },
  'parentbased_traceidratio 0.1': {
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.1',
  },
  'SDK on, always_off': { OTEL_TRACES_SAMPLER: 'always_off' },
};

interface Side {
  readonly pid: number;
  readonly url: string;
}

/** One round: both sides loaded at once; returns the per-core ratio and each side's CPU µs per request. */
async function round(
  traced: Side,
  off: Side,
  seconds: number,
  connections: number,
): Promise<{ ratio: number; tracedUs: number; offUs: number }> {
  const before = [cpuSeconds(traced.pid), cpuSeconds(off.pid)];
  const [a, b] = await Promise.all(
    [traced, off].map((s) => drive(s.url, seconds, connections, OTHER_CPU)),
  );
  const used = [cpuSeconds(traced.pid) - before[0]!, cpuSeconds(off.pid) - before[1]!];
  const tracedUs = (used[0]! * 1e6) / (a!.rps * seconds);
  const offUs = (used[1]! * 1e6) / (b!.rps * seconds);
  return { ratio: offUs / tracedUs, tracedUs, offUs };
}

async function main(): Promise<void> {
  const { rounds, duration: seconds } = values;
  const half = Math.max(1, Math.floor(values.connections / 2));
  const prof = values['cpu-prof'];
  const profEnv: NodeJS.ProcessEnv =
    prof === undefined ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${prof}` };
  const upstreams = [await startBenchUpstream(OTHER_CPU), await startBenchUpstream(OTHER_CPU)];
  const receiverPort = await freePort();
  await startNode(OTHER_CPU, [compiled('bench/otlp-receiver.ts'), String(receiverPort)], 'ready');
  const otlp = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  };
  const at = (port: number): string => `http://127.0.0.1:${port}/open/item`;
  const offGw = await startGatewayProcess(PROXY_CPU, config(upstreams), profEnv);
  const off = { pid: offGw.child.pid!, url: at(offGw.port) };
  for (const [name, env] of Object.entries(SAMPLERS)) {
    if (values.only !== undefined && !name.includes(values.only)) continue;
    const gw = await startGatewayProcess(PROXY_CPU, config(upstreams), {
      ...otlp,
      ...env,
      ...profEnv,
    });
    const traced = { pid: gw.child.pid!, url: at(gw.port) };
    // Warm-up: both JITs settle before the rounds count.
    await round(traced, off, 2, half);
    const results = [];
    for (let i = 0; i < rounds; i++) results.push(await round(traced, off, seconds, half));
    const ratios = results.map((r) => r.ratio);
    const extra = median(results.map((r) => r.tracedUs - r.offUs));
    console.log(
      `${name}: per core ${median(ratios).toFixed(3)}x tracing off ` +
        `(rounds ${ratios.map((r) => r.toFixed(3)).join(' ')}); ` +
        `CPU per request ${median(results.map((r) => r.tracedUs)).toFixed(1)} µs vs ` +
        `${median(results.map((r) => r.offUs)).toFixed(1)} µs off (+${extra.toFixed(1)} µs)`,
    );
    if (prof !== undefined) await stop(gw.child);
  }
  if (prof !== undefined) await stop(offGw.child);
}

/** Stops a gateway gracefully, so that --cpu-prof writes its profile. */
async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGINT');
  await exited;
}

runAndExit(main);
