/** The spans of one request: a SERVER span, child spans for gateway stages, one CLIENT span per upstream attempt. */
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  propagation,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { RequestContext, Stage } from '../../request/context.js';
import type { ServerSpan } from '../../request/server-span.js';
import type { FailureKind } from '../../balancing/endpoint.js';
import type { Tracing } from './otel.js';
import { describeStage, type StageName } from './stage-attributes.js';
import { SpanRecorder, contextWithSpan } from './span-recorder.js';

export type { StageName } from './stage-attributes.js';

/** An upstream instance as CLIENT spans need it (an `Endpoint` fits). */
export interface UpstreamInstance {
  readonly id: string;
  /** The instance's base URL as registered. */
  readonly url: string;
}

/** Where upstream attempts to one instance go, as CLIENT span attributes need it; built once per instance. */
interface UpstreamTarget {
  /** `server.address`: the instance's host name or IP (IPv6 without brackets). */
  readonly address: string;
  /** `server.port`: explicit, or the scheme's default. */
  readonly port: number;
  /** `scheme://host:port` and the instance's base path, which `url.full` continues with the request path. */
  readonly base: string;
}

/** The CLIENT span attributes of an instance registered at `url`. */
function upstreamTarget(url: string): UpstreamTarget {
  const parsed = new URL(url);
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  const address = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return { address, port, base: parsed.origin + parsed.pathname.replace(/\/+$/, '') };
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

/** A span that records nothing; handed out whenever tracing is off, never allocated per request. */
export const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

// W3C Trace Context 3.2: version-traceid-parentid-flags, lowercase hex; a later version may append
// fields after another dash, version 00 may not, and version ff is invalid.
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-|$)/;
const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';

/** Returns `bytes` random bytes as lowercase hex; injectable so tests are deterministic. */
export type RandomHex = (bytes: number) => string;

// One randomFillSync and one hex conversion per 2 KiB (about 128 trace ids or 256 span ids): an id is then
// a substring, where a native hex conversion per id cost more than the rest of an unsampled span.
const POOL_BYTES = 2048;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolHex = '';
let poolOffset = POOL_BYTES;

/** Fast non-blocking random hex from a pooled CSPRNG buffer (the default {@link RandomHex}). */
export function pooledRandomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    poolHex = pool.toString('hex');
    poolOffset = 0;
  }
  const hex = poolHex.slice(2 * poolOffset, 2 * (poolOffset + bytes));
  poolOffset += bytes;
  return hex;
}

/** A random id that is not all zeros (W3C Trace Context 3.2.2.3 and 3.2.2.4 forbid those). */
function randomId(random: RandomHex, bytes: number, zero: string): string {
  let id = random(bytes);
  // The first digit settles it 15 times in 16, without comparing the whole substring.
  while (id.charCodeAt(0) === 48 && id === zero) id = random(bytes);
  return id;
}

