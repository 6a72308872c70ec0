/** The terminal stage of an upgrade: picks an instance, shakes hands with it, then relays the connection until it closes. */
import type { Duplex } from 'node:stream';
import type { PickInput } from '../../balancing/balancer.js';
import type { FailureKind } from '../../balancing/endpoint.js';
import { GatewayError } from '../../errors.js';
import type { RequestContext } from '../../request/context.js';
import type { AttemptObserver, WebSocketClose } from '../../request/observer.js';
import { clientResponseHeaders } from '../headers.js';
import { relay } from '../relay.js';
import type { ServiceRuntime } from '../service-runtime.js';
import { classifyUpstreamError, failureToError } from '../upstream-errors.js';
import { upstreamHandshake, type HandshakeResult } from './handshake.js';
import { StreamRelay } from './relay.js';
import type { OpenSocket, WebSocketTracker } from './tracker.js';

/** A route's `websocket` settings, in milliseconds. */
export interface WebSocketPlan {
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  /** How long the instance may take to answer the handshake (the route's request timeout), ms. */
  readonly handshakeTimeoutMs: number;
}

/**
 * The client side of an upgrade, whatever carried it: an HTTP/1.1 connection (`101`), or an HTTP/2 stream of an
 * extended CONNECT (RFC 8441 5: a `200`). `accept` answers the client once the upstream said `101`.
 */
interface WebSocketClient {
  readonly stream: Duplex;
  /** Bytes the client sent after its handshake, already read off the stream. */
  readonly head: Buffer;
  /** Completes the client's handshake with the upstream's `101` headers (a flat [name, value, ...] list). */
  accept(headers: readonly string[]): void;
  /**
   * Calls `gone` if the client leaves while the upstream handshake is pending (at once if it already left);
   * returns the stop of that watch, called before the relay starts.
   */
  watchGone(gone: () => void): () => void;
}

/** Everything one upgrade needs, resolved by the request handler. */
export interface WebSocketForward {
  readonly ctx: RequestContext;
  readonly client: WebSocketClient;
  readonly service: ServiceRuntime;
  readonly plan: WebSocketPlan;
  readonly tracker: WebSocketTracker;
  /** Upstream request headers as a flat list, without `Connection`/`Upgrade` (added here). */
  readonly headers: readonly string[];
  /** Path and query to send, before the instance's base path. */
  readonly path: string;
  readonly input: PickInput;
  readonly observer: AttemptObserver;
  /** Called once the client has its `101`. */
  readonly onOpen: () => void;
  /** The `Sec-WebSocket-Accept` the upstream's `101` must carry: the proof of the key it was sent. */
  readonly expectedAccept: string;
}

/** The `jti` and expiry (ms) of the token an upgrade was authenticated with; neither for an anonymous one. */
function tokenBounds(ctx: RequestContext): {
  jti: string | undefined;
  expiresAt: number | undefined;
} {
  const claims = ctx.principal?.claims;
  const jti = typeof claims?.jti === 'string' ? claims.jti : undefined;
  const expiresAt = typeof claims?.exp === 'number' ? claims.exp * 1000 : undefined;
  return { jti, expiresAt };
}

/** setTimeout's longest delay (2^31 - 1 ms, ~24.8 days); a later expiry is re-armed when it fires. */
const MAX_DELAY_MS = 2_147_483_647;

/** Calls `fire` at `expiresAt` (ms since epoch), however far away; `timer` is the current one to clear. */
function expireAt(expiresAt: number, fire: () => void): { timer: NodeJS.Timeout | undefined } {
  const handle: { timer: NodeJS.Timeout | undefined } = { timer: undefined };
  const arm = (): void => {
    const left = expiresAt - Date.now();
    if (left <= 0) return fire();
    handle.timer = setTimeout(arm, Math.min(left, MAX_DELAY_MS));
  };
  arm();
  return handle;
}

/** The client's `101` headers: the upstream's as sent (its `x-request-id` replaced by edgeway's), then the stages'. */
function acceptHeaders(raw: readonly string[], ctx: RequestContext): string[] {
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== 'x-request-id')
      headers.push(raw[i] as string, raw[i + 1] as string);
  }
  headers.push('x-request-id', ctx.requestId);
  for (const [name, value] of ctx.responseHeaders) headers.push(name, value);
  return headers;
}

/** 503 when the route holds `maxConnections` or the gateway shuts down (SPEC: `unavailable`). */
function full(route: string): GatewayError {
  return new GatewayError(
    'unavailable',
    `route "${route}" has no room for another WebSocket connection`,
    [['retry-after', '1']],
  );
}

