/** The request path in one place: framing -> target -> route -> stages -> forward, errors to JSON. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestPickInput } from '../balancing/pick-input.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { responseGone } from '../proxy/client-gone.js';
import { forward } from '../proxy/forward.js';
import { grpcWebCall, type GrpcWebCall } from '../proxy/grpc-web.js';
import { upstreamRequestHeaders } from '../proxy/headers.js';
import type { RequestObserver, WebSocketClose } from '../request/observer.js';
import type { ServerSpan } from '../request/server-span.js';
import { resolveClient } from './client-ip.js';
import type { RequestContext } from '../request/context.js';
import { checkFraming, checkHeaderList, discardableBody, expectsContinue } from './framing.js';
import { normalizePath } from './normalize-path.js';
import { grpcAnswerType, respondError } from './respond-error.js';
import { resolveRequestId } from '../telemetry/request-id.js';
import { upstreamPath } from './route-table.js';
import type { RuntimeRoute, Snapshot } from './snapshot.js';
import { withoutAccessToken } from '../security/query-token.js';
import type { WebSocketTracker } from '../proxy/websocket/tracker.js';
import { checkUpgrade, isWebSocketUpgrade, routingMethod, upgradeWebSocket } from './upgrade.js';

/** RFC 9110 15.5.6: a 405 lists what the resource does allow. */
const TRACE_REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'],
];

/** Mutable facts gathered while a request is handled, kept for the outcome even when it fails. */
interface Progress {
  route: RuntimeRoute | undefined;
  ctx: RequestContext | undefined;
  trace: ServerSpan | undefined;
  clientIp: string;
  path: string;
  /** How a relayed WebSocket ended (status 101); undefined for every other request. */
  webSocket: WebSocketClose | undefined;
  /** The gRPC-Web call on a `grpcWeb` route, read once for the forwarder and an error answer alike. */
  grpcWeb: GrpcWebCall | undefined;
}

function splitTarget(url: string, host: string): { path: string; query: string } {
  let target = url;
  if (url.charCodeAt(0) !== 47 /* / */) {
    // RFC 9112 3.2.2: absolute-form. Its authority never picks an upstream; one that disagrees with Host is refused.
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new GatewayError('bad_request', 'invalid request target');
    }
    if (
      (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
      parsed.hostname.toLowerCase() !== host
    ) {
      throw new GatewayError('bad_request', 'absolute-form request target does not match Host');
    }
    target = parsed.pathname + parsed.search;
  }
  const q = target.indexOf('?');
  return q === -1
    ? { path: target, query: '' }
    : { path: target.slice(0, q), query: target.slice(q) };
}

/** The first entry of a possibly repeated, comma-joined header (the one the outermost proxy wrote). */
function firstValue(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const first = text.split(',')[0]?.trim();
  return first === '' ? undefined : first;
}

/** RFC 9113 8.3.1: over HTTP/2 `:authority` plays Host (a client may send Host instead). */
function authorityOf(req: IncomingMessage): string | undefined {
  return (req.headers[':authority'] as string | undefined) ?? req.headers.host;
}

/** The host of an authority (`host[:port]`, `[v6]:port`), lower-cased. */
function hostOf(authority: string | undefined): string {
  const raw = authority ?? '';
  const end = raw.startsWith('[') ? raw.indexOf(']') + 1 : raw.indexOf(':');
  return (end > 0 ? raw.slice(0, end) : raw).toLowerCase();
}

/** What the public listener hands the handler besides the request: set for a request Node parsed as an upgrade. */
export interface Upgrade {
  /** Bytes after the request head, already read off the socket. */
  readonly head: Buffer;
  readonly webSockets: WebSocketTracker;
}

