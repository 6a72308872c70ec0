/** The plain-HTTP listener of `gateway.tls.redirectHttpPort`: answers every request with a redirect to HTTPS. */
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { respondError } from '../pipeline/respond-error.js';
import { resolveRequestId } from '../telemetry/request-id.js';

// reg-name / IPv4 or a bracketed IPv6 literal, then an optional port (RFC 9110 7.2, RFC 3986 3.2.2).
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

// RFC 8555 8.3: the CA fetches http://<domain>/.well-known/acme-challenge/<token>; tokens are base64url.
const CHALLENGE_PATH = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/;

/** Finds the key authorization of an HTTP-01 token in the store (whichever instance published it). */
export type HttpChallengeLookup = (token: string) => Promise<string | undefined>;

function answerChallenge(
  res: ServerResponse,
  challenge: HttpChallengeLookup,
  token: string,
  requestId: string,
): void {
  challenge(token).then(
    (keyAuthorization) => {
      if (keyAuthorization === undefined) {
        respondError(
          res,
          new GatewayError('not_found', 'no ACME challenge with this token'),
          requestId,
        );
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': Buffer.byteLength(keyAuthorization),
        'x-request-id': requestId,
      });
      res.end(keyAuthorization);
    },
    () =>
      respondError(
        res,
        new GatewayError('unavailable', 'the ACME challenge store is unreachable'),
        requestId,
      ),
  );
}

/**
 * The https URL for a plain-HTTP request, or undefined when the request names no usable host.
 * The client's port is replaced by the HTTPS listener's; 443 is left implicit.
 */
export function redirectLocation(
  host: string | undefined,
  target: string | undefined,
  httpsPort: number,
): string | undefined {
  const match = host === undefined ? null : HOST.exec(host);
  if (match === null || target === undefined) return undefined;
  let pathAndQuery: string;
  if (target.startsWith('/')) pathAndQuery = target;
  else if (/^http:\/\//i.test(target)) {
    // absolute-form (RFC 9112 3.2.2): keep only path and query; the Host header still names the host.
    const url = URL.canParse(target) ? new URL(target) : undefined;
    if (url === undefined) return undefined;
    pathAndQuery = `${url.pathname}${url.search}`;
  } else return undefined;
  const hostname = (match[1] as string).toLowerCase();
  return `https://${hostname}${httpsPort === 443 ? '' : `:${httpsPort}`}${pathAndQuery}`;
}

/**
 * Creates the redirect server. It never proxies: 308 keeps the method and body on the retry (RFC 9110
 * 15.4.9), where 301 lets clients turn a POST into a GET.
 */
export function createRedirectServer(
  httpsPort: () => number,
  challenge?: HttpChallengeLookup,
): Server {
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    const requestId = resolveRequestId(req.headers['x-request-id']);
    const token = challenge === undefined ? undefined : CHALLENGE_PATH.exec(req.url ?? '')?.[1];
    if (challenge !== undefined && token !== undefined) {
      answerChallenge(res, challenge, token, requestId);
      return;
    }
    const location = redirectLocation(req.headers.host, req.url, httpsPort());
    // The body is never read; closing the connection keeps an unread upload from lingering on the socket.
    if (location === undefined) {
      const err = new GatewayError(
        'bad_request',
        'a Host header and an origin-form target are needed to redirect to https',
      );
      respondError(res, err, requestId, [['connection', 'close']]);
      return;
    }
    res.writeHead(308, {
      location,
      'content-length': '0',
      connection: 'close',
      'x-request-id': requestId,
    });
    res.end();
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return server;
}

/** Starts the redirect server on `host:port`; rejects if the port cannot be bound. */
export async function listenRedirect(
  port: number,
  host: string,
  httpsPort: number,
  challenge?: HttpChallengeLookup,
): Promise<Server> {
  const server = createRedirectServer(() => httpsPort, challenge);
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}
