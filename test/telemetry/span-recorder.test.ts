/**
 * The lean span recorder against the SDK itself: the same span API calls under the same configuration
 * export the same spans, byte for byte through OpenTelemetry's own serializer and through edgeway's encoder;
 * and the SDK's samplers from OTEL_TRACES_SAMPLER decide request spans exactly as they decide SDK spans.
 */
import { test, describe, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, Agent, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  ROOT_CONTEXT,
  SamplingDecision,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  diag,
  trace,
  type Context,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { SpanBatch } from '../../src/telemetry/tracing/otlp-span-encoder.js';
import {
  SpanRecorder,
  contextWithSpan,
  recorderConfigOf,
} from '../../src/telemetry/tracing/span-recorder.js';
import { startTracing } from '../../src/telemetry/tracing/otel.js';
import { SpanFactory, pooledRandomHex } from '../../src/telemetry/tracing/spans.js';

type Start = (name: string, kind: SpanKind, parent: Context, parentSpan?: SpanContext) => Span;

const REMOTE: SpanContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('vendor=a,other=b'),
};
const GIVEN_TIME: [number, number] = [1_700_000_000, 123_456_789];

/** A sampler with every outcome, chosen by span name; sampled spans get an attribute and a tracestate. */
const SCRIPTED: Sampler = {
  shouldSample: (_ctx, _traceId, name) =>
    name === 'unsampled'
      ? { decision: SamplingDecision.NOT_RECORD }
      : name === 'record-only'
        ? { decision: SamplingDecision.RECORD }
        : {
            decision: SamplingDecision.RECORD_AND_SAMPLED,
            attributes: { 'sampler.rule': name.length },
            traceState: name === 'root' ? new TraceState('sampler=1') : undefined,
          },
  toString: () => 'Scripted',
};

/** Span API calls covering limits, truncation, invalid values, events, links, status rules and ended spans. */
function script(start: Start): void {
  const remote = trace.setSpanContext(ROOT_CONTEXT, REMOTE);
  const server = start('GET orders-read', SpanKind.SERVER, remote, REMOTE);
  server.setAttribute('http.request.method', 'GET');
  server.setAttribute('server.port', 8080);
  server.setAttribute('edgeway.flag', true);
  server.setAttribute('edgeway.ratio', 0.25);
  server.setAttribute('edgeway.list', ['a', 'bb', 'x'.repeat(40)]);
  server.setAttribute('edgeway.numbers', [1, 2, 3]);
  server.setAttribute('url.path', `/orders/${'x'.repeat(60)}`);
  server.setAttribute('', 'empty key');
  server.setAttribute('edgeway.object', {} as never);
  server.setAttribute('edgeway.null', null as never);
  for (let i = 0; i < 10; i++) server.setAttribute(`extra.${i}`, i);
  server.setAttribute('server.port', 8081);
  server.setAttributes({ 'late.one': 'dropped', 'http.request.method': 'POST' });
  server.updateName('POST orders-write');
  const ctx = trace.setSpan(remote, server);
  const stage = start('edgeway.auth', SpanKind.INTERNAL, ctx, server.spanContext());
  stage.recordException(Object.assign(new Error('boom'), { code: 'E_BOOM' }));
  stage.recordException('plain message');
  stage.recordException({} as Error);
  stage.addEvent('decided', { outcome: 'allowed', long: 'y'.repeat(50), third: 3 });
  stage.addEvent('given time', { at: 1 }, GIVEN_TIME);
  for (let i = 0; i < 3; i++) stage.addEvent(`tick ${i}`);
  stage.setStatus({ code: SpanStatusCode.ERROR, message: 'stage failed' });
  stage.setStatus({ code: SpanStatusCode.UNSET });
  stage.end();
  stage.setAttribute('after.end', 1);
  stage.addEvent('after end');
  stage.end();
  const client = start('GET orders', SpanKind.CLIENT, ctx, server.spanContext());
  client.addLink({ context: REMOTE, attributes: { 'link.kind': 'caller', 'link.extra': 2 } });
  client.addLinks([{ context: stage.spanContext() }, { context: server.spanContext() }]);
  client.setStatus({ code: SpanStatusCode.OK });
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'ignored after OK' });
  client.end();
  server.setStatus({ code: SpanStatusCode.ERROR, message: 42 as never });
  server.end();
  const root = start('root', SpanKind.PRODUCER, ROOT_CONTEXT);
  const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
  start('unsampled', SpanKind.INTERNAL, rootCtx, root.spanContext()).end();
  start('record-only', SpanKind.CONSUMER, rootCtx, root.spanContext()).end();
  root.end();
}

