/** The hooks telemetry hangs on the request path: per request, per instance selection and per upstream attempt. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Endpoint, FailureKind } from '../balancing/endpoint.js';
import type { GatewayError } from '../errors.js';
import type { RequestContext } from './context.js';
import type { CompiledRoute } from './route.js';
import type { ServerSpan } from './server-span.js';

/** The service an attempt goes to, as telemetry names it. */
export interface ObservedService {
  readonly name: string;
}

/** What happened to one request, for logs, metrics and traces. */
export interface RequestOutcome {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** The matched route; undefined when the request was refused before routing (400, 404). */
  readonly route: CompiledRoute | undefined;
  /** The label of a request edgeway answers itself (its public endpoints), which matches no route. */
  readonly endpoint?: string;
  readonly ctx: RequestContext | undefined;
  readonly trace: ServerSpan;
  readonly clientIp: string;
  readonly path: string;
  readonly status: number;
  readonly startedAt: bigint;
  readonly error: GatewayError | undefined;
  /** Set for a relayed WebSocket, at its close: the access log line is written then. */
  readonly webSocket?: WebSocketClose;
}

/** How a relayed WebSocket connection ended. */
export interface WebSocketClose {
  /** `client`, `upstream`, `idle_timeout`, `shutdown`, `token_expired` or `token_revoked`. */
  readonly closedBy: string;
}

/** Telemetry hooks around a request. */
export interface RequestObserver {
  /** Starts the SERVER span once the route is known (`routeName` undefined for unrouted requests). */
  start(req: IncomingMessage, routeName: string | undefined, clientIp: string): ServerSpan;
  readonly attempts: AttemptObserver;
  /** The upstream's `101` reached the client: the handshake's SERVER span ends; `done` follows at the close. */
  upgraded(ctx: RequestContext): void;
  done(outcome: RequestOutcome): void;
}

/** Telemetry around instance selection and each upstream attempt. */
export interface AttemptObserver {
  select(ctx: RequestContext, pick: () => Endpoint | undefined): Endpoint | undefined;
  /** `path` is what the attempt requests after the instance's base path (query included). */
  begin(
    ctx: RequestContext,
    service: ObservedService,
    endpoint: Endpoint,
    attempt: number,
    path: string,
  ): AttemptTracker;
}

/** One attempt's telemetry. */
export interface AttemptTracker {
  /** Headers for this attempt only, as a flat [name, value, ...] list; empty when there are none. */
  readonly headers: readonly string[];
  end(status: number | undefined, failure: FailureKind | undefined, retried: boolean): void;
}
