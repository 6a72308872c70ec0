/** edgeway's own public endpoints (Hono): the JWK Set and the OAuth2 client-credentials token endpoint. */
import { Hono } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import type { Security } from '../security/index.js';
import { resolveClient, type TrustedProxies } from '../pipeline/client-ip.js';
import { resolveRequestId } from '../telemetry/request-id.js';

// A form with a client id, secret and scope list is tiny; anything larger is not a token request.
const MAX_TOKEN_REQUEST_BYTES = 16 * 1024;

/** The public app; `trusted` reads the live snapshot's trusted proxies for the client IP. */
export function createPublicApp(security: Security, trusted: () => TrustedProxies): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  // SPEC: every response carries x-request-id, edgeway's own endpoints too.
  app.use('*', async (c, next) => {
    await next();
    c.header('x-request-id', resolveRequestId(c.req.header('x-request-id')));
  });

  app.get('/.well-known/jwks.json', (c) =>
    c.json(security.jwks(), 200, { 'cache-control': 'public, max-age=300, stale-while-revalidate=60' }),
  );

  app.post('/oauth/token', async (c) => {
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > MAX_TOKEN_REQUEST_BYTES) {
      return c.json({ error: 'invalid_request', error_description: 'request too large' }, 413, { 'cache-control': 'no-store' });
    }
    const body = await c.req.text();
    if (Buffer.byteLength(body) > MAX_TOKEN_REQUEST_BYTES) {
      return c.json({ error: 'invalid_request', error_description: 'request too large' }, 413, { 'cache-control': 'no-store' });
    }
    const incoming = c.env.incoming;
    const client = resolveClient(incoming.socket.remoteAddress, incoming.headers['x-forwarded-for'], trusted());
    const answer = await security.oauthToken({
      contentType: c.req.header('content-type'),
      authorization: c.req.header('authorization'),
      body,
      clientIp: client.ip,
    });
    return c.body(answer.body, answer.status as 200, Object.fromEntries(answer.headers));
  });

  app.all('*', (c) => c.json({ error: { code: 'bad_request', message: 'method not allowed here', requestId: '' } }, 405, { allow: c.req.path === '/oauth/token' ? 'POST' : 'GET' }));
  return app;
}
