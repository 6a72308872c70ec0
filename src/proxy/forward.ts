/** The terminal stage: sends the request upstream (one attempt per pick, retrying where safe) and streams the answer back. */
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';
import type { ServiceRuntime, UpstreamTarget } from '../pipeline/service-runtime.js';
import { BodyLimit } from './body-limit.js';
import { clientResponseHeaders } from './headers.js';
import { classifyUpstreamError, failureToError, type FailureKind } from './upstream-errors.js';

/** Per-route forwarding settings, computed at config load. */
export interface ForwardPlan {
  readonly requestTimeoutMs: number;
  readonly maxBodyBytes: number;
  /** Attempts beyond the first, and the conditions that allow one. */
  readonly retries: number;
  readonly retryOn: ReadonlySet<string>;
  readonly backoffMs: number;
  readonly perTryTimeoutMs: number | undefined;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

function hasBody(ctx: RequestContext): boolean {
  const { headers } = ctx.req;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

function requestBody(ctx: RequestContext, plan: ForwardPlan): Readable | undefined {
  if (!hasBody(ctx)) return undefined;
  // A declared length was already checked against the limit; only a chunked body needs counting.
  if (ctx.req.headers['content-length'] !== undefined) return ctx.req;
  const limited = new BodyLimit(plan.maxBodyBytes);
  ctx.req.pipe(limited);
  return limited;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Forwards the request to `service` and relays the response. Retries go to a different instance, only
 * for idempotent methods (or with an Idempotency-Key) and only when no body has to be replayed.
 */
export async function forward(
  ctx: RequestContext,
  service: ServiceRuntime,
  plan: ForwardPlan,
  headers: readonly string[],
  path: string,
): Promise<void> {
  const body = requestBody(ctx, plan);
  const method = ctx.req.method ?? 'GET';
  const retryable = body === undefined && (IDEMPOTENT.has(method) || ctx.req.headers['idempotency-key'] !== undefined);
  const tried = new Set<UpstreamTarget>();
  const timeout = plan.perTryTimeoutMs ?? plan.requestTimeoutMs;

  for (let attempt = 0; ; attempt++) {
    const target = service.pick(ctx, tried);
    if (target === undefined) {
      if (attempt === 0) throw new GatewayError('unavailable', `no healthy instance of service "${service.name}"`, [['retry-after', '1']]);
      throw new GatewayError('bad_gateway', `every instance of service "${service.name}" failed`);
    }
    tried.add(target);
    const canRetry = retryable && attempt < plan.retries;
    const started = performance.now();
    const end = service.begin(target);
    let response: Dispatcher.ResponseData;
    try {
      response = await service.pool(target).request({
        path: target.basePath + path,
        method: method as Dispatcher.HttpMethod,
        headers: headers as string[],
        body: body ?? null,
        headersTimeout: timeout,
        bodyTimeout: plan.requestTimeoutMs,
      });
    } catch (err) {
      if (err instanceof GatewayError) {
        end({ latencyMs: performance.now() - started, status: undefined, failure: 'client' });
        throw err;
      }
      if (body instanceof BodyLimit && body.exceeded) throw new GatewayError('payload_too_large', `request body exceeds ${plan.maxBodyBytes} bytes`);
      const kind: FailureKind = classifyUpstreamError(err);
      end({ latencyMs: performance.now() - started, status: undefined, failure: kind });
      if (canRetry && plan.retryOn.has(kind)) {
        await sleep(plan.backoffMs * Math.random());
        continue;
      }
      throw failureToError(kind, service.name);
    }
    const status = response.statusCode;
    if (canRetry && plan.retryOn.has(String(status))) {
      end({ latencyMs: performance.now() - started, status, failure: undefined });
      response.body.dump().catch(() => undefined);
      await sleep(plan.backoffMs * Math.random());
      continue;
    }
    ctx.res.writeHead(status, clientResponseHeaders(response.headers, ctx.requestId, ctx.responseHeaders));
    try {
      await pipeline(response.body, ctx.res);
    } catch (err) {
      ctx.res.destroy();
      end({ latencyMs: performance.now() - started, status, failure: classifyUpstreamError(err) });
      return;
    }
    end({ latencyMs: performance.now() - started, status, failure: undefined });
    return;
  }
}
