/** The request's SERVER span as the stages and the request path carry it. */
import type { Context, Span } from '@opentelemetry/api';
import type { FailureKind } from '../balancing/endpoint.js';

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
  /** Upstream attempts made so far, for the access log. */
  attempts: number;
  /** How the last failed upstream attempt failed, for the access log. */
  upstreamFailure: FailureKind | undefined;
}
