/** Spans reach a real OTLP/HTTP receiver on 127.0.0.1, over http/json and http/protobuf, configured by OTEL_* only. */
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { startTracing } from '../../src/telemetry/tracing/otel.js';
import { SpanFactory } from '../../src/telemetry/tracing/spans.js';
import type { Span } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';

interface Received {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

const OTEL_KEYS = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_SAMPLER',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
];

describe('OTLP export', () => {
  const received: Received[] = [];
  let server: Server;
  let endpoint: string;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          path: req.url ?? '',
          contentType: String(req.headers['content-type']),
          body: Buffer.concat(chunks),
        });
        res.writeHead(200, { 'content-type': String(req.headers['content-type']) });
        res.end(req.headers['content-type'] === 'application/json' ? '{}' : '');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  afterEach(() => {
    for (const key of OTEL_KEYS) delete process.env[key];
    received.length = 0;
  });

  test('http/json: the receiver gets the span with service.name edgeway and OTEL_RESOURCE_ATTRIBUTES', async () => {
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
    });
    const tracing = startTracing();
    assert.equal(tracing.enabled, true);
    tracing.tracer.startSpan('GET orders-read').end();
    await tracing.shutdown();
    const posts = received.filter((r) => r.path === '/v1/traces');
    assert.equal(posts.length, 1);
    assert.equal(posts[0]?.contentType, 'application/json');
    const body = JSON.parse(String(posts[0]?.body)) as {
      resourceSpans: Array<{
        resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
        scopeSpans: Array<{ scope: { name: string }; spans: Array<{ name: string }> }>;
      }>;
    };
    const [resourceSpans] = body.resourceSpans;
    const attr = (key: string) =>
      resourceSpans?.resource.attributes.find((a) => a.key === key)?.value.stringValue;
    assert.equal(attr('service.name'), 'edgeway');
    assert.equal(attr('deployment.environment.name'), 'test');
    assert.equal(resourceSpans?.scopeSpans[0]?.scope.name, 'edgeway');
    assert.deepEqual(
      resourceSpans?.scopeSpans[0]?.spans.map((s) => s.name),
      ['GET orders-read'],
    );
  });

  test("http/json: request spans from the lean recorder go out through the SDK's own batch processor and JSON exporter", async () => {
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    });
    const tracing = startTracing();
    const spans = new SpanFactory(tracing);
    const req = Object.assign(new IncomingMessage(new Socket()), {
      url: '/orders/7',
      method: 'GET',
      headers: { host: 'api.example.com' },
    });
    const server = spans.startServerSpan(req, 'orders-read', 'GET', '192.0.2.1');
    const client = spans.startClientSpan(
      server,
      'orders',
      { id: 'i-1', url: 'http://10.0.0.7:9001' },
      '/orders/7',
      1,
    );
    spans.endClientSpan(client, 503);
    spans.endServerSpan(server, 502);
    await tracing.shutdown();
    const posts = received.filter((r) => r.path === '/v1/traces');
    assert.equal(posts[0]?.contentType, 'application/json');
    const body = JSON.parse(String(posts[0]?.body)) as {
      resourceSpans: Array<{
        scopeSpans: Array<{
          spans: Array<{
            name: string;
            traceId: string;
            spanId: string;
            parentSpanId?: string;
            status: { code?: number };
            attributes: Array<{
              key: string;
              value: { stringValue?: string; intValue?: string | number };
            }>;
          }>;
        }>;
      }>;
    };
    const exported = body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    assert.deepEqual(
      exported.map((s) => s.name),
      ['GET orders', 'GET orders-read'],
    );
    const [clientSpan, serverSpan] = exported;
    assert.equal(clientSpan?.parentSpanId, serverSpan?.spanId);
    assert.equal(client.traceparent, `00-${server.traceId}-${clientSpan?.spanId}-01`);
    assert.equal(serverSpan?.status.code, 2);
    const attr = (key: string) => serverSpan?.attributes.find((a) => a.key === key)?.value;
    assert.equal(attr('url.path')?.stringValue, '/orders/7');
    assert.equal(attr('client.address')?.stringValue, '192.0.2.1');
    assert.equal(Number(attr('http.response.status_code')?.intValue), 502);
  });

  test('http/protobuf (OTEL_EXPORTER_OTLP_PROTOCOL): the receiver gets a protobuf body naming the span and service', async () => {
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: 'edge-eu-1',
    });
    const tracing = startTracing();
    tracing.tracer.startSpan('POST payments-write').end();
    await tracing.shutdown();
    const posts = received.filter((r) => r.path === '/v1/traces');
    assert.equal(posts.length, 1);
    assert.equal(posts[0]?.contentType, 'application/x-protobuf');
    // Protobuf carries strings as raw UTF-8, so the names are visible in the encoded body.
    assert.ok(posts[0]?.body.includes('POST payments-write'));
    assert.ok(posts[0]?.body.includes('edge-eu-1'));
  });

  test('http/protobuf: request spans from the lean recorder arrive byte for byte as the SDK serializer writes them', async () => {
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
    const tracing = startTracing();
    const spans = new SpanFactory(tracing);
    const req = Object.assign(new IncomingMessage(new Socket()), {
      url: '/orders/7?access_token=secret',
      method: 'GET',
      headers: { host: 'api.example.com', 'user-agent': 'grüße/1.0' },
    });
    const server = spans.startServerSpan(req, 'orders-read', 'GET', '192.0.2.1');
    let stage: Span | undefined;
    spans.stageSpan(server, 'edgeway.select_instance', (span) => {
      stage = span;
      span.setAttribute('edgeway.instance', 'i-1');
    });
    const client = spans.startClientSpan(
      server,
      'orders',
      { id: 'i-1', url: 'http://10.0.0.7:9001' },
      '/orders/7',
      2,
    );
    spans.endClientSpan(client, 503);
    spans.endServerSpan(server, 502);
    await tracing.shutdown();
    const posts = received.filter((r) => r.path === '/v1/traces');
    assert.equal(posts.length, 1);
    // In the order they ended; read as the SDK's serializer reads any span, after the export.
    const ended = [stage, client.span, server.span] as unknown as ReadableSpan[];
    assert.deepEqual(
      posts[0]?.body,
      Buffer.from(ProtobufTraceSerializer.serializeRequest(ended) as Uint8Array),
    );
  });

  test('http/protobuf: spans beyond OTEL_BSP_MAX_QUEUE_SIZE are dropped and counted for edgeway_spans_dropped_total', async () => {
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_BSP_MAX_QUEUE_SIZE: '4',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4',
    });
    const tracing = startTracing();
    assert.equal(tracing.droppedSpans(), 0);
    // Ended in one turn: no export can finish in between, so the queue holds four and drops the rest.
    for (let i = 0; i < 10; i++) tracing.tracer.startSpan(`GET span-${i}`).end();
    const dropped = tracing.droppedSpans();
    await tracing.shutdown();
    assert.equal(dropped, 6);
    const posts = received.filter((r) => r.path === '/v1/traces');
    assert.ok(posts.every((post) => !post.body.includes('span-9')));
  });

  test('OTEL_TRACES_SAMPLER=always_off exports nothing', async () => {
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'always_off',
    });
    const tracing = startTracing();
    const span = tracing.tracer.startSpan('GET orders-read');
    assert.equal(span.isRecording(), false);
    span.end();
    await tracing.shutdown();
    assert.equal(received.filter((r) => r.path === '/v1/traces').length, 0);
  });
});