/**
 * Opens the upstream side and relays. Resolves with how the connection ended, or undefined when the upstream
 * refused the upgrade and its answer was relayed as a normal response. The instance keeps an in-flight request
 * for the connection's whole life, so least-request balancing counts open connections; a reload never touches
 * it (the relay holds the endpoint, not the snapshot).
 */
export async function forwardWebSocket(
  request: WebSocketForward,
): Promise<WebSocketClose | undefined> {
  const { ctx, client, service, plan, tracker, path, observer } = request;
  const route = ctx.route.name;
  if (!tracker.admits(route, plan.maxConnections)) throw full(route);
  const release = tracker.reserve(route);
  try {
    const endpoint = observer.select(ctx, () => service.pick(request.input));
    if (endpoint === undefined)
      throw new GatewayError('unavailable', `no healthy instance of service "${service.name}"`, [
        ['retry-after', '1'],
      ]);
    const attempt = observer.begin(ctx, service, endpoint, 0, path);
    const started = performance.now();
    endpoint.begin();
    let result: HandshakeResult;
    const clientGone = new AbortController();
    const stopWatching = client.watchGone(() => clientGone.abort());
    try {
      result = await upstreamHandshake({
        origin: endpoint.origin,
        path: endpoint.basePath + path,
        // RFC 6455 4.1: the handshake's Upgrade and Connection, which hop-by-hop hygiene removed.
        headers: [
          ...request.headers,
          ...attempt.headers,
          'connection',
          'Upgrade',
          'upgrade',
          'websocket',
        ],
        tls: service.tls?.connect,
        timeoutMs: plan.handshakeTimeoutMs,
        signal: clientGone.signal,
      });
    } catch (err) {
      const kind: FailureKind = classifyUpstreamError(err);
      endpoint.end(performance.now() - started, kind);
      service.outlier?.record(endpoint);
      attempt.end(undefined, kind, false);
      throw failureToError(kind, service.name, err);
    } finally {
      stopWatching();
    }
    const { response } = result;
    const status = response.statusCode ?? 502;
    if (result.kind === 'response') {
      // Anything but 101 is the upstream's answer to an ordinary request (a 403, a 426): the client gets it as is.
      ctx.res.writeHead(
        status,
        clientResponseHeaders(
          response.headers,
          ctx.requestId,
          ctx.responseHeaders,
          ctx.responseHeaderRules,
        ),
      );
      const failure = await relay(response, ctx.res);
      endpoint.end(
        performance.now() - started,
        failure ?? (status >= 500 ? 'server-error' : 'success'),
      );
      attempt.end(status, failure, false);
      return undefined;
    }
    const upstream = result.socket;
    if (response.headers['sec-websocket-accept'] !== request.expectedAccept) {
      // RFC 6455 4.1: without the proof the instance did not understand the handshake; the client must not
      // get a socket speaking who knows what.
      upstream.destroy();
      endpoint.end(performance.now() - started, 'invalid-response');
      service.outlier?.record(endpoint);
      attempt.end(undefined, 'invalid-response', false);
      throw new GatewayError(
        'bad_gateway',
        `upstream service "${service.name}" answered the WebSocket handshake with a wrong Sec-WebSocket-Accept`,
      );
    }
    attempt.end(101, undefined, false);
    client.accept(acceptHeaders(response.rawHeaders, ctx));
    request.onOpen();
    const { jti, expiresAt } = tokenBounds(ctx);
    const relayed = new StreamRelay(client.stream, upstream, {
      idleTimeoutMs: plan.idleTimeoutMs,
      trackFrames: jti !== undefined || expiresAt !== undefined,
      clientHead: client.head,
      upstreamHead: result.head,
    });
    const open: OpenSocket = {
      route,
      jti,
      close: (reason) => {
        if (reason === 'token_revoked') relayed.closeForPolicy(reason, 'token revoked');
        else if (reason === 'token_expired') relayed.closeForPolicy(reason, 'token expired');
        else relayed.close(reason);
      },
    };
    const expiry =
      expiresAt === undefined ? undefined : expireAt(expiresAt, () => open.close('token_expired'));
    if (!tracker.opened(open)) relayed.close('shutdown');
    const end = await relayed.done;
    clearTimeout(expiry?.timer);
    tracker.closed(open);
    endpoint.release();
    return end;
  } finally {
    release();
  }
}
