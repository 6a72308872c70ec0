/** The eager OTLP/protobuf span encoder writes exactly what OpenTelemetry's own serializer writes for the same spans. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { SpanBatch } from '../../src/telemetry/tracing/otlp-span-encoder.js';

function recorder(): {
  tracer: (name: string, version?: string) => Tracer;
  spans: () => ReadableSpan[];
} {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'edgeway',
      'host.name': 'gw-1',
      'process.pid': 4242,
      'deployment.canary': false,
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return {
    tracer: (name, version) => provider.getTracer(name, version),
    spans: () => exporter.getFinishedSpans(),
  };
}

function encode(spans: readonly ReadableSpan[]): Buffer {
  const batch = new SpanBatch();
  for (const span of spans) batch.add(span);
  assert.equal(batch.count, spans.length);
  return batch.encode();
}

function official(spans: readonly ReadableSpan[]): Buffer {
  return Buffer.from(ProtobufTraceSerializer.serializeRequest([...spans]) as Uint8Array);
}

describe('OTLP span encoder', () => {
  test('a request-shaped span tree (server, stage, client with remote parent and tracestate) encodes byte for byte', () => {
    const { tracer, spans } = recorder();
    const t = tracer('edgeway');
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('vendor=a,other=b'),
    });
    const server = t.startSpan(
      'GET orders-read',
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': 'GET',
          'http.route': 'orders-read',
          'url.path': '/orders/42',
        },
      },
      remote,
    );
    const ctx = trace.setSpan(remote, server);
    const stage = t.startSpan('edgeway.select_instance', { kind: SpanKind.INTERNAL }, ctx);
    stage.setAttribute('edgeway.balancer.pick', '10.0.0.7:8080');
    stage.end();
    const client = t.startSpan(
      'GET orders',
      { kind: SpanKind.CLIENT, attributes: { 'http.request.resend_count': 1 } },
      ctx,
    );
    client.setAttribute('http.response.status_code', 503);
    client.setStatus({ code: SpanStatusCode.ERROR });
    client.end();
    server.setAttribute('http.response.status_code', 200);
    server.end();
    assert.deepEqual(encode(spans()), official(spans()));
  });

  test('every attribute type, events with exceptions, links, long and non-ASCII strings encode byte for byte', () => {
    const { tracer, spans } = recorder();
    const t = tracer('edgeway', '1.2.3');
    const linked = t.startSpan('linked');
    linked.end();
    const long = 'x'.repeat(300);
    const span = t.startSpan('🚦 grüße '.repeat(20), {
      kind: SpanKind.PRODUCER,
      links: [{ context: linked.spanContext(), attributes: { reason: 'retry-of' } }],
      attributes: {
        s: 'plain',
        long,
        utf8: 'Ünïcödé ✓ \u{1F600}',
        empty: '',
        t: true,
        f: false,
        zero: 0,
        neg: -7,
        big: 2 ** 40,
        bigNeg: -(2 ** 40),
        double: 3.25,
        nan: Number.NaN,
        inf: Number.POSITIVE_INFINITY,
        strs: ['a', 'b'],
        nums: [1, 2.5, -3],
        bools: [true, false],
        holes: ['a', null, undefined],
      },
    });
    span.addEvent('checkpoint', { step: 2 });
    span.recordException(new Error('upstream reset: ' + long));
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'broken ✗' });
    span.end();
    assert.deepEqual(encode(spans()), official(spans()));
  });

  test('spans from two instrumentation scopes are grouped per scope as the official serializer groups them', () => {
    const { tracer, spans } = recorder();
    for (let i = 0; i < 5; i++) {
      const a = tracer('edgeway').startSpan(`a${i}`);
      a.end();
      const b = tracer('other-lib', '0.1.0').startSpan(`b${i}`, { attributes: { i } });
      b.end();
    }
    assert.deepEqual(encode(spans()), official(spans()));
  });

  test('a reused batch orders groups by first span again, and a span that fails to encode leaves the batch intact', () => {
    const { tracer, spans } = recorder();
    tracer('first').startSpan('a').end();
    tracer('second').startSpan('b').end();
    tracer('first').startSpan('c').end();
    const [a, b, c] = spans() as [ReadableSpan, ReadableSpan, ReadableSpan];
    const batch = new SpanBatch();
    batch.add(a);
    batch.encode();
    batch.clear();
    batch.add(b);
    const broken = tracer('edgeway').startSpan('broken');
    broken.updateName(undefined as unknown as string);
    broken.end();
    const invalid = spans()[3] as ReadableSpan;
    assert.throws(() => batch.add(invalid));
    batch.add(c);
    assert.equal(batch.count, 2);
    assert.deepEqual(batch.encode(), official([b, c]));
  });

  test('a batch of 600 spans (lengths past two varint bytes) encodes byte for byte', () => {
    const { tracer, spans } = recorder();
    const t = tracer('edgeway');
    for (let i = 0; i < 600; i++) {
      const span = t.startSpan(`GET route-${i % 7}`, {
        kind: SpanKind.SERVER,
        attributes: { 'url.path': `/orders/${i}`, 'client.address': '127.0.0.1' },
      });
      span.end();
    }
    const bytes = encode(spans());
    assert.ok(
      bytes.length > 16_384,
      `expected a multi-kilobyte request, got ${bytes.length} bytes`,
    );
    assert.deepEqual(bytes, official(spans()));
  });
});
