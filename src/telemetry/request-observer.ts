/** Connects the request path to telemetry: spans per request and attempt, metrics, stats and the access log. */
import type { Endpoint, FailureKind } from '../balancing/endpoint.js';
import type { RequestContext } from '../request/context.js';
import type { AttemptObserver, AttemptTracker, RequestObserver } from '../request/observer.js';
import type { ClientSpan } from './tracing/spans.js';
import type { AccessLogEntry } from './access-log.js';
import type { UpstreamOutcome } from './metrics/metrics.js';
import { OUTCOME_INDEX } from './history/instance-stats.js';
import type { Telemetry } from './telemetry.js';
import { bytesReadSinceLast, bytesWrittenSinceLast } from './wire-bytes.js';

const UNROUTED = '(unrouted)';

const OUTCOME: Record<FailureKind, UpstreamOutcome> = {
  'connect-failure': 'connect_error',
  reset: 'connect_error',
  'invalid-response': 'http_error',
  timeout: 'timeout',
  'client-aborted': 'aborted',
  'gateway-error': 'gateway_error',
};

const INSTANCE_OUTCOME: Record<FailureKind, number> = {
  'connect-failure': OUTCOME_INDEX.connect_error,
  reset: OUTCOME_INDEX.connect_error,
  'invalid-response': OUTCOME_INDEX.invalid_response,
  timeout: OUTCOME_INDEX.timeout,
  'client-aborted': OUTCOME_INDEX.aborted,
  'gateway-error': OUTCOME_INDEX.gateway_error,
};

/** One attempt's telemetry as one object: the request path makes one per attempt. */
class Attempt implements AttemptTracker {
  readonly headers: string[];
  readonly #telemetry: Telemetry;
  readonly #ctx: RequestContext;
  readonly #service: string;
  readonly #endpoint: Endpoint;
  readonly #client: ClientSpan;
  readonly #started = performance.now();

  constructor(
    telemetry: Telemetry,
    ctx: RequestContext,
    service: string,
    endpoint: Endpoint,
    client: ClientSpan,
  ) {
    this.#telemetry = telemetry;
    this.#ctx = ctx;
    this.#service = service;
    this.#endpoint = endpoint;
    this.#client = client;
    this.headers = client.traceparent === undefined ? [] : ['traceparent', client.traceparent];
    if (client.tracestate !== undefined) this.headers.push('tracestate', client.tracestate);
  }

  end(status: number | undefined, failure: FailureKind | undefined, retried: boolean): void {
    const { metrics, stats, spans } = this.#telemetry;
    const ms = performance.now() - this.#started;
    const ctx = this.#ctx;
    ctx.upstreamMs += ms;
    const outcome: UpstreamOutcome =
      failure !== undefined
        ? OUTCOME[failure]
        : retried || (status !== undefined && status >= 500)
          ? 'http_error'
          : 'success';
    metrics.upstream(this.#service, this.#endpoint.id).attempt(outcome, ms / 1000);
    stats
      .instance(this.#service, this.#endpoint.id)
      .record(
        failure !== undefined
          ? INSTANCE_OUTCOME[failure]
          : status !== undefined && status >= 500
            ? OUTCOME_INDEX.status_5xx
            : OUTCOME_INDEX.ok,
        ms,
      );
    if (retried) metrics.retry(this.#service);
    if (failure !== undefined) ctx.trace.upstreamFailure = failure;
    spans.endClientSpan(this.#client, status, failure);
  }
}

function attemptObserver(telemetry: Telemetry): AttemptObserver {
  const { spans } = telemetry;
  return {
    select(ctx, pick) {
      return spans.stageSpan(ctx.trace, 'edgeway.select_instance', (span) => {
        const endpoint: Endpoint | undefined = pick();
        if (endpoint !== undefined && span.isRecording())
          span.setAttribute('edgeway.instance', endpoint.id);
        return endpoint;
      });
    },
    begin(ctx, service, endpoint, attempt, path): AttemptTracker {
      const client = spans.startClientSpan(ctx.trace, service.name, endpoint, path, attempt + 1);
      const tracker = new Attempt(telemetry, ctx, service.name, endpoint, client);
      ctx.service = service.name;
      ctx.instance = endpoint.id;
      ctx.trace.attempts++;
      return tracker;
    },
  };
}

/** The gateway's RequestObserver over its telemetry. */
export function requestObserver(telemetry: Telemetry): RequestObserver {
  const { spans, metrics } = telemetry;
  return {
    start(req, routeName, clientIp) {
      metrics.requestStarted();
      return spans.startServerSpan(req, routeName ?? UNROUTED, req.method ?? 'GET', clientIp);
    },
    attempts: attemptObserver(telemetry),
    upgraded(ctx) {
      // The handshake is the request: its SERVER span, status and latency end here; the connection lives on.
      metrics.requestEnded();
      const seconds = Number(process.hrtime.bigint() - ctx.startedAt) / 1e9;
      const route = telemetry.forRoute(ctx.route.name);
      route.metrics.request(ctx.trace.method, 101, seconds);
      route.stats.record(101, seconds * 1000, ctx.requestId, ctx.trace.traceId);
      spans.endServerSpan(ctx.trace, 101);
    },
    done(outcome) {
      const { req, ctx, webSocket } = outcome;
      const durationMs = Number(process.hrtime.bigint() - outcome.startedAt) / 1e6;
      const { trace, error } = outcome;
      const route = outcome.route?.name ?? outcome.endpoint ?? UNROUTED;
      const entry: AccessLogEntry = {
        requestId: outcome.requestId,
        traceId: outcome.trace.traceId ?? '',
        route,
        service: ctx?.service,
        instance: ctx?.instance,
        method: req.method ?? 'GET',
        path: outcome.path,
        status: outcome.status,
        // The socket's counters see every byte, whatever the framing: a chunked request body or a streamed
        // response has no content-length to read.
        bytesIn: bytesReadSinceLast(req),
        bytesOut: bytesWrittenSinceLast(req),
        durationMs,
        upstreamMs: ctx?.service === undefined ? undefined : ctx.upstreamMs,
        clientIp: outcome.clientIp,
        userAgent: req.headers['user-agent'],
        sub: ctx?.principal?.sub,
        attempts: trace.attempts,
        reason: error === undefined ? undefined : trace.upstreamFailure,
        error: error?.message,
      };
      if (webSocket === undefined) {
        metrics.requestEnded();
        telemetry.finish(telemetry.forRoute(route), trace, entry, error);
        return;
      }
      // A relayed WebSocket's line at its close: bytes and duration of the whole connection, and who ended it.
      entry.closedBy = webSocket.closedBy;
      telemetry.accessLog.write(entry);
    },
  };
}
