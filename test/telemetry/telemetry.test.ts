/** The telemetry bundle: one finish() call reaches metrics, stats, the access log and (with Redis) shared history. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createTelemetry } from '../../src/telemetry/telemetry.js';
import { alertsSchema } from '../../src/config/alerts-schema.js';
import pino from 'pino';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/** Captures a real IncomingMessage carrying `headers`. */
async function incoming(headers: Record<string, string>): Promise<IncomingMessage> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const got = once(server, 'request') as Promise<
    [IncomingMessage, import('node:http').ServerResponse]
  >;
  const req = request({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    path: '/orders/1',
    headers,
  });
  req.on('error', () => undefined);
  req.end();
  const [message, res] = await got;
  res.end();
  server.close();
  server.closeAllConnections();
  return message;
}

describe('telemetry bundle', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  for (const kind of ['memory', 'redis'] as const) {
    test(`${kind} backend: finish() records metrics, stats and one access log line with the trace id`, async () => {
      const lines: string[] = [];
      const destination = new Writable({
        write(chunk, _e, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const client =
        kind === 'redis' ? new Redis({ host: '127.0.0.1', port: redis.port }) : undefined;
      const backend =
        client === undefined
          ? { kind: 'memory' as const, dataDir: '.data' }
          : { kind: 'redis' as const, redis: client, subscriber: client, dataDir: '.data' };
      const telemetry = createTelemetry({
        backend,
        logger: pino({ level: 'silent' }),
        alerts: alertsSchema.parse({}),
        accessLog: { destination },
        tracing: { env: {} },
      });
      try {
        const route = telemetry.forRoute('orders-read');
        assert.equal(telemetry.forRoute('orders-read'), route);
        const req = await incoming({
          traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          authorization: 'Bearer secret-token',
        });
        const server = telemetry.spans.startServerSpan(req, route.name, 'GET');
        telemetry.finish(route, server, {
          requestId: 'rid-1',
          traceId: server.traceId,
          route: route.name,
          service: 'orders',
          instance: 'i-1',
          method: 'GET',
          path: '/orders/1',
          status: 502,
          bytesIn: 0,
          bytesOut: 90,
          durationMs: 31,
          upstreamMs: 30,
          clientIp: '127.0.0.1',
          userAgent: undefined,
          sub: undefined,
          attempts: 1,
          reason: 'connect-failure',
          error: 'upstream service "orders" refused the connection',
        });
        const body = (await telemetry.metrics.exposition()).body;
        assert.match(
          body,
          /edgeway_requests_total\{route="orders-read",method="GET",status="502",status_class="5xx"\} 1/,
        );
        assert.equal(telemetry.stats.window('orders-read', 60).errors5xx, 1);
        assert.equal(telemetry.stats.recent()[0]?.requestId, 'rid-1');
        assert.equal(lines.length, 1);
        assert.equal(JSON.parse(lines[0] as string).traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
        assert.doesNotMatch(lines[0] as string, /secret-token/);
        assert.equal(telemetry.history === undefined, kind === 'memory');
        if (kind === 'redis') assert.match(body, /edgeway_redis_up 1/);
        else assert.doesNotMatch(body, /edgeway_redis_up/, 'no Redis, no series');
      } finally {
        await telemetry.shutdown();
        if (telemetry.history !== undefined) {
          const [fields] = await telemetry.history.minuteFields('orders-read', [
            Math.floor(Date.now() / 60_000) * 60_000,
          ]);
          assert.equal(fields?.get('requests'), 1);
        }
        client?.disconnect();
      }
    });
  }
});