/** The same configuration for both: the scripted sampler and tight span limits, one resource and scope. */
function provider(exporter: InMemorySpanExporter): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'edgeway', 'host.name': 'gw-1' }),
    sampler: SCRIPTED,
    spanLimits: {
      attributeCountLimit: 12,
      attributeValueLengthLimit: 32,
      eventCountLimit: 4,
      attributePerEventCountLimit: 2,
      linkCountLimit: 2,
      attributePerLinkCountLimit: 1,
    },
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
}

/** The spans with ids renamed in order of appearance and clock readings fixed, so two runs compare. */
function normalized(spans: readonly ReadableSpan[]): ReadableSpan[] {
  const names = new Map<string, string>();
  const id = (value: string): string => {
    let name = names.get(value);
    if (name === undefined) {
      name = (names.size + 1).toString(16).padStart(value.length, '0');
      names.set(value, name);
    }
    return name;
  };
  const ctx = (sc: SpanContext): SpanContext => ({
    ...sc,
    traceId: id(sc.traceId),
    spanId: id(sc.spanId),
  });
  return spans.map((s) => {
    const sc = ctx(s.spanContext());
    return {
      ...s,
      name: s.name,
      kind: s.kind,
      status: s.status,
      attributes: s.attributes,
      resource: s.resource,
      instrumentationScope: s.instrumentationScope,
      droppedAttributesCount: s.droppedAttributesCount,
      droppedEventsCount: s.droppedEventsCount,
      droppedLinksCount: s.droppedLinksCount,
      ended: s.ended,
      duration: [0, 1000],
      spanContext: () => sc,
      parentSpanContext: s.parentSpanContext && ctx(s.parentSpanContext),
      startTime: [1_700_000_000, 0],
      endTime: [1_700_000_000, 1000],
      links: s.links.map((l) => ({ ...l, context: ctx(l.context) })),
      // A given event time is kept: both must take it as given.
      events: s.events.map((e) =>
        e.time[0] === GIVEN_TIME[0] ? e : { ...e, time: [1_700_000_000, 500] },
      ),
    };
  });
}

function official(spans: readonly ReadableSpan[]): Buffer {
  return Buffer.from(ProtobufTraceSerializer.serializeRequest([...spans]) as Uint8Array);
}

function encoded(spans: readonly ReadableSpan[]): Buffer {
  const batch = new SpanBatch();
  for (const span of spans) batch.add(span);
  return batch.encode();
}

