/** The public listener: the proxy for every route, plus edgeway's own public endpoints served by Hono. */
import {
  createServer,
  ServerResponse as NodeServerResponse,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createH2cServer, type Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { GatewayError, type ErrorCode } from '../errors.js';
import { respondErrorOnSocket } from '../pipeline/respond-error.js';
import { resolveRequestId } from '../telemetry/request-id.js';
import { expectsContinue } from '../pipeline/framing.js';
import { respondError } from '../pipeline/respond-error.js';
import { Connections } from './connections.js';
import { acceptH2c } from './h2c.js';
import { http2Options, Http2Sessions, type Http2Limits } from './http2-sessions.js';

/** Paths the public Hono app owns; everything else goes to the proxy. */
const PUBLIC_APP_PATHS: ReadonlySet<string> = new Set([
  '/.well-known/jwks.json',
  '/.well-known/oauth-authorization-server',
  '/oauth/token',
]);

/** The public server: HTTP/1.1 (`http`, `https`) or HTTP/2 over TLS with HTTP/1.1 beside it (ALPN). */
export type PublicServer = Server | Http2SecureServer;

/**
 * Makes the server: `http.createServer`, or a TLS server with the TLS options spread in (`https`, or
 * `http2.createSecureServer` with `allowHTTP1` when the options carry HTTP/2 settings).
 */
export type CreateServer = (
  options: ServerOptions & Partial<ReturnType<typeof http2Options>>,
  listener: RequestListener,
) => PublicServer;

/** Server-level limits and protocols from `gateway.*`. */
export interface ListenerLimits {
  readonly maxHeaderBytes: number;
  /** HTTP/2 settings and defences; with them a TLS server offers h2, and `h2c` applies to a plaintext one. */
  readonly http2?: Omit<Http2Limits, 'maxHeaderBytes'>;
  /** The plaintext listener also accepts HTTP/2 with prior knowledge. */
  readonly h2c?: boolean;
}

/** Answers a request the HTTP parser gave up on; it never parsed, so no client id is trusted: always a fresh one. */
function rawError(socket: Socket, code: ErrorCode, message: string): void {
  respondErrorOnSocket(socket, new GatewayError(code, message), resolveRequestId(undefined));
}

/** Answers what the HTTP parser refused in the SPEC's JSON shape; the admin listener uses it too (SPEC: both listeners alike). */
export function answerParserErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'HPE_HEADER_OVERFLOW')
      rawError(socket, 'headers_too_large', 'request headers too large');
    else if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT') socket.destroy();
    else rawError(socket, 'bad_request', 'malformed HTTP request');
  });
}

/** RFC 9113 8.5: CONNECT over HTTP/2 is a stream of its own; it gets the same refusal as over HTTP/1.1. */
function refuseConnect(req: IncomingMessage, res: ServerResponse): void {
  respondError(
    res,
    new GatewayError('method_not_allowed', 'CONNECT is not supported'),
    resolveRequestId(req.headers['x-request-id']),
  );
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** An HTTP/2 stream has no bytes read past its request head: its DATA frames stay on the stream. */
const NO_HEAD = Buffer.alloc(0);

/** Listens for late errors of a socket that Node no longer watches. */
function ignore(): void {}

/** The public server and the tracker of its connections (request order, drain on shutdown). */
export interface PublicListener {
  readonly server: PublicServer;
  readonly connections: Connections;
}

/**
 * Creates the public HTTP server. Malformed requests (smuggling attempts, oversized headers) never reach a
 * handler: the parser rejects them and `clientError` answers in the SPEC's JSON shape. `Expect: 100-continue`
 * is left to the handler: the proxy answers `100 Continue` only once the route's stages passed.
 */
export function createPublicServer(
  app: { readonly fetch: Parameters<typeof getRequestListener>[0] },
  proxy: (req: IncomingMessage, res: ServerResponse, upgradeHead?: Buffer) => void,
  limits: ListenerLimits,
  create: CreateServer = createServer,
): PublicListener {
  const appListener = getRequestListener(app.fetch, { autoCleanupIncoming: false });
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    if (PUBLIC_APP_PATHS.has(pathOf(req.url))) {
      // edgeway's own endpoints have no stages to pass first (RFC 9110 10.1.1).
      if (expectsContinue(req)) res.writeContinue();
      void appListener(req, res);
    } else proxy(req, res);
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void =>
    connections.request(req, res, route);
  const h2 =
    limits.http2 === undefined
      ? undefined
      : { ...limits.http2, maxHeaderBytes: limits.maxHeaderBytes };
  const sessions = h2 === undefined ? undefined : new Http2Sessions(h2);
  const server = create(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      requireHostHeader: false,
      ...(h2 === undefined ? {} : http2Options(h2)),
    },
    listener,
  );
  // An HTTP/2 server's HTTP/1.1 fallback reads these from the server object rather than its options.
  Object.assign(server, { maxHeaderSize: limits.maxHeaderBytes, requireHostHeader: false });
  const onRequest = listener as unknown as (...args: unknown[]) => void;
  // RFC 8441 4: an extended CONNECT (`:protocol`) opens a WebSocket on its stream; the proxy runs its handshake.
  const onConnect = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.headers[':protocol'] === undefined) refuseConnect(req, res);
    else proxy(req, res, NO_HEAD);
  };
  if (sessions !== undefined && limits.h2c === true && create === createServer) {
    // Node's HTTP/2 compat request and response stand in for IncomingMessage and ServerResponse (RFC 9113 8.3).
    const h2c = createH2cServer(http2Options(h2 as Http2Limits), onRequest);
    h2c.on('checkContinue', onRequest);
    h2c.on('connect', onConnect);
    sessions.attach(h2c);
    acceptH2c(server as Server, h2c);
  } else if (sessions !== undefined && create !== createServer) sessions.attach(server);
  const connections = new Connections(server as Server, sessions);
  // Without a listener Node answers 100 Continue itself, before auth or the body limit had their say.
  server.on('checkContinue', listener);
  answerParserErrors(server as Server);
  // Node hands over a request with `Connection: Upgrade` raw: the handler answers it on a response of its own
  // (closing the connection after a refusal) or, for a WebSocket, relays the socket.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // From here on Node no longer listens for the socket's errors; a client that vanishes must not crash the process.
    socket.on('error', ignore);
    connections.release(socket);
    const res = new NodeServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.once('finish', () => socket.end());
    proxy(req, res, head);
  });
  // CONNECT would turn the gateway into a tunnel to anywhere: refused (RFC 9110 9.3.6 makes it optional).
  server.on('connect', (req: IncomingMessage, target: Socket | ServerResponse) => {
    if (req.httpVersionMajor === 2) onConnect(req, target as ServerResponse);
    else rawError(target as Socket, 'method_not_allowed', 'CONNECT is not supported');
  });
  Object.assign(server, { keepAliveTimeout: 65_000, headersTimeout: 66_000 });
  return { server, connections };
}
