/** The spans of one request: a SERVER span, child spans for gateway stages, one CLIENT span per upstream attempt. */
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace,
  type Context, type Span,
} from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS, ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_SERVER_ADDRESS, ATTR_URL_PATH, ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { Tracing } from './otel.js';

/** Stage span names: they line up with the stage names and the metric names. */
export type StageName = 'edgeway.auth' | 'edgeway.rate_limit' | 'edgeway.select_instance';

/** The request's SERVER span and what its children and the access log need from it. */
export interface ServerSpan {
  readonly span: Span;
  /** The context children start from (the server span inside the incoming trace). */
  readonly context: Context;
  readonly method: string;
  /** Trace id for logs and upstream headers: the span's, or (tracing off) the incoming one or a new random one. */
  readonly traceId: string;
  /** The client's `traceparent` when valid (W3C Trace Context), else undefined. */
  readonly incomingTraceparent: string | undefined;
  /** The client's `tracestate`, kept only alongside a valid `traceparent`. */
  readonly incomingTracestate: string | undefined;
}

/** One upstream attempt: its CLIENT span and the W3C headers that carry its context upstream. */
export interface ClientSpan {
  readonly span: Span;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
}

/** Verbosity: `stages: false` drops the stage child spans (server and client spans always exist). */
export interface SpanOptions {
  readonly stages: boolean;
}

// Attributes are set after start, not passed in these options: the SDK sanitises start attributes twice and
// copies them a third time (~25% of span creation), no OTEL_TRACES_SAMPLER sampler reads them, and an
// unsampled span then costs no attribute work at all.
const SERVER = { kind: SpanKind.SERVER };
const CLIENT = { kind: SpanKind.CLIENT };
const INTERNAL = { kind: SpanKind.INTERNAL };

/** A span that records nothing; handed out whenever tracing is off, never allocated per request. */
export const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

// W3C Trace Context 3.2: version-traceid-parentid-flags, lowercase hex; a later version may append
// fields after another dash, version 00 may not, and version ff is invalid.
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-|$)/;
const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';

/** Returns `bytes` random bytes as lowercase hex; injectable so tests are deterministic. */
export type RandomHex = (bytes: number) => string;

// One randomFillSync per 4 KiB instead of one per id: about 250 trace ids or 500 span ids per refill.
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;

/** Fast non-blocking random hex from a pooled CSPRNG buffer (the default {@link RandomHex}). */
export function pooledRandomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

/** A random id that is not all zeros (W3C Trace Context 3.2.2.3 and 3.2.2.4 forbid those). */
function randomId(random: RandomHex, bytes: number, zero: string): string {
  let id = random(bytes);
  while (id === zero) id = random(bytes);
  return id;
}