describe('lean span recorder', () => {
  test("the same span API calls export what the SDK's spans export, byte for byte", () => {
    // The script provokes the SDK's warnings on purpose.
    diag.disable();
    const sdkExporter = new InMemorySpanExporter();
    const sdkTracer = provider(sdkExporter).getTracer('edgeway', '1.0.0');
    script((name, kind, parent) => sdkTracer.startSpan(name, { kind }, parent));

    const leanExporter = new InMemorySpanExporter();
    const config = recorderConfigOf(provider(leanExporter).getTracer('edgeway', '1.0.0'));
    const recorder = new SpanRecorder(config, pooledRandomHex);
    script((name, kind, parent, parentSpan) => recorder.start(name, kind, parent, parentSpan));

    const sdk = sdkExporter.getFinishedSpans();
    const lean = leanExporter.getFinishedSpans();
    // The script reaches the limits and the sampler's outcomes (else the comparison proves little).
    assert.deepEqual(
      sdk.map((s) => s.name),
      ['edgeway.auth', 'GET orders', 'POST orders-write', 'root'],
    );
    const [stage, client, server] = sdk as [ReadableSpan, ReadableSpan, ReadableSpan];
    assert.ok(server.droppedAttributesCount > 0);
    assert.ok(stage.droppedEventsCount > 0);
    assert.ok(client.droppedLinksCount > 0);
    assert.equal(server.attributes['url.path'], `/orders/${'x'.repeat(24)}`);

    assert.deepEqual(official(normalized(lean)), official(normalized(sdk)));
    // And edgeway's encoder writes for lean spans what the SDK's serializer writes for them.
    assert.deepEqual(encoded(lean), official(lean));
  });

  test('attributes encoded straight from a lean span are what the SDK span exports, whatever their keys and values', () => {
    diag.disable();
    // Short ASCII (one-pass path) and what is not: long, non-ASCII, non-integer, negative, large and array
    // values, index-like and __proto__ keys (an object orders and drops those), a key set twice, the count limit.
    const attributesScript: Start = (name, kind, parent, parentSpan) => {
      const span = start(name, kind, parent, parentSpan);
      span.setAttribute('http.request.method', 'GET');
      span.setAttribute('server.port', 8080);
      span.setAttribute('zero', 0);
      span.setAttribute('edge.127', 127);
      span.setAttribute('edge.128', 128);
      span.setAttribute('u32', 0xffff_ffff);
      span.setAttribute('beyond.u32', 2 ** 32);
      span.setAttribute('negative', -1);
      span.setAttribute('half', 1.5);
      span.setAttribute('flag', false);
      span.setAttribute('list', ['a', 'b']);
      span.setAttribute('long', 'l'.repeat(140));
      span.setAttribute('k'.repeat(125), 'near the one-byte KeyValue length');
      span.setAttribute('utf8', 'grüße');
      span.setAttribute('grüße', 'key not ASCII');
      span.setAttribute('http.request.method', 'POST');
      return span;
    };
    function start(...args: Parameters<Start>): Span {
      return current(...args);
    }
    let current: Start = () => {
      throw new Error('unset');
    };
    const run = (setup: Start): void => {
      current = setup;
      const plain = attributesScript('plain', SpanKind.SERVER, ROOT_CONTEXT);
      plain.setAttribute('extra.1', 1);
      plain.setAttribute('extra.2', 2);
      plain.end();
      const digits = attributesScript('digits', SpanKind.CLIENT, ROOT_CONTEXT);
      digits.setAttribute('10', 'index-like');
      digits.setAttribute('2', 'index-like, smaller');
      digits.setAttribute('http.request.method', 'PUT');
      digits.end();
      const proto = attributesScript('proto', SpanKind.INTERNAL, ROOT_CONTEXT);
      proto.setAttribute('__proto__', 'not an own key');
      proto.setAttribute('__proto__', 'again');
      proto.setAttribute('after.proto', 1);
      proto.end();
    };
    const limits = { attributeCountLimit: 16, attributeValueLengthLimit: 200 };
    const sdkExporter = new InMemorySpanExporter();
    const sdkProvider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'edgeway' }),
      spanLimits: limits,
      spanProcessors: [new SimpleSpanProcessor(sdkExporter)],
    });
    const sdkTracer = sdkProvider.getTracer('edgeway');
    run((name, kind, parent) => sdkTracer.startSpan(name, { kind }, parent));
    const leanExporter = new InMemorySpanExporter();
    const leanProvider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'edgeway' }),
      spanLimits: limits,
      spanProcessors: [new SimpleSpanProcessor(leanExporter)],
    });
    const recorder = new SpanRecorder(
      recorderConfigOf(leanProvider.getTracer('edgeway')),
      pooledRandomHex,
    );
    run((name, kind, parent, parentSpan) => recorder.start(name, kind, parent, parentSpan));
    const lean = leanExporter.getFinishedSpans();
    const sdk = sdkExporter.getFinishedSpans();
    // Encoded first: nothing has read the attributes as an object yet, so the plain span goes from its lists.
    assert.deepEqual(
      lean.map((s) => (s as { attributeKeys?: unknown }).attributeKeys !== undefined),
      [true, false, false],
    );
    const straight = encoded(lean);
    assert.equal(sdk[0]!.droppedAttributesCount, 1, 'the count limit is reached');
    assert.deepEqual(straight, official(lean));
    assert.deepEqual(official(normalized(lean)), official(normalized(sdk)));
  });

  test('a lean span takes its start from the wall clock and its duration from the monotonic clock', async () => {
    const exporter = new InMemorySpanExporter();
    const recorder = new SpanRecorder(
      recorderConfigOf(provider(exporter).getTracer('edgeway')),
      pooledRandomHex,
    );
    const before = Date.now();
    const span = recorder.start('GET orders-read', SpanKind.SERVER, ROOT_CONTEXT, undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    span.end();
    const [done] = exporter.getFinishedSpans() as [ReadableSpan];
    const startMs = done.startTime[0] * 1000 + done.startTime[1] / 1e6;
    const endMs = done.endTime[0] * 1000 + done.endTime[1] / 1e6;
    assert.ok(startMs >= before && startMs <= before + 20, `start ${startMs} vs ${before}`);
    assert.ok(endMs - startMs >= 19 && endMs - startMs < 1000, `duration ${endMs - startMs}`);
    assert.equal(done.duration[0], 0);
    assert.ok(done.duration[1] >= 19e6, `duration ${done.duration[1]} ns`);
  });

  test('contextWithSpan is trace.setSpan: the span is found, other values and later values too', () => {
    const key = Symbol('k');
    const base = ROOT_CONTEXT.setValue(key, 'v');
    const span = trace.wrapSpanContext(REMOTE);
    const ctx = contextWithSpan(base, span);
    assert.equal(trace.getSpan(ctx), span);
    assert.equal(ctx.getValue(key), 'v');
    const other = Symbol('other');
    const later = ctx.setValue(other, 1);
    assert.equal(trace.getSpan(later), span);
    assert.equal(later.getValue(other), 1);
    assert.equal(trace.getSpan(trace.deleteSpan(ctx)), undefined);
    assert.equal(ctx.deleteValue(key).getValue(key), undefined);
  });
});

