/** What one request carries through the stages: the raw Node request/response and what stages learn. */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledRoute } from './route.js';
import type { ServerSpan } from './server-span.js';
import type {
  RequestHeaderRules,
  ResponseCompression,
  ResponseHeaderRules,
} from './policy-state.js';

/** The verified caller of an authenticated request. */
export interface Principal {
  readonly sub: string;
  readonly scopes: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Per-request state. Stages read the compiled route and add to the mutable fields. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** process.hrtime.bigint() when the request arrived. */
  readonly startedAt: bigint;
  readonly route: CompiledRoute;
  /** The normalised request path (dot-segments removed, unreserved percent-encodings decoded). */
  readonly path: string;
  /** The query including its leading "?", byte for byte as received, or "". */
  readonly query: string;
  /** The client address as trusted-proxy rules decide. */
  readonly clientIp: string;
  /** Set by the auth stage for an authenticated request. */
  principal: Principal | undefined;
  /** Extra response headers stages add (rate-limit headers, Server-Timing), applied to every answer. */
  readonly responseHeaders: Array<[string, string]>;
  /** Extra upstream request headers stages add (x-edgeway-sub, claim mappings). */
  readonly upstreamHeaders: Array<[string, string]>;
  /** Lower-case names of client headers the upstream must not receive (an API key); created by the first stage that drops one. */
  droppedHeaders?: Set<string> | undefined;
  /** Runs on the upstream's response before its head is written (a route's plugins); it may edit `headers`. */
  responseHook?: ResponseHook | undefined;
  /** The route's requestHeaders rules, handed over by the request_headers stage. */
  upstreamHeaderRules?: RequestHeaderRules | undefined;
  /** The route's responseHeaders rules, handed over by the response_headers stage; every answer applies them. */
  responseHeaderRules?: ResponseHeaderRules | undefined;
  /** What the compression stage negotiated with the client; the forwarder compresses eligible responses. */
  compression?: ResponseCompression | undefined;
  /** The request's SERVER span (a no-op span when tracing is off). */
  readonly trace: ServerSpan;
  /** The service and instance of the last upstream attempt, and the time spent on all attempts (ms). */
  service: string | undefined;
  instance: string | undefined;
  upstreamMs: number;
}

/** Called with the upstream's status and headers before they go to the client; a throw answers instead. */
export type ResponseHook = (
  ctx: RequestContext,
  status: number,
  headers: IncomingHttpHeaders,
) => void | Promise<void>;

/**
 * A stage: runs before the request is forwarded. It throws a GatewayError to answer instead of the
 * upstream, or returns to let the request go on.
 */
export type Stage = (ctx: RequestContext) => void | Promise<void>;
