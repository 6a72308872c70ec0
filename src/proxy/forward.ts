/** The terminal stage: sends the request upstream (one attempt per pick, retrying where safe) and streams the answer back. */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  type AttemptOutcome,
  type Endpoint,
  type FailureKind,
  saysAboutInstance,
} from '../balancing/endpoint.js';
import type { PickInput } from '../balancing/balancer.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../request/context.js';
import type { AttemptObserver } from '../request/observer.js';
import type { ServiceRuntime } from './service-runtime.js';
import { concurrencyShedError } from '../traffic/adaptive-concurrency.js';
import { decideRetry, type FailedAttempt } from '../traffic/retry-policy.js';
import { BodyLimit, payloadTooLarge } from './body-limit.js';
import { ClientGoneSignal } from './client-gone.js';
import { compressResponse } from './compression.js';
import { clientResponseHeaders } from './headers.js';
import { grpcTimeoutMs } from './grpc-timeout.js';
import {
  type GrpcWebCall,
  grpcWebAnswerBody,
  grpcWebRefusal,
  grpcWebRequestBody,
  toGrpcRequestHeaders,
  toGrpcWebAnswerHeaders,
} from './grpc-web.js';
import { h2RequestBody } from './h2-request-body.js';
import { endWithHeaders, relay } from './relay.js';
import { classifyUpstreamError, failureToError } from './upstream-errors.js';

/** Per-route forwarding settings, computed at config load. */
export interface ForwardPlan {
  readonly requestTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly perTryTimeoutMs: number | undefined;
  /** Add a Server-Timing header: time in the gateway before the final attempt, and waiting on the upstream. */
  readonly serverTiming: boolean;
  /** The route opted in to retrying non-idempotent methods. */
  readonly retryNonIdempotent: boolean;
  /** A gRPC route: `grpc-timeout` bounds the attempt, and HTTP statuses are never retried (gRPC's live in trailers). */
  readonly grpc: boolean;
  /** gRPC-Web calls (by content type) go upstream as gRPC and their answers come back framed for browsers. */
  readonly grpcWeb: boolean;
}

/** Whether the request has a body: HTTP/1.1 says so in its framing headers, HTTP/2 by not ending the stream with HEADERS. */
function hasBody(req: RequestContext['req']): boolean {
  const { headers } = req;
  if (headers['content-length'] === '0') return false;
  if (req.httpVersionMajor === 2)
    return !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders;
  return headers['transfer-encoding'] !== undefined || headers['content-length'] !== undefined;
}

function requestBody(ctx: RequestContext, plan: ForwardPlan): Readable | undefined {
  const { headers } = ctx.req;
  if (!hasBody(ctx.req)) return undefined;
  // A declared length was already checked against the limit; only a chunked body needs counting.
  if (headers['content-length'] !== undefined) return ctx.req;
  const limited = new BodyLimit(plan.maxBodyBytes);
  ctx.req.pipe(limited);
  // pipe() does not pass on a client that vanished or sent a broken chunk: without this the upstream
  // attempt would wait for the rest of the body forever, holding its in-flight and breaker slots.
  ctx.req.once('close', () => {
    if (!ctx.req.complete) limited.destroy(new ClientAbort());
  });
  return limited;
}

/** The client stopped sending its request body part-way. */
class ClientAbort extends Error {
  constructor() {
    super('the client aborted the request body');
    this.name = 'ClientAbort';
  }
}

/** What a retry decision needs to know of the request; asked only once an attempt failed. */
function retryFacts(
  ctx: RequestContext,
  plan: ForwardPlan,
  method: Dispatcher.HttpMethod,
  body: Readable | undefined,
): Omit<FailedAttempt, 'kind' | 'retriesDone'> {
  return {
    method,
    hasIdempotencyKey: ctx.req.headers['idempotency-key'] !== undefined,
    retryNonIdempotent: plan.retryNonIdempotent,
    bodyBytesSent: body !== undefined,
  };
}

