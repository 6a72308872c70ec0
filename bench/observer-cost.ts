/**
 * The price of observing one request, in process and apart from proxying: edgeway's request observer as the
 * pipeline calls it for a proxied request (start, one upstream attempt, done: gauges, route and attempt
 * metrics, dashboard stats, the access line) against what the logged reference does per request (one pino
 * line, one prom-client counter and histogram observation). Both write their lines to stdout (send it to
 * /dev/null), in batches of 50 requests with an event-loop turn between, as requests finish under load.
 * Compiled (`npx tsc -p tsconfig.json`), run it under `valgrind --tool=callgrind` with `node --single-threaded`
 * (compilation and GC on the main thread, so runs repeat) and two `--requests` counts: the difference over
 * the extra requests is one request's instructions, whatever the machine's load. With `--trace-gc` it gives
 * the bytes allocated per request (bench/alloc.ts sums them the same way).
 * `node --import tsx bench/observer-cost.ts --target edgeway|reference [--requests N] > /dev/null`
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { alertsSchema } from '../src/config/alerts-schema.js';
import { createTelemetry } from '../src/telemetry/telemetry.js';
import { requestObserver } from '../src/telemetry/request-observer.js';
import { resolveRequestId } from '../src/telemetry/request-id.js';
import type { Endpoint } from '../src/balancing/endpoint.js';
import type { RequestContext } from '../src/request/context.js';
import type { CompiledRoute } from '../src/request/route.js';

const BATCH = 50;

/** A real request and response from a real server, as a proxied request's observer sees them. */
async function exchange(): Promise<{ req: IncomingMessage; res: ServerResponse }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const got = once(server, 'request') as Promise<[IncomingMessage, ServerResponse]>;
  const client = request({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    path: '/bench/items?page=2',
    headers: { 'user-agent': 'wrk/4.2.0' },
  });
  client.on('error', () => undefined);
  client.end();
  const [req, res] = await got;
  res.end('{"id":7}');
  return { req, res };
}

/** One request's observation as edgeway's pipeline makes it for a proxied GET answered 200. */
function edgeway(req: IncomingMessage, res: ServerResponse): () => void {
  const telemetry = createTelemetry({
    backend: { kind: 'memory', dataDir: '.data' },
    logger: pino({ level: 'silent' }),
    alerts: alertsSchema.parse({}),
  });
  const observer = requestObserver(telemetry);
  const route = { name: 'bench' } as CompiledRoute;
  const service = { name: 'bench' };
  const endpoint = { id: 'i-1', url: 'http://127.0.0.1:9' } as Endpoint;
  return () => {
    const startedAt = process.hrtime.bigint();
    const requestId = resolveRequestId(undefined);
    const trace = observer.start(req, 'bench', '127.0.0.1');
    const ctx = {
      req,
      res,
      requestId,
      startedAt,
      route,
      trace,
      principal: undefined,
      service: undefined,
      instance: undefined,
      upstreamMs: 0,
    } as unknown as RequestContext;
    observer.attempts.begin(ctx, service, endpoint, 0, '/items').end(200, undefined, false);
    observer.done({
      req,
      res,
      requestId,
      route,
      ctx,
      trace,
      clientIp: '127.0.0.1',
      path: '/bench/items',
      status: 200,
      startedAt,
      error: undefined,
    });
  };
}

/** One request's observation as bench/logged-reference-proxy.ts makes it. */
function reference(req: IncomingMessage, res: ServerResponse): () => void {
  const log = pino(
    {
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 }),
  );
  const registry = new Registry();
  const requests = new Counter({
    name: 'reference_requests_total',
    help: 'Requests answered, by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'reference_request_duration_seconds',
    help: 'Time from request to the end of the response, by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const getOk = requests.labels('reference', 'GET', '200');
  const routeDuration = duration.labels('reference');
  return () => {
    const started = performance.now();
    const ms = performance.now() - started;
    const status = res.statusCode;
    const method = req.method as string;
    if (status === 200 && method === 'GET') getOk.inc();
    else requests.labels('reference', method, String(status)).inc();
    routeDuration.observe(ms / 1000);
    log.info({
      route: 'reference',
      method,
      path: req.url,
      status,
      durationMs: ms,
      clientIp: req.socket.remoteAddress,
      userAgent: req.headers['user-agent'],
    });
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'edgeway' },
      requests: { type: 'string', default: '20000' },
    },
  });
  const { req, res } = await exchange();
  const observe = values.target === 'reference' ? reference(req, res) : edgeway(req, res);
  const total = Number(values.requests);
  const cpu = process.cpuUsage();
  for (let done = 0; done < total; done += BATCH) {
    for (let i = 0; i < BATCH; i++) observe();
    await new Promise((r) => setImmediate(r));
  }
  const used = process.cpuUsage(cpu);
  process.stderr.write(
    `${values.target}: ${total} requests, ${(((used.user + used.system) * 1000) / total).toFixed(0)} ns CPU each\n`,
  );
  process.exit(0);
}

void main();
