/**
 * `node --import tsx bench/span-cost.ts`: CPU µs per request of the spans alone (a SERVER span, the
 * select_instance stage span and one CLIENT span, encoded and exported over OTLP/protobuf to a local
 * receiver), in process, for each sampler; variants alternate round by round so drift hits them alike,
 * and the fastest round of each counts (the least disturbed on a shared machine).
 * Flags: --rounds N, --requests N (per round), --only NAME (and tracing off, unless --alone). Profile
 * with node --cpu-prof; count instructions with valgrind --tool=callgrind on two --requests values.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { benchFlags } from './args.js';
import { median } from './median.js';
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

function requests(spans: SpanFactory, n: number): number {
  let sent = 0;
  for (let i = 0; i < n; i++) {
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

async function main(): Promise<void> {
  const receiver = createServer((r, res) => {
    r.resume();
    r.on('end', () => res.writeHead(200, { 'content-length': 0 }).end());
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const n = values.requests;
  const results = new Map<string, number[]>();
  for (let round = 0; round < values.rounds; round++) {
    for (const [name, env] of Object.entries(VARIANTS)) {
      const wanted = values.only === undefined || name.includes(values.only);
      if (!wanted && (values.alone || name !== 'tracing off')) continue;
      const vars = {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        ...env,
      };
      // The SDK reads process.env itself.
      if (env !== undefined) Object.assign(process.env, vars);
      const tracing = startTracing({ env: env === undefined ? {} : vars });
      const spans = new SpanFactory(tracing, { stages: true });
      requests(spans, 2000);
      const cpu = process.cpuUsage();
      requests(spans, n);
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
  receiver.close();
}

void main();
