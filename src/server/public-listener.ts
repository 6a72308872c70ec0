/** The public listener: the proxy for every route, plus edgeway's own public endpoints served by Hono. */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { GatewayError, type ErrorCode } from '../errors.js';
import { respondErrorOnSocket } from '../pipeline/respond-error.js';
import { resolveRequestId } from '../telemetry/request-id.js';

/** Paths the public Hono app owns; everything else goes to the proxy. */
export const PUBLIC_APP_PATHS: ReadonlySet<string> = new Set(['/.well-known/jwks.json', '/oauth/token']);

/** Makes the server: `http.createServer`, or `https.createServer` with the TLS options spread in. */
export type CreateServer = (options: ServerOptions, listener: RequestListener) => Server;

/** Server-level limits from `gateway.*`. */
export interface ListenerLimits {
  readonly maxHeaderBytes: number;
}

/** Answers a request the HTTP parser gave up on; it never parsed, so no client id is trusted: always a fresh one. */
function rawError(socket: Socket, code: ErrorCode, message: string): void {
  respondErrorOnSocket(socket, new GatewayError(code, message), resolveRequestId(undefined));
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Creates the public HTTP server. Malformed requests (smuggling attempts, oversized headers) never reach a
 * handler: the parser rejects them and `clientError` answers in the SPEC's JSON shape.
 */
export function createPublicServer(
  app: { readonly fetch: Parameters<typeof getRequestListener>[0] },
  proxy: (req: IncomingMessage, res: ServerResponse) => void,
  limits: ListenerLimits,
  create: CreateServer = createServer,
): Server {
  const appListener = getRequestListener(app.fetch, { autoCleanupIncoming: false });
  const server = create({ maxHeaderSize: limits.maxHeaderBytes, requireHostHeader: false }, (req, res) => {
    if (PUBLIC_APP_PATHS.has(pathOf(req.url))) void appListener(req, res);
    else proxy(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'HPE_HEADER_OVERFLOW') rawError(socket, 'headers_too_large', 'request headers too large');
    else if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT') socket.destroy();
    else rawError(socket, 'bad_request', 'malformed HTTP request');
  });
  // CONNECT would turn the gateway into a tunnel to anywhere: refused (RFC 9110 9.3.6 makes it optional).
  server.on('connect', (_req: IncomingMessage, socket: Socket) => rawError(socket, 'method_not_allowed', 'CONNECT is not supported'));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
