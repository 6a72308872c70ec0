/** The encoding span processor batches spans to a real OTLP/HTTP receiver on loopback, bounded by the OTEL_BSP_* limits. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  EncodingSpanProcessor,
  batchLimitsFromEnv,
  otlpHttpProtobufExporter,
  type BatchLimits,
} from '../../src/telemetry/tracing/otlp-span-processor.js';
import { waitFor } from '../helpers/wait-for.js';

interface Post {
  readonly path: string | undefined;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** An OTLP/HTTP receiver that records every POST; while `hold` is set it keeps requests unanswered. */
class Receiver {
  readonly posts: Post[] = [];
  readonly held: ServerResponse[] = [];
  hold = false;
  readonly server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.posts.push({
        path: req.url,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks),
      });
      if (this.hold) this.held.push(res);
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });

  release(): void {
    this.hold = false;
    for (const res of this.held.splice(0))
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  }
}

describe('encoding span processor', () => {
  const receiver = new Receiver();
  let endpoint = '';
  const saved = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;

  before(async () => {
    receiver.server.listen(0, '127.0.0.1');
    await once(receiver.server, 'listening');
    endpoint = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/v1/traces`;
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = endpoint;
  });
  after(async () => {
    if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = saved;
    receiver.release();
    receiver.server.closeAllConnections();
    await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
  });

  function setup(limits: BatchLimits): {
    processor: EncodingSpanProcessor;
    provider: BasicTracerProvider;
    ended: ReadableSpan[];
  } {
    const processor = new EncodingSpanProcessor(otlpHttpProtobufExporter(), limits);
    const ended: ReadableSpan[] = [];
    const provider = new BasicTracerProvider({
      spanProcessors: [
        processor,
        {
          onStart: () => undefined,
          onEnd: (s) => void ended.push(s),
          forceFlush: async () => undefined,
          shutdown: async () => undefined,
        },
      ],
    });
    return { processor, provider, ended };
  }

  test('full batches are sent as they fill, the rest on flush, each body what the SDK serializer writes', async () => {
    receiver.posts.length = 0;
    const { processor, provider, ended } = setup({
      maxExportBatchSize: 4,
      maxQueueSize: 100,
      scheduledDelayMillis: 60_000,
    });
    const tracer = provider.getTracer('edgeway');
    for (let i = 0; i < 10; i++) tracer.startSpan(`GET route-${i}`, { attributes: { i } }).end();
    await waitFor(() => receiver.posts.length === 2, 5000, 'two full batches without a flush');
    assert.equal(receiver.posts[0]?.path, '/v1/traces');
    assert.equal(receiver.posts[0]?.contentType, 'application/x-protobuf');
    await processor.forceFlush();
    assert.equal(receiver.posts.length, 3);
    const expected = [ended.slice(0, 4), ended.slice(4, 8), ended.slice(8)].map((spans) =>
      Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array),
    );
    assert.deepEqual(
      receiver.posts.map((p) => p.body),
      expected,
    );
    await provider.shutdown();
  });

  test('a partial batch goes out after the schedule delay without a flush', async () => {
    receiver.posts.length = 0;
    const { provider } = setup({
      maxExportBatchSize: 512,
      maxQueueSize: 2048,
      scheduledDelayMillis: 50,
    });
    provider.getTracer('edgeway').startSpan('lonely').end();
    await waitFor(() => receiver.posts.length === 1, 5000, 'the delayed export');
    assert.ok(receiver.posts[0]?.body.includes(Buffer.from('lonely')));
    await provider.shutdown();
  });

  test('while the collector stalls, spans beyond maxQueueSize are dropped, and accepted again once it answers', async () => {
    receiver.posts.length = 0;
    receiver.hold = true;
    const { processor, provider } = setup({
      maxExportBatchSize: 2,
      maxQueueSize: 4,
      scheduledDelayMillis: 60_000,
    });
    const tracer = provider.getTracer('edgeway');
    for (let i = 0; i < 10; i++) tracer.startSpan(`held-${i}`).end();
    await waitFor(() => receiver.posts.length === 2, 5000, 'two batches in flight');
    assert.equal(processor.dropped, 6);
    receiver.release();
    await processor.forceFlush();
    tracer.startSpan('after-1').end();
    tracer.startSpan('after-2').end();
    await waitFor(() => receiver.posts.length === 3, 5000, 'the batch after the stall');
    assert.equal(processor.dropped, 6);
    assert.ok(receiver.posts[2]?.body.includes(Buffer.from('after-2')));
    await provider.shutdown();
  });

  test('a span that cannot be encoded is dropped alone: its end() does not throw and the other spans are exported', async () => {
    receiver.posts.length = 0;
    const { processor, provider } = setup({
      maxExportBatchSize: 512,
      maxQueueSize: 2048,
      scheduledDelayMillis: 60_000,
    });
    const tracer = provider.getTracer('edgeway');
    const broken = tracer.startSpan('broken');
    broken.updateName(undefined as unknown as string);
    assert.doesNotThrow(() => broken.end());
    for (let i = 0; i < 40; i++) tracer.startSpan(`fine-${i}`).end();
    await processor.forceFlush();
    assert.equal(processor.dropped, 1);
    assert.equal(receiver.posts.length, 1);
    assert.ok(receiver.posts[0]?.body.includes(Buffer.from('fine-39')));
    await provider.shutdown();
  });

  test('OTEL_BSP_* limits: SDK defaults, valid overrides, invalid values ignored, batch never above the queue', () => {
    assert.deepEqual(batchLimitsFromEnv({}), {
      maxExportBatchSize: 512,
      maxQueueSize: 2048,
      scheduledDelayMillis: 5000,
    });
    assert.deepEqual(
      batchLimitsFromEnv({
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '64',
        OTEL_BSP_MAX_QUEUE_SIZE: '256',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      }),
      { maxExportBatchSize: 64, maxQueueSize: 256, scheduledDelayMillis: 200 },
    );
    assert.deepEqual(
      batchLimitsFromEnv({
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'lots',
        OTEL_BSP_MAX_QUEUE_SIZE: '-1',
        OTEL_BSP_SCHEDULE_DELAY: '0',
      }),
      { maxExportBatchSize: 512, maxQueueSize: 2048, scheduledDelayMillis: 5000 },
    );
    assert.equal(
      batchLimitsFromEnv({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1000', OTEL_BSP_MAX_QUEUE_SIZE: '100' })
        .maxExportBatchSize,
      100,
    );
  });
});