/** The traceparent if W3C-valid (format, version not ff, version 00 exactly 55 chars, ids not all zero). */
function validTraceparent(value: string | undefined): string | undefined {
  if (value === undefined || !TRACEPARENT.test(value)) return undefined;
  if (value.startsWith('ff') || (value.startsWith('00') && value.length !== 55)) return undefined;
  if (value.slice(3, 35) === ZERO_TRACE_ID || value.slice(36, 52) === ZERO_SPAN_ID) return undefined;
  return value;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function hostOnly(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The SERVER span's HTTP semantic-convention attributes (only called for recording spans). */
function describeServerSpan(span: Span, req: IncomingMessage, routeName: string, method: string, clientAddress: string | undefined): void {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  span.setAttribute(ATTR_HTTP_REQUEST_METHOD, method);
  span.setAttribute(ATTR_HTTP_ROUTE, routeName);
  span.setAttribute(ATTR_URL_PATH, query === -1 ? url : url.slice(0, query));
  span.setAttribute(ATTR_URL_SCHEME, (req.socket as TLSSocket).encrypted === true ? 'https' : 'http');
  const host = hostOnly(req.headers.host);
  if (host !== undefined) span.setAttribute(ATTR_SERVER_ADDRESS, host);
  const client = clientAddress ?? req.socket.remoteAddress;
  if (client !== undefined) span.setAttribute(ATTR_CLIENT_ADDRESS, client);
  const agent = req.headers['user-agent'];
  if (agent !== undefined) span.setAttribute(ATTR_USER_AGENT_ORIGINAL, agent);
}

/** Sets the span's status: CLIENT spans fail from 400, SERVER spans from 500 (semconv HTTP span status). */
function finish(span: Span, status: number | undefined, error: unknown, failFrom: number): void {
  if (span.isRecording()) {
    if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (error !== undefined) {
      const code = (error as { code?: unknown }).code;
      span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : error instanceof Error ? error.name : 'error');
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    } else if (status !== undefined && status >= failFrom) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}

/**
 * Creates request spans. Built once per gateway; with tracing off every method returns shared no-op
 * spans and skips all attribute work, yet still propagates a W3C trace (incoming or new) upstream, so
 * the request path pays a branch, one small object and a few random bytes.
 */
export class SpanFactory {
  readonly #tracing: Tracing;
  readonly #stages: boolean;
  readonly #random: RandomHex;

  /** `random` supplies trace and span ids when tracing is off (default {@link pooledRandomHex}). */
  constructor(tracing: Tracing, options: SpanOptions = { stages: true }, random: RandomHex = pooledRandomHex) {
    this.#tracing = tracing;
    this.#stages = options.stages;
    this.#random = random;
  }

  /**
   * Starts the SERVER span named `METHOD route`, continuing an incoming W3C `traceparent`/`tracestate`.
   * `clientAddress` is the address trusted-proxy rules decided (defaults to the socket's peer).
   */
  startServerSpan(req: IncomingMessage, routeName: string, method: string, clientAddress?: string): ServerSpan {
    const incomingTraceparent = validTraceparent(headerValue(req, 'traceparent'));
    // W3C Trace Context 3.3: tracestate means nothing without a valid traceparent.
    const incomingTracestate = incomingTraceparent === undefined ? undefined : headerValue(req, 'tracestate');
    if (!this.#tracing.enabled) {
      const traceId = incomingTraceparent === undefined ? randomId(this.#random, 16, ZERO_TRACE_ID) : incomingTraceparent.slice(3, 35);
      return { span: NOOP_SPAN, context: ROOT_CONTEXT, method, traceId, incomingTraceparent, incomingTracestate };
    }
    const parent = incomingTraceparent === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, req.headers);
    const span = this.#tracing.tracer.startSpan(`${method} ${routeName}`, SERVER, parent);
    // Unsampled spans (OTEL_TRACES_SAMPLER ratios) skip the attribute work entirely.
    if (span.isRecording()) describeServerSpan(span, req, routeName, method, clientAddress);
    return {
      span,
      context: trace.setSpan(parent, span),
      method,
      traceId: span.spanContext().traceId,
      incomingTraceparent,
      incomingTracestate,
    };
  }

  /**
   * Runs a gateway stage inside a child span (or directly, when tracing or stage spans are off). The
   * stage receives its span to record decisions on; an exception marks the span failed and is rethrown.
   */
  stageSpan<T>(parent: ServerSpan, name: StageName, fn: (span: Span) => T): T {
    if (!this.#stages || !parent.span.isRecording()) return fn(NOOP_SPAN);
    const span = this.#tracing.tracer.startSpan(name, INTERNAL, parent.context);
    let result: T;
    try {
      result = fn(span);
    } catch (err) {
      finish(span, undefined, err, Infinity);
      throw err;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => { span.end(); return value; },
        (err: unknown) => { finish(span, undefined, err, Infinity); throw err; },
      ) as T;
    }
    span.end();
    return result;
  }

  /**
   * Starts the CLIENT span of upstream attempt `attempt` (1 for the first try) and returns the
   * `traceparent`/`tracestate` to send upstream: this span's context, or with tracing off the request's
   * trace id with a new span id (the unrecorded client span) and the client's flags (else 00: nothing
   * is sampled), sent as version 00, and the client's tracestate unchanged.
   */
  startClientSpan(parent: ServerSpan, service: string, instance: string, attempt: number): ClientSpan {
    if (!this.#tracing.enabled) {
      const flags = parent.incomingTraceparent === undefined ? '00' : parent.incomingTraceparent.slice(53, 55);
      const traceparent = `00-${parent.traceId}-${randomId(this.#random, 8, ZERO_SPAN_ID)}-${flags}`;
      return { span: NOOP_SPAN, traceparent, tracestate: parent.incomingTracestate };
    }
    const span = this.#tracing.tracer.startSpan(`${parent.method} ${service}`, CLIENT, parent.context);
    if (span.isRecording()) {
      span.setAttribute(ATTR_HTTP_REQUEST_METHOD, parent.method);
      span.setAttribute('edgeway.service', service);
      span.setAttribute('edgeway.instance', instance);
      // semconv: resend_count is set on retries only (0-based count of earlier sends).
      if (attempt > 1) span.setAttribute(ATTR_HTTP_REQUEST_RESEND_COUNT, attempt - 1);
    }
    // W3C Trace Context 3.2, written directly: the global propagator would allocate a context per attempt.
    const sc = span.spanContext();
    const traceparent = `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & 1 ? '01' : '00'}`;
    return { span, traceparent, tracestate: sc.traceState?.serialize() ?? parent.incomingTracestate };
  }

  /** Ends an attempt's CLIENT span with the upstream status, or the error that ended the attempt. */
  endClientSpan(client: ClientSpan, status: number | undefined, error?: unknown): void {
    if (client.span !== NOOP_SPAN) finish(client.span, status, error, 400);
  }

  /** Ends the SERVER span with the status the client received, and the GatewayError if one answered. */
  endServerSpan(server: ServerSpan, status: number, error?: unknown): void {
    if (server.span !== NOOP_SPAN) finish(server.span, status, error, 500);
  }
}

/** Records a decision (e.g. `edgeway.rate_limit.outcome`) on a span, skipping the work when not recording. */
export function recordDecision(span: Span, key: string, value: string | number | boolean): void {
  if (span.isRecording()) span.setAttribute(key, value);
}