/** The traceparent if W3C-valid (format, version not ff, version 00 exactly 55 chars, ids not all zero). */
function validTraceparent(value: string | undefined): string | undefined {
  if (value === undefined || !TRACEPARENT.test(value)) return undefined;
  if (value.startsWith('ff') || (value.startsWith('00') && value.length !== 55)) return undefined;
  if (value.slice(3, 35) === ZERO_TRACE_ID || value.slice(36, 52) === ZERO_SPAN_ID)
    return undefined;
  return value;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// semconv url.query and url.full: the values of these keys are replaced by REDACTED (the conventions' list,
// plus RFC 6750 2.3's access_token, a bearer token sent in the query).
const SENSITIVE_QUERY_VALUES =
  /([?&](?:AWSAccessKeyId|Signature|sig|X-Goog-Signature|access_token)=)[^&#]*/g;

/** `target` (a path with an optional query) with sensitive query values redacted. */
function redactQuery(target: string): string {
  return target.includes('=') ? target.replace(SENSITIVE_QUERY_VALUES, '$1REDACTED') : target;
}

/** The host and port of a Host header value (RFC 9110 7.2); the IPv6 brackets stay off the address. */
function splitHost(host: string): { address: string; port: string } {
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : 0;
  const colon = host.indexOf(':', end);
  const name = colon === -1 ? host : host.slice(0, colon);
  return {
    address: end > 0 ? name.slice(1, end - 1) : name,
    port: colon === -1 ? '' : host.slice(colon + 1),
  };
}

/** The SERVER span's HTTP semantic-convention attributes (only called for recording spans). */
function describeServerSpan(
  span: Span,
  req: IncomingMessage,
  routeName: string,
  method: string,
  clientAddress: string | undefined,
): void {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const https = (req.socket as TLSSocket).encrypted === true;
  span.setAttribute(ATTR_HTTP_REQUEST_METHOD, method);
  span.setAttribute(ATTR_HTTP_ROUTE, routeName);
  span.setAttribute(ATTR_URL_PATH, query === -1 ? url : url.slice(0, query));
  if (query !== -1 && query < url.length - 1)
    span.setAttribute(ATTR_URL_QUERY, redactQuery(url.slice(query)).slice(1));
  span.setAttribute(ATTR_URL_SCHEME, https ? 'https' : 'http');
  // semconv spells HTTP/2 as "2" (Node says "2.0").
  span.setAttribute(
    ATTR_NETWORK_PROTOCOL_VERSION,
    req.httpVersionMajor === 2 ? '2' : req.httpVersion,
  );
  // semconv: server.address and server.port come from Host (HTTP/2: :authority); without a port there, the scheme's default.
  const host = (req.headers[':authority'] as string | undefined) ?? req.headers.host;
  if (host !== undefined) {
    const { address, port } = splitHost(host);
    const number = port === '' ? (https ? 443 : 80) : Number(port);
    span.setAttribute(ATTR_SERVER_ADDRESS, address);
    // Host is the client's text: a port that is no port is left out rather than exported as NaN.
    if (Number.isInteger(number) && number >= 0 && number <= 65535)
      span.setAttribute(ATTR_SERVER_PORT, number);
  } else if (req.socket.localPort !== undefined) {
    span.setAttribute(ATTR_SERVER_PORT, req.socket.localPort);
  }
  const client = clientAddress ?? req.socket.remoteAddress;
  if (client !== undefined) span.setAttribute(ATTR_CLIENT_ADDRESS, client);
  const agent = req.headers['user-agent'];
  if (agent !== undefined) span.setAttribute(ATTR_USER_AGENT_ORIGINAL, agent);
}

/** Marks a stage span failed by an unexpected exception (an answer the stage chose is no failure). */
function failStage(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  span.setAttribute(
    ATTR_ERROR_TYPE,
    typeof code === 'string' ? code : error instanceof Error ? error.name : '_OTHER',
  );
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * Creates request spans. Built once per gateway; with tracing off every method returns shared no-op
 * spans and skips all attribute work, yet still propagates a W3C trace (incoming or new) upstream, so
 * the request path pays a branch, one small object and a few random bytes.
 */
export class SpanFactory {
  /** Undefined when tracing is off. */
  readonly #recorder: SpanRecorder | undefined;
  readonly #stages: boolean;
  readonly #random: RandomHex;
  /** Each instance's CLIENT span attributes, parsed from its URL once (weakly held: departed instances go). */
  readonly #targets = new WeakMap<UpstreamInstance, UpstreamTarget>();

  /** `random` supplies trace and span ids (default {@link pooledRandomHex}). */
  constructor(
    tracing: Tracing,
    options: SpanOptions = { stages: true },
    random: RandomHex = pooledRandomHex,
  ) {
    this.#stages = options.stages;
    this.#random = random;
    this.#recorder =
      tracing.recorder === undefined
        ? undefined
        : new SpanRecorder(tracing.recorder, (bytes) =>
            randomId(random, bytes, bytes === 16 ? ZERO_TRACE_ID : ZERO_SPAN_ID),
          );
  }

  /**
   * Starts the SERVER span named `METHOD route`, continuing an incoming W3C `traceparent`/`tracestate`.
   * `clientAddress` is the address trusted-proxy rules decided (defaults to the socket's peer).
   */
  startServerSpan(
    req: IncomingMessage,
    routeName: string,
    method: string,
    clientAddress?: string,
  ): ServerSpan {
    const incomingTraceparent = validTraceparent(headerValue(req, 'traceparent'));
    // W3C Trace Context 3.3: tracestate means nothing without a valid traceparent.
    const incomingTracestate =
      incomingTraceparent === undefined ? undefined : headerValue(req, 'tracestate');
    const recorder = this.#recorder;
    if (recorder === undefined) {
      const traceId =
        incomingTraceparent === undefined
          ? randomId(this.#random, 16, ZERO_TRACE_ID)
          : incomingTraceparent.slice(3, 35);
      return {
        span: NOOP_SPAN,
        context: ROOT_CONTEXT,
        method,
        traceId,
        incomingTraceparent,
        incomingTracestate,
        attempts: 0,
        upstreamFailure: undefined,
      };
    }
    const parent =
      incomingTraceparent === undefined
        ? ROOT_CONTEXT
        : propagation.extract(ROOT_CONTEXT, req.headers);
    const remote = parent === ROOT_CONTEXT ? undefined : trace.getSpanContext(parent);
    const span = recorder.start(
      `${method} ${routeName}`,
      SpanKind.SERVER,
      parent,
      remote !== undefined && trace.isSpanContextValid(remote) ? remote : undefined,
    );
    // Unsampled spans (OTEL_TRACES_SAMPLER ratios) skip the attribute work entirely.
    if (span.isRecording()) describeServerSpan(span, req, routeName, method, clientAddress);
    return {
      span,
      context: contextWithSpan(parent, span),
      method,
      traceId: span.spanContext().traceId,
      incomingTraceparent,
      incomingTracestate,
      attempts: 0,
      upstreamFailure: undefined,
    };
  }

  /**
   * Runs a gateway stage inside a child span (or directly, when tracing or stage spans are off). The
   * stage receives its span to record decisions on; an exception marks the span failed and is rethrown.
   */
  stageSpan<T>(parent: ServerSpan, name: StageName, fn: (span: Span) => T): T {
    const recorder = this.#recorder;
    if (!this.#stages || recorder === undefined || !parent.span.isRecording()) return fn(NOOP_SPAN);
    const span = recorder.startChild(
      name,
      SpanKind.INTERNAL,
      parent.context,
      parent.span.spanContext(),
    );
    let result: T;
    try {
      result = fn(span);
    } catch (err) {
      failStage(span, err);
      span.end();
      throw err;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          failStage(span, err);
          span.end();
          throw err;
        },
      ) as T;
    }
    span.end();
    return result;
  }

  /**
   * Runs a route stage inside its span (or directly, when tracing or stage spans are off), and when the
   * stage is done describes on the span what it decided, read from the request context: the builder
   * wraps every stage, so no stage writes span attributes of its own.
   */
  runStage(name: StageName, stage: Stage, ctx: RequestContext): void | Promise<void> {
    const recorder = this.#recorder;
    if (!this.#stages || recorder === undefined || !ctx.trace.span.isRecording()) return stage(ctx);
    const span = recorder.startChild(
      name,
      SpanKind.INTERNAL,
      ctx.trace.context,
      ctx.trace.span.spanContext(),
    );
    let result: void | Promise<void>;
    try {
      result = stage(ctx);
    } catch (err) {
      endStage(span, name, ctx, err);
      throw err;
    }
    if (result instanceof Promise) {
      return result.then(
        () => endStage(span, name, ctx, undefined),
        (err: unknown) => {
          endStage(span, name, ctx, err);
          throw err;
        },
      );
    }
    endStage(span, name, ctx, undefined);
    return undefined;
  }

  /**
   * Starts the CLIENT span of upstream attempt `attempt` (1 for the first try) and returns the
   * `traceparent`/`tracestate` to send upstream: this span's context, or with tracing off the request's
   * trace id with a new span id (the unrecorded client span) and the client's flags (else 00: nothing
   * is sampled), sent as version 00, and the client's tracestate unchanged.
   */
  startClientSpan(
    parent: ServerSpan,
    service: string,
    instance: UpstreamInstance,
    path: string,
    attempt: number,
  ): ClientSpan {
    const recorder = this.#recorder;
    if (recorder === undefined) {
      const flags =
        parent.incomingTraceparent === undefined ? '00' : parent.incomingTraceparent.slice(53, 55);
      const traceparent = `00-${parent.traceId}-${randomId(this.#random, 8, ZERO_SPAN_ID)}-${flags}`;
      return { span: NOOP_SPAN, traceparent, tracestate: parent.incomingTracestate };
    }
    const span = recorder.startChild(
      `${parent.method} ${service}`,
      SpanKind.CLIENT,
      parent.context,
      parent.span.spanContext(),
    );
    if (span.isRecording()) {
      let target = this.#targets.get(instance);
      if (target === undefined) {
        target = upstreamTarget(instance.url);
        this.#targets.set(instance, target);
      }
      span.setAttribute(ATTR_HTTP_REQUEST_METHOD, parent.method);
      span.setAttribute(ATTR_SERVER_ADDRESS, target.address);
      span.setAttribute(ATTR_SERVER_PORT, target.port);
      span.setAttribute(ATTR_URL_FULL, target.base + redactQuery(path));
      span.setAttribute('edgeway.service', service);
      span.setAttribute('edgeway.instance', instance.id);
      // semconv: resend_count is set on retries only (0-based count of earlier sends).
      if (attempt > 1) span.setAttribute(ATTR_HTTP_REQUEST_RESEND_COUNT, attempt - 1);
    }
    // W3C Trace Context 3.2, written directly: the global propagator would allocate a context per attempt.
    const sc = span.spanContext();
    const traceparent = `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & 1 ? '01' : '00'}`;
    return {
      span,
      traceparent,
      tracestate: sc.traceState?.serialize() ?? parent.incomingTracestate,
    };
  }

  /**
   * Ends an attempt's CLIENT span with the upstream status, or how the attempt failed. semconv HTTP span
   * status: a CLIENT span fails from 400; `error.type` is the status code, or the failure kind (low
   * cardinality: `connect-failure`, `reset`, `timeout`, `invalid-response`, `client-aborted`, `gateway-error`).
   */
  endClientSpan(client: ClientSpan, status: number | undefined, failure?: FailureKind): void {
    const { span } = client;
    if (span === NOOP_SPAN) return;
    if (span.isRecording()) {
      if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (failure !== undefined) {
        span.setAttribute(ATTR_ERROR_TYPE, failure);
        span.setStatus({ code: SpanStatusCode.ERROR });
      } else if (status !== undefined && status >= 400) {
        span.setAttribute(ATTR_ERROR_TYPE, String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    span.end();
  }

  /**
   * Ends the SERVER span with the status the client received and the error edgeway answered with, if any.
   * semconv HTTP span status: a SERVER span fails only from 500 (`error.type` = the status code); a 4xx is
   * the client's doing and stays UNSET. An exception event is recorded only for an unexpected cause.
   */
  endServerSpan(server: ServerSpan, status: number, error?: Error): void {
    const { span } = server;
    if (span === NOOP_SPAN) return;
    if (span.isRecording()) {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (status >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(status));
        span.setStatus(
          error === undefined
            ? { code: SpanStatusCode.ERROR }
            : { code: SpanStatusCode.ERROR, message: error.message },
        );
        if (error?.cause instanceof Error) span.recordException(error.cause);
      }
    }
    span.end();
  }
}

/** Describes what a stage decided on its span, marks an unexpected exception, and ends the span. */
function endStage(span: Span, name: StageName, ctx: RequestContext, error: unknown): void {
  if (!describeStage(span, name, ctx, error)) failStage(span, error);
  span.end();
}

/** Records a decision (e.g. `edgeway.rate_limit.outcome`) on a span, skipping the work when not recording. */
export function recordDecision(span: Span, key: string, value: string | number | boolean): void {
  if (span.isRecording()) span.setAttribute(key, value);
}
