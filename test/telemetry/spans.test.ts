/** Request spans against an in-memory exporter: hierarchy, attributes, propagation, and the tracing-off path. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { startTracing, type Tracing } from '../../src/telemetry/tracing/otel.js';
import { GatewayError } from '../../src/errors.js';
import type { RequestContext, Stage } from '../../src/request/context.js';
import type { ServerSpan } from '../../src/request/server-span.js';
import { SpanFactory, recordDecision, type ClientSpan } from '../../src/telemetry/tracing/spans.js';

type Handler = (req: IncomingMessage) => Promise<Record<string, string | undefined>>;

/** Serves one handler on 127.0.0.1 and returns what it reports for a request with `headers`. */
async function roundTrip(
  handler: Handler,
  headers: Record<string, string>,
): Promise<Record<string, string | undefined>> {
  const server: Server = createServer((req, res) => {
    handler(req).then(
      (body) => res.end(JSON.stringify(body)),
      (err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      },
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/orders/42?secret=1',
      headers: { 'user-agent': 'spans-test', ...headers },
    });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let text = '';
    for await (const chunk of res) text += String(chunk);
    assert.equal(res.statusCode, 200, text);
    return JSON.parse(text) as Record<string, string | undefined>;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function pipeline(factory: SpanFactory): Handler {
  return async (req) => {
    const server: ServerSpan = factory.startServerSpan(req, 'orders-read', 'GET');
    factory.stageSpan(server, 'edgeway.auth', (span) =>
      recordDecision(span, 'edgeway.auth.sub', 'client-1'),
    );
    await factory.stageSpan(server, 'edgeway.rate_limit', async (span) =>
      recordDecision(span, 'edgeway.rate_limit.outcome', 'allowed'),
    );
    factory.stageSpan(server, 'edgeway.select_instance', () => 'i-1');
    const first: ClientSpan = factory.startClientSpan(
      server,
      'orders',
      { id: 'i-1', url: 'http://10.0.0.7:9001/base/' },
      '/orders/42?sig=abc&x=1',
      1,
    );
    factory.endClientSpan(first, 503);
    const second = factory.startClientSpan(
      server,
      'orders',
      { id: 'i-2', url: 'https://[::1]/' },
      '/orders/42',
      2,
    );
    factory.endClientSpan(second, 200);
    factory.endServerSpan(server, 200);
    return {
      traceId: server.traceId,
      first: first.traceparent,
      second: second.traceparent,
      tracestate: second.tracestate,
    };
  };
}

describe('request spans with tracing on', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  before(() => {
    tracing = startTracing({ spanExporter: exporter });
  });
  after(async () => {
    await tracing.shutdown();
  });

  test('a request makes a SERVER span with stage children and one CLIENT span per attempt', async () => {
    exporter.reset();
    const seen = await roundTrip(pipeline(new SpanFactory(tracing)), {});
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const [server] = byName('GET orders-read');
    assert.ok(server);
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(server.parentSpanContext, undefined);
    assert.equal(server.attributes['http.request.method'], 'GET');
    assert.equal(server.attributes['http.route'], 'orders-read');
    assert.equal(server.attributes['url.path'], '/orders/42');
    assert.equal(server.attributes['url.scheme'], 'http');
    assert.equal(server.attributes['server.address'], '127.0.0.1');
    assert.equal(server.attributes['client.address'], '127.0.0.1');
    assert.equal(server.attributes['user_agent.original'], 'spans-test');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['url.query'], 'secret=1');
    assert.equal(typeof server.attributes['server.port'], 'number', 'the port of the Host header');
    assert.equal(server.attributes['network.protocol.version'], '1.1');
    assert.equal(seen.traceId, server.spanContext().traceId);

    for (const name of ['edgeway.auth', 'edgeway.rate_limit', 'edgeway.select_instance']) {
      const [stage] = byName(name);
      assert.ok(stage, name);
      assert.equal(stage.parentSpanContext?.spanId, server.spanContext().spanId, name);
    }
    assert.equal(
      byName('edgeway.rate_limit')[0]?.attributes['edgeway.rate_limit.outcome'],
      'allowed',
    );

    const clients = byName('GET orders');
    assert.equal(clients.length, 2);
    for (const [index, client] of clients.entries()) {
      assert.equal(client.kind, SpanKind.CLIENT);
      assert.equal(client.parentSpanContext?.spanId, server.spanContext().spanId);
      const ctx = client.spanContext();
      assert.equal(index === 0 ? seen.first : seen.second, `00-${ctx.traceId}-${ctx.spanId}-01`);
    }
    assert.equal(clients[0]?.status.code, SpanStatusCode.ERROR);
    assert.equal(clients[0]?.attributes['http.response.status_code'], 503);
    assert.equal(clients[0]?.attributes['http.request.resend_count'], undefined);
    assert.equal(clients[1]?.attributes['http.request.resend_count'], 1);
    assert.equal(clients[1]?.attributes['edgeway.instance'], 'i-2');
    assert.deepEqual(
      clients.map((c) => [
        c.attributes['server.address'],
        c.attributes['server.port'],
        c.attributes['url.full'],
      ]),
      [
        ['10.0.0.7', 9001, 'http://10.0.0.7:9001/base/orders/42?sig=REDACTED&x=1'],
        ['::1', 443, 'https://[::1]/orders/42'],
      ],
      'semconv HTTP client: server.address, server.port and url.full, signature values redacted',
    );
  });

  test('SERVER span status follows semconv: a 4xx stays UNSET with no exception event, a 5xx is ERROR with error.type = status', async () => {
    exporter.reset();
    const factory = new SpanFactory(tracing);
    await roundTrip(async (req) => {
      factory.endServerSpan(
        factory.startServerSpan(req, 'orders-read', 'GET'),
        401,
        new GatewayError('unauthorized', 'invalid token: expired'),
      );
      factory.endServerSpan(
        factory.startServerSpan(req, 'unrouted', 'GET'),
        404,
        new GatewayError('not_found', 'no route matches this request'),
      );
      factory.endServerSpan(
        factory.startServerSpan(req, 'orders-read', 'GET'),
        502,
        new GatewayError('bad_gateway', 'upstream service "orders" refused the connection'),
      );
      const bug = new GatewayError('bad_gateway', 'the gateway failed to handle the request', [], {
        cause: new TypeError('x is undefined'),
      });
      factory.endServerSpan(factory.startServerSpan(req, 'orders-read', 'GET'), 502, bug);
      return {};
    }, {});
    await tracing.flush();
    const spans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    assert.deepEqual(
      spans.map((s) => [
        s.attributes['http.response.status_code'],
        s.status.code,
        s.attributes['error.type'],
        s.events.map((e) => e.name),
      ]),
      [
        [401, SpanStatusCode.UNSET, undefined, []],
        [404, SpanStatusCode.UNSET, undefined, []],
        [502, SpanStatusCode.ERROR, '502', []],
        [502, SpanStatusCode.ERROR, '502', ['exception']],
      ],
    );
    assert.equal(spans[2]?.status.message, 'upstream service "orders" refused the connection');
  });

  test('server.address and server.port come from Host, with the scheme default port and no port from a malformed one', async () => {
    const factory = new SpanFactory(tracing);
    const cases: Array<[string, string, number | undefined]> = [
      ['api.example.com', 'api.example.com', 80],
      ['api.example.com:8443', 'api.example.com', 8443],
      ['[::1]:9000', '::1', 9000],
      ['[::1]', '::1', 80],
      ['api.example.com:abc', 'api.example.com', undefined],
    ];
    for (const [host, address, port] of cases) {
      exporter.reset();
      await roundTrip(
        async (req) => {
          factory.endServerSpan(factory.startServerSpan(req, 'orders-read', 'GET'), 200);
          return {};
        },
        { host },
      );
      await tracing.flush();
      const server = exporter.getFinishedSpans()[0];
      assert.deepEqual(
        [server?.attributes['server.address'], server?.attributes['server.port']],
        [address, port],
        host,
      );
    }
  });

  test('a CLIENT span of a refused connection carries the failure kind as error.type', async () => {
    exporter.reset();
    const factory = new SpanFactory(tracing);
    await roundTrip(async (req) => {
      const server = factory.startServerSpan(req, 'orders-read', 'GET');
      factory.endClientSpan(
        factory.startClientSpan(server, 'orders', { id: 'i-1', url: 'http://127.0.0.1:1' }, '/', 1),
        undefined,
        'connect-failure',
      );
      factory.endServerSpan(server, 502);
      return {};
    }, {});
    await tracing.flush();
    const client = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT);
    assert.equal(client?.status.code, SpanStatusCode.ERROR);
    assert.equal(client?.attributes['error.type'], 'connect-failure');
  });

  test('an incoming traceparent is continued: same trace id, parent is the caller span', async () => {
    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const seen = await roundTrip(pipeline(new SpanFactory(tracing)), {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      tracestate: 'vendor=abc',
    });
    await tracing.flush();
    const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER);
    assert.equal(server?.spanContext().traceId, traceId);
    assert.equal(server?.parentSpanContext?.spanId, '00f067aa0ba902b7');
    assert.equal(seen.traceId, traceId);
    assert.match(seen.second ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    assert.equal(seen.tracestate, 'vendor=abc');
  });

  test('stages: false drops stage spans but keeps server and client spans', async () => {
    exporter.reset();
    await roundTrip(pipeline(new SpanFactory(tracing, { stages: false })), {});
    await tracing.flush();
    const names = exporter
      .getFinishedSpans()
      .map((s) => s.name)
      .sort();
    assert.deepEqual(names, ['GET orders', 'GET orders', 'GET orders-read']);
  });

  test('a failing stage marks its span as an error and rethrows', async () => {
    exporter.reset();
    const factory = new SpanFactory(tracing);
    await roundTrip(async (req) => {
      const server = factory.startServerSpan(req, 'orders-read', 'GET');
      const failure = Object.assign(new Error('token expired'), { code: 'unauthorized' });
      await assert.rejects(
        factory.stageSpan(server, 'edgeway.auth', async () => {
          throw failure;
        }),
        failure,
      );
      factory.endServerSpan(server, 401, failure);
      return {};
    }, {});
    await tracing.flush();
    const auth = exporter.getFinishedSpans().find((s) => s.name === 'edgeway.auth');
    assert.equal(auth?.status.code, SpanStatusCode.ERROR);
    assert.equal(auth?.attributes['error.type'], 'unauthorized');
  });
});