async function run(
  req: IncomingMessage,
  res: ServerResponse,
  snapshot: Snapshot,
  requestId: string,
  startedAt: bigint,
  observer: RequestObserver,
  progress: Progress,
  upgrade: Upgrade | undefined,
): Promise<void> {
  const client = resolveClient(
    req.socket.remoteAddress,
    req.headers['x-forwarded-for'],
    snapshot.trustedProxies,
  );
  progress.clientIp = client.ip;
  checkFraming(req, snapshot.config.gateway.maxBodyBytes);
  if (req.httpVersionMajor === 2) checkHeaderList(req, snapshot.config.gateway.maxHeaderBytes);
  // RFC 9112 3.2: a request without Host is answered 400 (here, in the SPEC's JSON shape rather than Node's).
  if (req.headers.host === undefined && req.httpVersionMinor === 1)
    throw new GatewayError('bad_request', 'missing Host header');
  const authority = authorityOf(req);
  const host = hostOf(authority);
  const { path: rawPath, query } = splitTarget(req.url ?? '/', host);
  const path = normalizePath(rawPath);
  if (path === 'invalid_target' || path === 'invalid_percent_encoding')
    throw new GatewayError('bad_request', 'invalid request path');
  progress.path = path;
  const webSocket = isWebSocketUpgrade(req);
  const method = routingMethod(req, webSocket);
  const route = snapshot.table.find({ host, path, method, headers: req.headers });
  // RFC 9110 9.3.8: TRACE echoes the request back, credentials included (cross-site tracing); only a route
  // that names it in match.methods (and so matched it by name) forwards it.
  if (method === 'TRACE' && route?.config.match.methods === undefined)
    throw new GatewayError('method_not_allowed', 'TRACE is not allowed', TRACE_REFUSED);
  if (route === undefined) throw new GatewayError('not_found', 'no route matches this request');
  progress.route = route;
  const grpcWeb = route.plan.grpcWeb ? grpcWebCall(req.headers) : undefined;
  progress.grpcWeb = grpcWeb;
  checkUpgrade(req, route, webSocket, upgrade !== undefined);
  const trace = observer.start(req, route.name, client.ip);
  progress.trace = trace;

  const ctx: RequestContext = {
    req,
    res,
    requestId,
    startedAt,
    route,
    path,
    query,
    trace,
    clientIp: client.ip,
    principal: undefined,
    responseHeaders: [],
    upstreamHeaders: [],
    droppedHeaders: undefined,
    upstreamHeaderRules: undefined,
    responseHeaderRules: undefined,
    compression: undefined,
    service: undefined,
    instance: undefined,
    upstreamMs: 0,
  };
  progress.ctx = ctx;
  for (const stage of route.stages) {
    // A stage that decided synchronously (header rules, IP rules, CORS) costs no microtask turn.
    const pending = stage(ctx);
    if (pending !== undefined) await pending;
    // A stage that answered itself (a CORS preflight) ends the request here.
    if (res.writableEnded) return;
  }
  const forwardedQuery = route.stripsQueryToken ? withoutAccessToken(query) : query;
  // Only now is the body wanted: a client refused by a stage (401, 413, 429) never sends it.
  if (expectsContinue(req)) res.writeContinue();
  const headers = upstreamRequestHeaders(
    req.rawHeaders,
    req.headers.connection,
    {
      clientIp: client.ip,
      forwardedFor: client.forwardedFor,
      proto:
        (client.trustedPeer ? firstValue(req.headers['x-forwarded-proto']) : undefined) ??
        ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'),
      host:
        (client.trustedPeer ? firstValue(req.headers['x-forwarded-host']) : undefined) ??
        authority ??
        '',
      requestId,
      trustedPeer: client.trustedPeer,
    },
    ctx.upstreamHeaders,
    ctx.droppedHeaders,
    ctx.upstreamHeaderRules,
  );
  // RFC 9113 8.2.2: `te: trailers` is the one TE an HTTP/2 peer may send, and gRPC servers expect it.
  if (route.plan.grpc) headers.push('te', 'trailers');
  const input = requestPickInput(req.headers, client.ip, Date.now());
  const target = upstreamPath(route, path) + forwardedQuery;
  if (webSocket && upgrade !== undefined && route.webSocket !== undefined) {
    progress.webSocket = await upgradeWebSocket(ctx, upgrade.head, {
      service: route.pickService(),
      plan: route.webSocket,
      tracker: upgrade.webSockets,
      headers,
      path: target,
      input,
      observer: observer.attempts,
      onOpen: () => observer.upgraded(ctx),
    });
    return;
  }
  await forward({
    ctx,
    service: route.pickService(),
    plan: route.plan,
    headers,
    path: target,
    input,
    observer: observer.attempts,
    grpcWeb,
  });
}

/** Runs one request and reports its outcome, answering a failure in the SPEC's JSON error shape. */
async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  snapshot: Snapshot,
  observer: RequestObserver,
  upgrade: Upgrade | undefined,
): Promise<void> {
  const startedAt = process.hrtime.bigint();
  const requestId = resolveRequestId(req.headers['x-request-id']);
  const progress: Progress = {
    route: undefined,
    ctx: undefined,
    trace: undefined,
    clientIp: '',
    path: '',
    webSocket: undefined,
    grpcWeb: undefined,
  };
  let status: number;
  let error: GatewayError | undefined;
  try {
    await run(req, res, snapshot, requestId, startedAt, observer, progress, upgrade);
    status = progress.webSocket === undefined ? res.statusCode : 101;
  } catch (err) {
    error = toGatewayError(err);
    // The client closed the connection before any answer (nginx's 499): logged and counted as its own
    // status, never as the 502 that nobody received.
    status = responseGone(res) && !res.headersSent ? 499 : error.status;
    const unread = !req.complete;
    const discard = unread && discardableBody(req);
    // RFC 9113 8.2.2: HTTP/2 has no Connection header; an unread stream ends on its own.
    if (unread && !discard && !res.headersSent && req.httpVersionMajor === 1)
      res.setHeader('connection', 'close');
    respondError(
      res,
      error,
      requestId,
      progress.ctx?.responseHeaders,
      progress.ctx?.responseHeaderRules,
      grpcAnswerType(req, progress.route, progress.grpcWeb),
    );
    // A small unread body would otherwise hold the connection; drain it so keep-alive survives.
    if (discard) req.resume();
  }
  const trace = progress.trace ?? observer.start(req, undefined, progress.clientIp);
  observer.done({
    req,
    res,
    requestId,
    route: progress.route,
    ctx: progress.ctx,
    trace,
    clientIp: progress.clientIp,
    path: progress.path,
    status,
    startedAt,
    error,
    webSocket: progress.webSocket,
  });
}

/** The public listener's request handler over the live snapshot (read once per request). */
export function createRequestHandler(
  current: () => Snapshot,
  observer: RequestObserver,
): (req: IncomingMessage, res: ServerResponse, upgrade?: Upgrade) => void {
  return function handleRequest(req, res, upgrade) {
    void handle(req, res, current(), observer, upgrade);
  };
}
