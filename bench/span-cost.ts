/**
 * `node --import tsx bench/span-cost.ts`: CPU µs per request of the spans alone (a SERVER span, the
 * select_instance stage span and one CLIENT span, encoded and exported over OTLP/protobuf to a receiver
 * in another process, so receiving costs this one nothing), in process, for each sampler; variants
 * alternate round by round so drift hits them alike, and the fastest round of each counts (the least
 * disturbed on a shared machine). Requests run in groups of {@link GROUP} with the event loop turning in
 * between, as it does between a gateway's requests, so batches are encoded and sent as they fill.
 * Flags: --rounds N, --requests N (per round), --only NAME (and tracing off, unless --alone). Profile
 * with node --cpu-prof; count instructions with valgrind --tool=callgrind on two --requests values.
 */
import type { IncomingMessage } from 'node:http';
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { benchFlags } from './args.js';
import { median } from './median.js';
import { freePort } from './processes.js';
import { startTracing } from '../src/telemetry/tracing/otel.js';
import { SpanFactory } from '../src/telemetry/tracing/spans.js';

const values = benchFlags({ rounds: 7, requests: 100_000, only: null, alone: false });

const VARIANTS: Record<string, Record<string, string> | undefined> = {
  'tracing off': undefined,
  'always_on (100%)': { OTEL_TRACES_SAMPLER: 'always_on' },
  'parentbased_traceidratio 0.1': {
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.1',
  },
  always_off: { OTEL_TRACES_SAMPLER: 'always_off' },
};

/** A request as the SERVER span reads it. */
const req = {
  url: '/item',
  method: 'GET',
  headers: { host: '127.0.0.1:8080', 'user-agent': 'wrk', accept: '*/*' },
  httpVersion: '1.1',
  httpVersionMajor: 1,
  socket: { remoteAddress: '127.0.0.1', localPort: 8080, encrypted: false },
} as unknown as IncomingMessage;
const instance = { id: 'http://127.0.0.1:9001', url: 'http://127.0.0.1:9001' };

// Requests between turns of the event loop: a gateway's requests each end in their own turn; one turn per
// request would measure setImmediate rather than spans.
const GROUP = 32;

async function requests(spans: SpanFactory, n: number): Promise<number> {
  let sent = 0;
  for (let i = 0; i < n; i++) {
    if (i % GROUP === 0) await new Promise(setImmediate);
    const server = spans.startServerSpan(req, 'open', 'GET', '127.0.0.1');
    const picked = spans.stageSpan(server, 'edgeway.select_instance', (span) => {
      if (span.isRecording()) span.setAttribute('edgeway.instance', instance.id);
      return instance;
    });
    const client = spans.startClientSpan(server, 'bench', picked, '/item', 1);
    if (client.traceparent !== undefined) sent++;
    spans.endClientSpan(client, 200);
    spans.endServerSpan(server, 200);
  }
  return sent;
}

/** The OTLP receiver in a child process (this file's sibling, run as this file is: .ts under tsx). */
async function startReceiver(): Promise<{ endpoint: string; stop: () => void }> {
  const port = await freePort();
  const script = fileURLToPath(import.meta.url).replace(/span-cost\.(ts|js)$/, 'otlp-receiver.$1');
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, script, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  await once(child.stdout as Readable, 'data');
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

async function main(): Promise<void> {
  // A dropped span or a failed export would make a variant look cheaper than it is: both are reported.
  const problems: string[] = [];
  const record = (message: string): void => void problems.push(message);
  diag.setLogger(
    { error: record, warn: record, info: () => {}, debug: () => {}, verbose: () => {} },
    DiagLogLevel.WARN,
  );
  const receiver = await startReceiver();
  const endpoint = receiver.endpoint;
  const n = values.requests;
  const results = new Map<string, number[]>();
  for (let round = 0; round < values.rounds; round++) {
    for (const [name, env] of Object.entries(VARIANTS)) {
      const wanted = values.only === undefined || name.includes(values.only);
      if (!wanted && (values.alone || name !== 'tracing off')) continue;
      const vars = {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        // Room for the spans of a loop several times faster than a gateway's requests, while the
        // receiver (on the same loaded cores) answers: a dropped span would cost nothing.
        OTEL_BSP_MAX_QUEUE_SIZE: '65536',
        ...env,
      };
      // The SDK reads process.env itself.
      if (env !== undefined) Object.assign(process.env, vars);
      const tracing = startTracing({ env: env === undefined ? {} : vars });
      const spans = new SpanFactory(tracing, { stages: true });
      await requests(spans, 2000);
      const cpu = process.cpuUsage();
      await requests(spans, n);
      await tracing.flush();
      const used = process.cpuUsage(cpu);
      await tracing.shutdown();
      for (const key of Object.keys(vars)) delete process.env[key];
      const us = (used.user + used.system) / n;
      results.set(name, [...(results.get(name) ?? []), us]);
    }
  }
  // The fastest round is the one least disturbed by other processes on a shared machine.
  const off = Math.min(...(results.get('tracing off') ?? [0]));
  for (const [name, us] of results) {
    const best = Math.min(...us);
    console.log(
      `${name.padEnd(30)} ${best.toFixed(2)} µs per request, fastest round ` +
        `(+${(best - off).toFixed(2)} µs over off; median ${median(us).toFixed(2)})`,
    );
  }
  if (problems.length > 0) console.log(`spans dropped or not exported: ${problems.join('; ')}`);
  receiver.stop();
}

void main();
