/**
 * The logged reference proxy (port, then upstream origins, from argv; "ready" on stderr): the reference
 * forwarder plus what every production gateway does per request, one pino JSON access line and one
 * prom-client counter and histogram observation. It separates the price of observability from edgeway's own.
 * Lines go to stdout like edgeway's access log (the bench sends both to /dev/null), buffered and written
 * asynchronously, flushed at least once a second.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pino from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { createForwarder, fail } from './reference-forwarder.js';

const ROUTE = 'reference';
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
// Label children looked up once; other statuses and methods take the lookup.
const getOk = requests.labels(ROUTE, 'GET', '200');
const routeDuration = duration.labels(ROUTE);

function record(req: IncomingMessage, res: ServerResponse, started: number): void {
  const ms = performance.now() - started;
  const status = res.statusCode;
  const method = req.method as string;
  if (status === 200 && method === 'GET') getOk.inc();
  else requests.labels(ROUTE, method, String(status)).inc();
  routeDuration.observe(ms / 1000);
  log.info({
    route: ROUTE,
    method,
    path: req.url,
    status,
    durationMs: ms,
    clientIp: req.socket.remoteAddress,
    userAgent: req.headers['user-agent'],
  });
}

const forward = createForwarder(process.argv.slice(3));
const server = createServer((req, res) => {
  const started = performance.now();
  forward(req, res, (err) => {
    if (err !== null) fail(res);
    record(req, res, started);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stderr.write('ready\n'));