describe('stage spans describe what the stage decided', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  before(() => {
    tracing = startTracing({ spanExporter: exporter });
  });
  after(async () => {
    await tracing.shutdown();
  });

  /** Runs `stage` as `name` for a request on a route with `rateLimit`, and returns its finished span. */
  async function run(
    name: 'edgeway.auth' | 'edgeway.rate_limit',
    stage: Stage,
    rateLimit?: object,
  ) {
    exporter.reset();
    const factory = new SpanFactory(tracing);
    await roundTrip(async (req) => {
      const trace = factory.startServerSpan(req, 'orders-read', 'GET');
      const ctx = {
        req,
        trace,
        route: { config: { rateLimit } },
        principal: undefined,
        responseHeaders: [],
        upstreamHeaders: [],
      } as unknown as RequestContext;
      await (async () => factory.runStage(name, stage, ctx))().catch(() => undefined);
      factory.endServerSpan(trace, 200);
      return {};
    }, {});
    await tracing.flush();
    const span = exporter.getFinishedSpans().find((s) => s.name === name);
    assert.ok(span, name);
    return span;
  }

  test('a stage that answers 4xx made a decision: UNSET, no exception event; one that throws unexpectedly failed', async () => {
    const forbidden = await run('edgeway.auth', () => {
      throw new GatewayError('forbidden', 'the token lacks a required scope');
    });
    assert.deepEqual(
      [forbidden.status.code, forbidden.events, forbidden.attributes['edgeway.auth.outcome']],
      [SpanStatusCode.UNSET, [], 'forbidden'],
    );
    const broken = await run('edgeway.auth', async () => {
      throw new TypeError('claims is undefined');
    });
    assert.equal(broken.status.code, SpanStatusCode.ERROR);
    assert.equal(broken.attributes['error.type'], 'TypeError');
    assert.deepEqual(
      broken.events.map((e) => e.name),
      ['exception'],
    );
    assert.equal(broken.attributes['edgeway.auth.outcome'], undefined);
  });

  test('an authenticated caller is described by its issuer; an optional-auth request without a token is anonymous', async () => {
    const authenticated = await run('edgeway.auth', (ctx) => {
      ctx.principal = { sub: 'c-1', scopes: [], claims: { iss: 'https://idp.example.com/' } };
    });
    assert.equal(authenticated.attributes['edgeway.auth.outcome'], 'authenticated');
    assert.equal(authenticated.attributes['edgeway.auth.issuer'], 'https://idp.example.com/');
    assert.equal(
      JSON.stringify(authenticated.attributes).includes('c-1'),
      false,
      'never the subject',
    );
    const anonymous = await run('edgeway.auth', () => undefined);
    assert.equal(anonymous.attributes['edgeway.auth.outcome'], 'anonymous');
  });

  test('rate_limit: the key kind and mode always, the outcome and remaining for an enforced limit', async () => {
    const limited = await run(
      'edgeway.rate_limit',
      (ctx) => {
        ctx.responseHeaders.push(['RateLimit-Limit', '5'], ['RateLimit-Remaining', '0']);
        throw new GatewayError('rate_limited', 'rate limit exceeded; retry in 1 s');
      },
      { key: 'header:x-tenant', mode: 'enforce' },
    );
    assert.deepEqual(
      ['key', 'mode', 'outcome', 'remaining'].map(
        (k) => limited.attributes[`edgeway.rate_limit.${k}`],
      ),
      ['header:x-tenant', 'enforce', 'limited', 0],
    );
    assert.equal(limited.status.code, SpanStatusCode.UNSET);
    const shadow = await run('edgeway.rate_limit', () => undefined, { key: 'ip', mode: 'shadow' });
    assert.deepEqual(
      ['key', 'mode', 'outcome', 'remaining'].map(
        (k) => shadow.attributes[`edgeway.rate_limit.${k}`],
      ),
      ['ip', 'shadow', undefined, undefined],
    );
  });
});