/** The request's headers (its first `count` entries) followed by this attempt's own, in place: undici copies them. */
function withAttemptHeaders(headers: string[], count: number, own: readonly string[]): string[] {
  headers.length = count;
  for (let i = 0; i < own.length; i++) headers.push(own[i] as string);
  return headers;
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/** Everything one forwarded request needs, resolved by the request handler. */
export interface ForwardRequest {
  readonly ctx: RequestContext;
  readonly service: ServiceRuntime;
  readonly plan: ForwardPlan;
  /** Upstream request headers as a flat [name, value, ...] list. */
  readonly headers: string[];
  /** Path and query to send, before the instance's base path. */
  readonly path: string;
  readonly input: PickInput;
  readonly observer: AttemptObserver;
  /** The request's gRPC-Web call, read once by the request handler on a `grpcWeb` route. */
  readonly grpcWeb: GrpcWebCall | undefined;
}

/**
 * Forwards the request and relays the response. Each retry picks a different instance when there is one;
 * retries follow the service's policy (idempotency, no body replay, Retry-After) and budget.
 */
export function forward(request: ForwardRequest): Promise<void> {
  const { service } = request;
  service.budget.recordRequest();
  // Without a breaker or a concurrency limit there is nothing to hold and release around the attempts.
  if (service.breaker === undefined && service.concurrency === undefined) return attempts(request);
  return guarded(request);
}

/** The attempts inside the service's circuit breaker and adaptive concurrency limit. */
async function guarded(request: ForwardRequest): Promise<void> {
  const { service } = request;
  let release: (() => void) | undefined;
  if (service.breaker) {
    const admission = service.breaker.tryAcquire();
    if (admission.kind === 'rejected') throw admission.error;
    release = admission.kind === 'granted' ? admission.release : await admission.slot;
  }
  const permit = service.concurrency?.tryAcquire();
  const started = performance.now();
  let upstreamAnswered = true;
  try {
    if (service.concurrency && permit === undefined) throw concurrencyShedError(service.name);
    await attempts(request);
  } catch (err) {
    // A request edgeway could not send never reached the upstream: its near-zero time is no latency sample.
    if (err instanceof GatewayError && err.code === 'internal_error') upstreamAnswered = false;
    throw err;
  } finally {
    permit?.release(upstreamAnswered ? performance.now() - started : undefined);
    release?.();
  }
}

async function attempts({
  ctx,
  service,
  plan,
  headers,
  path,
  input,
  observer,
  grpcWeb: web,
}: ForwardRequest): Promise<void> {
  if (web !== undefined) toGrpcRequestHeaders(web, headers);
  const raw = requestBody(ctx, plan);
  const body =
    web === undefined || raw === undefined ? raw : grpcWebRequestBody(web, raw, plan.maxBodyBytes);
  const method = (ctx.req.method ?? 'GET') as Dispatcher.HttpMethod;
  const upstreamH2 = service.config.protocol !== 'http1';
  // Made on the first retry: most requests take one attempt.
  let tried: Set<Endpoint> | undefined;
  // gRPC over HTTP/2: the client's deadline bounds the call like timeouts.request; the smaller wins.
  const deadlineMs = plan.grpc
    ? Math.min(plan.requestTimeoutMs, grpcTimeoutMs(ctx.req.headers['grpc-timeout']))
    : plan.requestTimeoutMs;
  const timeout = Math.min(plan.perTryTimeoutMs ?? deadlineMs, deadlineMs);
  // A client that leaves before the answer began would otherwise hold the upstream connection and the
  // in-flight and breaker slots until the request timeout; the abort is classified client-aborted (no blame,
  // no retry). One signal serves every attempt: each detaches it once the upstream answered or failed.
  const clientGone = new ClientGoneSignal(ctx.res);
  // Each attempt sends the request's headers and its own trace context after them.
  const headerCount = headers.length;

  for (let attempt = 0; ; attempt++) {
    // A one-instance service may retry the same instance once nothing untried is left.
    const endpoint = observer.select(
      ctx,
      () => service.pick(input, tried) ?? (attempt > 0 ? service.pick(input) : undefined),
    );
    if (endpoint === undefined)
      throw new GatewayError('unavailable', `no healthy instance of service "${service.name}"`, [
        ['retry-after', '1'],
      ]);
    const tracker = observer.begin(ctx, service, endpoint, attempt, path);
    const started = performance.now();
    endpoint.begin();
    let response: Dispatcher.ResponseData;
    try {
      response = await service.pool(endpoint).request({
        path: endpoint.basePath + path,
        method,
        headers: withAttemptHeaders(headers, headerCount, tracker.headers),
        body: body === undefined ? null : upstreamH2 ? h2RequestBody(body) : body,
        headersTimeout: timeout,
        bodyTimeout: deadlineMs,
        signal: clientGone,
      });
    } catch (err) {
      const refusal =
        raw instanceof BodyLimit && raw.exceeded
          ? payloadTooLarge(plan.maxBodyBytes)
          : grpcWebRefusal(body);
      if (refusal !== undefined) {
        endpoint.end(performance.now() - started, 'client-aborted');
        tracker.end(undefined, 'client-aborted', false);
        throw refusal;
      }
      const kind: FailureKind =
        ctx.req.destroyed && !ctx.req.complete ? 'client-aborted' : classifyUpstreamError(err);
      endpoint.end(performance.now() - started, kind);
      if (saysAboutInstance(kind)) service.outlier?.record(endpoint);
      const decision = decideRetry(
        service.retry,
        { ...retryFacts(ctx, plan, method, body), kind, retriesDone: attempt },
        Math.random,
        Date.now(),
      );
      const retry = decision.retry && service.budget.tryAcquire();
      tracker.end(undefined, kind, retry);
      if (retry) {
        (tried ??= new Set()).add(endpoint);
        await sleep(decision.delayMs);
        continue;
      }
      throw failureToError(kind, service.name, err);
    } finally {
      clientGone.detach();
    }
    const status = response.statusCode;
    if (!plan.grpc && service.retry.on.has(String(status))) {
      const retryAfter = response.headers['retry-after'];
      const decision = decideRetry(
        service.retry,
        {
          ...retryFacts(ctx, plan, method, body),
          kind: 'status',
          status,
          retryAfter,
          retriesDone: attempt,
        },
        Math.random,
        Date.now(),
      );
      if (decision.retry && service.budget.tryAcquire()) {
        endpoint.end(performance.now() - started, 'server-error');
        service.outlier?.record(endpoint);
        tracker.end(status, undefined, true);
        response.body.dump().catch(() => undefined);
        (tried ??= new Set()).add(endpoint);
        await sleep(decision.delayMs);
        continue;
      }
    }
    if (plan.serverTiming) {
      const gatewayMs =
        Number(process.hrtime.bigint() - ctx.startedAt) / 1e6 - (performance.now() - started);
      ctx.responseHeaders.push([
        'server-timing',
        `edgeway;dur=${gatewayMs.toFixed(2)}, upstream;dur=${(performance.now() - started).toFixed(2)}`,
      ]);
    }
    if (ctx.responseHook !== undefined) {
      try {
        const pending = ctx.responseHook(ctx, status, response.headers);
        if (pending !== undefined) await pending;
      } catch (err) {
        // The upstream answered; a plugin failed. The instance is not to blame, and nothing was sent yet.
        response.body.dump().catch(() => undefined);
        endpoint.end(performance.now() - started, status >= 500 ? 'server-error' : 'success');
        tracker.end(status, undefined, false);
        throw err;
      }
    }
    if (web !== undefined) toGrpcWebAnswerHeaders(web, response.headers);
    let failure: FailureKind | undefined;
    if (plan.grpc && response.headers['grpc-status'] !== undefined) {
      // A trailers-only gRPC answer (the status in the only HEADERS frame) must reach the client in that form.
      response.body.dump().catch(() => undefined);
      endWithHeaders(
        ctx.res,
        status,
        clientResponseHeaders(
          response.headers,
          ctx.requestId,
          ctx.responseHeaders,
          ctx.responseHeaderRules,
        ),
      );
    } else {
      // Compression rewrites the upstream's headers (content-encoding, length, Vary), so it comes first.
      const answer =
        web !== undefined
          ? grpcWebAnswerBody(web, response.headers, response.body, response.trailers)
          : ctx.compression === undefined
            ? response.body
            : compressResponse(ctx.compression, method, status, response.headers, response.body);
      ctx.res.writeHead(
        status,
        clientResponseHeaders(
          response.headers,
          ctx.requestId,
          ctx.responseHeaders,
          ctx.responseHeaderRules,
        ),
      );
      // gRPC-Web's trailers travel in the body's last frame; browsers never see HTTP trailers.
      failure = await relay(answer, ctx.res, web === undefined ? response.trailers : undefined);
    }
    const outcome: AttemptOutcome = failure ?? (status >= 500 ? 'server-error' : 'success');
    endpoint.end(performance.now() - started, outcome);
    if (saysAboutInstance(outcome)) service.outlier?.record(endpoint);
    tracker.end(status, failure, false);
    return;
  }
}
