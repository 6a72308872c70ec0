/**
 * Rate-limit and telemetry scenarios for `npm run bench`, each paired with its baseline in the same gateway
 * process: a rate-limited route whose limit is never reached vs the same route unlimited (target >= 0.85x),
 * and tracing at 100% exported over OTLP to a local receiver vs tracing off (target >= 0.85x).
 */
import { benchRedis } from './discovery-scenarios.js';
import { startGatewayProcess, startOtlpReceiver } from './processes.js';
import type { ScenarioContext, ScenarioGroup, Target } from './scenarios.js';

function config(upstreams: readonly string[]): string {
  return `services:
  bench:
    instances: [${upstreams.join(', ')}]
    loadBalancer: { policy: round-robin }
routes:
  - { name: open, match: { path: /open }, service: bench, stripPrefix: true }
  - name: limited
    match: { path: /limited }
    service: bench
    stripPrefix: true
    rateLimit: { capacity: 1000000000, refillPerSecond: 1000000000, key: route }
`;
}

const UNLIMITED = 'rate limit: unlimited route';
const LIMITED = 'rate limit: limited, never hit';
const TRACING_OFF = 'telemetry: off';
const TRACED = 'telemetry: traces 100% + OTLP';

/** The scenarios; every gateway here runs on Redis and is pinned to the proxy CPU. */
export const trafficTelemetryGroup: ScenarioGroup = {
  scenarios: [
    { name: UNLIMITED },
    { name: LIMITED, versus: [UNLIMITED] },
    { name: TRACING_OFF },
    { name: TRACED, pairedWith: TRACING_OFF, versus: [TRACING_OFF] },
  ],
  start: startTrafficTelemetry,
};

async function startTrafficTelemetry(ctx: ScenarioContext): Promise<Record<string, Target>> {
  const redis = await benchRedis();
  const limits = await startGatewayProcess(ctx.proxyCpu, config(ctx.upstreams), {}, [
    '--redis',
    redis,
  ]);
  const traced = await startGatewayProcess(
    ctx.proxyCpu,
    config(ctx.upstreams),
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: await startOtlpReceiver(ctx.otherCpu),
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_TRACES_SAMPLER: 'always_on',
    },
    ['--redis', redis],
  );
  const at = (port: number, path: string): string => `http://127.0.0.1:${port}${path}/item`;
  return {
    [UNLIMITED]: { url: at(limits.port, '/open'), pid: limits.child.pid },
    [LIMITED]: { url: at(limits.port, '/limited'), pid: limits.child.pid },
    [TRACING_OFF]: { url: at(limits.port, '/open'), pid: limits.child.pid },
    [TRACED]: { url: at(traced.port, '/open'), pid: traced.child.pid },
  };
}