describe('request spans with tracing off', () => {
  test('no exporter configured means no SDK, yet a request without a traceparent gets a new trace sent upstream', async () => {
    const tracing = startTracing({ env: {} });
    assert.equal(tracing.enabled, false);
    const seen = await roundTrip(pipeline(new SpanFactory(tracing)), {});
    assert.match(seen.traceId ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(seen.traceId, '0'.repeat(32));
    assert.match(seen.first ?? '', new RegExp(`^00-${seen.traceId}-[0-9a-f]{16}-00$`));
    assert.match(seen.second ?? '', new RegExp(`^00-${seen.traceId}-[0-9a-f]{16}-00$`));
    assert.notEqual(seen.first, seen.second, 'each attempt has its own span id');
    assert.equal(seen.tracestate, undefined);
    const other = await roundTrip(pipeline(new SpanFactory(tracing)), {});
    assert.notEqual(other.traceId, seen.traceId, 'every request starts its own trace');
  });

  test('tracing off keeps the incoming trace id and flags with a new span id, and passes tracestate on', async () => {
    const factory = new SpanFactory(startTracing({ env: {} }));
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const seen = await roundTrip(pipeline(factory), {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      tracestate: 'v=1',
    });
    assert.equal(seen.traceId, traceId);
    assert.match(seen.first ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    assert.notEqual(
      seen.first,
      `00-${traceId}-00f067aa0ba902b7-01`,
      'the client span id replaces the caller span id',
    );
    assert.equal(seen.tracestate, 'v=1');
    const unsampled = await roundTrip(pipeline(factory), {
      traceparent: `00-${traceId}-00f067aa0ba902b7-00`,
    });
    assert.match(unsampled.first ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  });

  test('tracing off treats a malformed incoming traceparent as absent, and drops its tracestate', async () => {
    const factory = new SpanFactory(startTracing({ env: {} }));
    const malformed = [
      'garbage',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    ];
    for (const traceparent of malformed) {
      const seen = await roundTrip(pipeline(factory), { traceparent, tracestate: 'v=1' });
      assert.notEqual(seen.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', traceparent);
      assert.match(
        seen.first ?? '',
        new RegExp(`^00-${seen.traceId}-[0-9a-f]{16}-00$`),
        traceparent,
      );
      assert.equal(seen.tracestate, undefined, traceparent);
    }
  });

  test('ids come from the injected random source and are never all zeros', async () => {
    const draws = ['0'.repeat(32), 'a'.repeat(32), '0'.repeat(16), 'b'.repeat(16)];
    const factory = new SpanFactory(
      startTracing({ env: {} }),
      { stages: true },
      () => draws.shift() ?? 'c'.repeat(16),
    );
    await roundTrip(async (req) => {
      const server = factory.startServerSpan(req, 'orders-read', 'GET');
      assert.equal(server.traceId, 'a'.repeat(32));
      assert.equal(
        factory.startClientSpan(
          server,
          'orders',
          { id: 'i-1', url: 'http://127.0.0.1:9001' },
          '/',
          1,
        ).traceparent,
        `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`,
      );
      return {};
    }, {});
  });

  test('a later traceparent version with extra fields is accepted and sent on as version 00', async () => {
    const factory = new SpanFactory(startTracing({ env: {} }));
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const seen = await roundTrip(pipeline(factory), {
      traceparent: `01-${traceId}-00f067aa0ba902b7-01-future`,
    });
    assert.equal(seen.traceId, traceId);
    assert.match(seen.first ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  test('the environment decides whether tracing starts', async () => {
    const { tracingRequested } = await import('../../src/telemetry/tracing/otel.js');
    const cases: Array<[NodeJS.ProcessEnv, boolean]> = [
      [{}, false],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, true],
      [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, true],
      [
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' },
        false,
      ],
      [{ OTEL_TRACES_EXPORTER: 'console' }, true],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }, false],
    ];
    for (const [env, expected] of cases)
      assert.equal(tracingRequested(env), expected, JSON.stringify(env));
  });

  test('only OTLP over http/protobuf alone goes through the encoding processor; other exporters stay with the SDK', async () => {
    const { otlpProtobufOnly } = await import('../../src/telemetry/tracing/otel.js');
    const cases: Array<[NodeJS.ProcessEnv, boolean]> = [
      [{}, true],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, true],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, false],
      [
        {
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
        },
        true,
      ],
      [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, false],
      [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: ' ', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, false],
      [{ OTEL_TRACES_EXPORTER: 'otlp,console' }, false],
      [{ OTEL_TRACES_EXPORTER: 'zipkin' }, false],
    ];
    for (const [env, expected] of cases)
      assert.equal(otlpProtobufOnly(env), expected, JSON.stringify(env));
  });
});