interface Seen {
  readonly traceId: string;
  readonly traceparent: string | undefined;
}

/** `count` real requests through a SERVER span, a select_instance stage span and a CLIENT span each. */
async function requests(
  factory: SpanFactory,
  count: number,
  headers: Record<string, string> = {},
): Promise<Seen[]> {
  const server = createServer((req, res) => {
    const span = factory.startServerSpan(req, 'orders-read', 'GET');
    factory.stageSpan(span, 'edgeway.select_instance', () => 'i-1');
    const client = factory.startClientSpan(
      span,
      'orders',
      { id: 'i-1', url: 'http://10.0.0.7:9001' },
      '/orders',
      1,
    );
    factory.endClientSpan(client, 200);
    factory.endServerSpan(span, 200);
    res.end(JSON.stringify({ traceId: span.traceId, traceparent: client.traceparent }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const seen: Seen[] = [];
    for (let i = 0; i < count; i++) {
      const req = request({ host: '127.0.0.1', port, path: '/orders', agent, headers });
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      let text = '';
      for await (const chunk of res) text += String(chunk);
      seen.push(JSON.parse(text) as Seen);
    }
    return seen;
  } finally {
    agent.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Starts tracing into `exporter` with OTEL_TRACES_SAMPLER[_ARG] set as the SDK reads them (process.env). */
function tracingWith(exporter: InMemorySpanExporter, sampler: string, arg?: string) {
  process.env.OTEL_TRACES_SAMPLER = sampler;
  if (arg === undefined) delete process.env.OTEL_TRACES_SAMPLER_ARG;
  else process.env.OTEL_TRACES_SAMPLER_ARG = arg;
  try {
    return startTracing({ spanExporter: exporter });
  } finally {
    delete process.env.OTEL_TRACES_SAMPLER;
    delete process.env.OTEL_TRACES_SAMPLER_ARG;
  }
}

describe('the SDK samplers from OTEL_TRACES_SAMPLER decide request spans', () => {
  // One per test: a tracing shutdown stops its exporter for good.
  let exporter: InMemorySpanExporter;
  beforeEach(() => {
    exporter = new InMemorySpanExporter();
  });
  after(() => diag.disable());

  test('parentbased_traceidratio: sampled exactly where the ratio sampler samples the trace id, three spans each; the rest forward 00', async () => {
    const tracing = tracingWith(exporter, 'parentbased_traceidratio', '0.25');
    try {
      const seen = await requests(new SpanFactory(tracing), 200);
      await tracing.flush();
      const ratio = new TraceIdRatioBasedSampler(0.25);
      const exported = exporter.getFinishedSpans();
      let sampled = 0;
      for (const { traceId, traceparent } of seen) {
        const expected =
          ratio.shouldSample(ROOT_CONTEXT, traceId).decision ===
          SamplingDecision.RECORD_AND_SAMPLED;
        const spans = exported.filter((s) => s.spanContext().traceId === traceId);
        const [version, id, spanId, flags] = (traceparent ?? '').split('-');
        assert.equal(version, '00');
        assert.equal(id, traceId);
        assert.equal(flags, expected ? '01' : '00', traceparent);
        if (expected) {
          sampled++;
          assert.deepEqual(
            spans.map((s) => s.kind).sort(),
            [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT].sort(),
          );
          const client = spans.find((s) => s.kind === SpanKind.CLIENT);
          assert.equal(client?.spanContext().spanId, spanId);
        } else {
          assert.equal(spans.length, 0);
          assert.match(spanId ?? '', /^[0-9a-f]{16}$/);
        }
      }
      assert.ok(sampled > 20 && sampled < 90, `${sampled} of 200 sampled`);
      assert.equal(exported.length, sampled * 3);
    } finally {
      await tracing.shutdown();
    }
  });

  test('parentbased_traceidratio follows an incoming traceparent either way, whatever the ratio says of its trace id', async () => {
    assert.equal(
      new TraceIdRatioBasedSampler(0.0001).shouldSample(ROOT_CONTEXT, REMOTE.traceId).decision,
      SamplingDecision.NOT_RECORD,
    );
    const tracing = tracingWith(exporter, 'parentbased_traceidratio', '0.0001');
    try {
      const factory = new SpanFactory(tracing);
      const caller = '00f067aa0ba902b7';
      const [sampled] = await requests(factory, 1, {
        traceparent: `00-${REMOTE.traceId}-${caller}-01`,
        tracestate: 'vendor=a',
      });
      await tracing.flush();
      assert.match(
        sampled?.traceparent ?? '',
        new RegExp(`^00-${REMOTE.traceId}-[0-9a-f]{16}-01$`),
      );
      const spans = exporter.getFinishedSpans();
      assert.equal(spans.length, 3);
      const server = spans.find((s) => s.kind === SpanKind.SERVER);
      assert.equal(server?.parentSpanContext?.spanId, caller);
      assert.equal(server?.parentSpanContext?.isRemote, true);
      assert.equal(server?.spanContext().traceState?.serialize(), 'vendor=a');
      exporter.reset();
      // A trace id the ratio samples (its parts XOR to 1, below 0.0001 of 2^32).
      const unsampledTrace = '00000000000000000000000000000001';
      assert.equal(
        new TraceIdRatioBasedSampler(0.0001).shouldSample(ROOT_CONTEXT, unsampledTrace).decision,
        SamplingDecision.RECORD_AND_SAMPLED,
      );
      const [unsampled] = await requests(factory, 1, {
        traceparent: `00-${unsampledTrace}-${caller}-00`,
      });
      await tracing.flush();
      assert.match(
        unsampled?.traceparent ?? '',
        new RegExp(`^00-${unsampledTrace}-[0-9a-f]{16}-00$`),
      );
      assert.notEqual(unsampled?.traceparent?.slice(36, 52), caller);
      assert.equal(exporter.getFinishedSpans().length, 0);
    } finally {
      await tracing.shutdown();
    }
  });

  test('always_off: no span is exported, yet each request forwards its trace unsampled', async () => {
    const tracing = tracingWith(exporter, 'always_off');
    try {
      const factory = new SpanFactory(tracing);
      const seen = await requests(factory, 5);
      const [incoming] = await requests(factory, 1, {
        traceparent: `00-${REMOTE.traceId}-00f067aa0ba902b7-01`,
      });
      await tracing.flush();
      for (const { traceId, traceparent } of [...seen, incoming as Seen])
        assert.match(traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
      assert.equal(incoming?.traceId, REMOTE.traceId);
      assert.equal(new Set(seen.map((s) => s.traceId)).size, 5);
      assert.equal(exporter.getFinishedSpans().length, 0);
    } finally {
      await tracing.shutdown();
    }
  });

  test('a root span under a ratio sampler is decided as the sampler decides it, right at its bound', () => {
    const ratio = new TraceIdRatioBasedSampler(0.25);
    // The ratio sampler XORs the id's four 32-bit words and samples below floor(0.25 * 0xffffffff).
    const bound = Math.floor(0.25 * 0xffffffff);
    const word = (n: number): string => n.toString(16).padStart(8, '0');
    const ids = [bound - 1, bound, bound + 1].map((n) => `${word(n)}${'0'.repeat(24)}`);
    for (let i = 0; i < 500; i++) ids.push(pooledRandomHex(16));
    const decided = ids.map(
      (id) => ratio.shouldSample(ROOT_CONTEXT, id).decision === SamplingDecision.RECORD_AND_SAMPLED,
    );
    assert.deepEqual(decided.slice(0, 3), [true, false, false]);
    for (const sampler of [ratio, new ParentBasedSampler({ root: ratio })]) {
      const exporter = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({
        sampler,
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      });
      let next = 0;
      const recorder = new SpanRecorder(recorderConfigOf(provider.getTracer('edgeway')), (bytes) =>
        bytes === 16 ? (ids[next++] as string) : pooledRandomHex(8),
      );
      const recorded = ids.map(() => {
        const span = recorder.start('GET orders', SpanKind.SERVER, ROOT_CONTEXT, undefined);
        span.end();
        return span.isRecording() || span.spanContext().traceFlags === TraceFlags.SAMPLED;
      });
      assert.deepEqual(recorded, decided, String(sampler));
      assert.equal(exporter.getFinishedSpans().length, decided.filter(Boolean).length);
    }
  });

  test('traceidratio (not parent-based): a child is sampled as its trace id is, like the SERVER span', async () => {
    const tracing = tracingWith(exporter, 'traceidratio', '0.5');
    try {
      const seen = await requests(new SpanFactory(tracing), 60);
      await tracing.flush();
      const ratio = new TraceIdRatioBasedSampler(0.5);
      for (const { traceId, traceparent } of seen) {
        const expected =
          ratio.shouldSample(ROOT_CONTEXT, traceId).decision ===
          SamplingDecision.RECORD_AND_SAMPLED;
        assert.equal(traceparent?.endsWith(expected ? '-01' : '-00'), true);
        assert.equal(
          exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId).length,
          expected ? 3 : 0,
        );
      }
    } finally {
      await tracing.shutdown();
    }
  });
});
