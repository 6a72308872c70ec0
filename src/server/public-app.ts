/** edgeway's own public endpoints (Hono): the JWK Set and the OAuth2 client-credentials token endpoint. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { HttpBindings } from '@hono/node-server';
import { GatewayError } from '../errors.js';
import type { Security } from '../security/index.js';
import { resolveClient, type TrustedProxies } from '../pipeline/client-ip.js';
import { errorResponse } from '../pipeline/respond-error.js';
import { resolveRequestId } from '../telemetry/request-id.js';
import type { RequestObserver } from '../request/observer.js';
import {
  authorizationServerMetadata,
  OAUTH_METADATA_PATH,
  publicOrigin,
} from '../security/oauth-metadata.js';

// A form with a client id, secret and scope list is tiny; anything larger is not a token request.
const MAX_TOKEN_REQUEST_BYTES = 16 * 1024;

type PublicEnv = { Bindings: HttpBindings; Variables: { requestId: string } };

/** The route label of each endpoint in logs, metrics and spans: parenthesised, so no configured route name can collide. */
const ENDPOINT_LABELS: Readonly<Record<string, string>> = {
  '/.well-known/jwks.json': '(jwks)',
  [OAUTH_METADATA_PATH]: '(oauth-metadata)',
  '/oauth/token': '(oauth-token)',
};

/**
 * The public app; `trusted` reads the live snapshot's trusted proxies for the client IP, `observer` logs
 * and counts each request as the proxy's are, and `onUnexpectedError` hears of failures the answer (a bare
 * 500 internal_error) hides.
 */
export function createPublicApp(
  security: Security,
  trusted: () => TrustedProxies,
  observer: RequestObserver,
  onUnexpectedError: (err: unknown) => void,
): Hono<PublicEnv> {
  const app = new Hono<PublicEnv>();
  // SPEC: every response carries x-request-id, edgeway's own endpoints too, and error bodies repeat it.
  app.use('*', async function requestId(c, next) {
    const startedAt = process.hrtime.bigint();
    const { incoming, outgoing } = c.env;
    const id = resolveRequestId(c.req.header('x-request-id'));
    c.set('requestId', id);
    const clientIp = resolveClient(
      incoming.socket.remoteAddress,
      incoming.headers['x-forwarded-for'],
      trusted(),
    ).ip;
    const endpoint = ENDPOINT_LABELS[c.req.path] ?? '(unrouted)';
    const trace = observer.start(incoming, endpoint, clientIp);
    // Credential stuffing at the token endpoint must be visible: one access-log line and count per request (never its body).
    outgoing.once('close', () => {
      observer.done({
        req: incoming,
        res: outgoing,
        requestId: id,
        route: undefined,
        endpoint,
        ctx: undefined,
        trace,
        clientIp,
        path: c.req.path,
        status: outgoing.statusCode,
        startedAt,
        error: undefined,
      });
    });
    await next();
    c.res.headers.set('x-request-id', id);
  });

  app.get('/.well-known/jwks.json', (c) =>
    c.json(security.jwks(), 200, {
      'cache-control': 'public, max-age=300, stale-while-revalidate=60',
    }),
  );

  app.get(OAUTH_METADATA_PATH, (c) => {
    const incoming = c.env.incoming;
    const { trustedPeer } = resolveClient(incoming.socket.remoteAddress, undefined, trusted());
    const forwarded = (header: string): string | undefined =>
      trustedPeer ? c.req.header(header)?.split(',')[0]?.trim() : undefined;
    const encrypted = (incoming.socket as { encrypted?: boolean }).encrypted === true;
    const origin = publicOrigin(
      forwarded('x-forwarded-proto') ?? (encrypted ? 'https' : 'http'),
      forwarded('x-forwarded-host') ?? c.req.header('host'),
    );
    if (origin === undefined)
      return errorResponse(
        new GatewayError('bad_request', 'a valid Host header is required'),
        c.get('requestId'),
      );
    return c.json(authorizationServerMetadata(origin), 200, {
      'cache-control': 'public, max-age=300',
      vary: 'host, x-forwarded-host, x-forwarded-proto',
    });
  });

  app.post(
    '/oauth/token',
    // Counts chunked bodies too, so a token request never buffers more than the limit. The rest of an
    // oversized upload is not read: the connection closes instead.
    bodyLimit({
      maxSize: MAX_TOKEN_REQUEST_BYTES,
      // RFC 6749 5.2 form, as every other answer of the token endpoint.
      onError: (c) =>
        c.json({ error: 'invalid_request', error_description: 'request too large' }, 413, {
          'cache-control': 'no-store',
          connection: 'close',
        }),
    }),
    async (c) => {
      const body = await c.req.text();
      const incoming = c.env.incoming;
      const client = resolveClient(
        incoming.socket.remoteAddress,
        incoming.headers['x-forwarded-for'],
        trusted(),
      );
      const answer = await security.oauthToken({
        contentType: c.req.header('content-type'),
        authorization: c.req.header('authorization'),
        body,
        clientIp: client.ip,
      });
      return c.body(answer.body, answer.status as 200, Object.fromEntries(answer.headers));
    },
  );

  // RFC 9110 15.5.6: a 405 lists the methods the target supports in Allow.
  app.all('*', (c) => {
    const allow = c.req.path === '/oauth/token' ? 'POST' : 'GET, HEAD';
    return errorResponse(
      new GatewayError(
        'method_not_allowed',
        `${c.req.method} is not allowed here (Allow: ${allow})`,
        [['allow', allow]],
      ),
      c.get('requestId'),
    );
  });
  app.onError((err, c) => {
    onUnexpectedError(err);
    return errorResponse(
      new GatewayError('internal_error', 'the gateway failed to handle the request'),
      c.get('requestId'),
    );
  });
  return app;
}
