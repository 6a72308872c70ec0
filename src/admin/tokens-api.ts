/** Admin token endpoints: mint an edgeway token, revoke one by jti everywhere. */
import { Hono } from 'hono';
import { parseDuration } from '../config/duration.js';
import { errorBody } from '../errors.js';
import type { Security } from '../security/index.js';

interface MintBody {
  sub?: unknown;
  scopes?: unknown;
  ttl?: unknown;
  aud?: unknown;
}

const badRequest = (message: string): Response =>
  new Response(errorBody('bad_request', message, ''), { status: 400, headers: { 'content-type': 'application/json' } });

/** `/admin/tokens` sub-app. */
export function tokensApi(security: Security): Hono {
  const app = new Hono();

  app.post('/', async (c) => {
    let body: MintBody;
    try {
      body = (await c.req.json()) as MintBody;
    } catch {
      return badRequest('body must be JSON: {sub, scopes, ttl, aud?}');
    }
    if (typeof body.sub !== 'string' || body.sub === '') return badRequest('sub must be a non-empty string');
    if (!Array.isArray(body.scopes) || !body.scopes.every((s) => typeof s === 'string')) return badRequest('scopes must be an array of strings');
    const ttlMs = parseDuration(typeof body.ttl === 'string' ? body.ttl : '1h');
    if (ttlMs === undefined) return badRequest('ttl must be a duration such as 15m or 1h');
    if (body.aud !== undefined && typeof body.aud !== 'string') return badRequest('aud must be a string');
    try {
      const issued = await security.issueToken({ sub: body.sub, scopes: body.scopes as string[], ttlMs, ...(body.aud === undefined ? {} : { aud: body.aud }) });
      return c.json({ token: issued.token, jti: issued.jti, expiresAt: new Date(issued.expiresAt).toISOString() }, 200, { 'cache-control': 'no-store' });
    } catch (err) {
      if (err instanceof RangeError) return badRequest(err.message);
      throw err;
    }
  });

  app.post('/:jti/revoke', async (c) => {
    const jti = c.req.param('jti');
    if (!/^[A-Za-z0-9._~-]{1,128}$/.test(jti)) return badRequest('invalid jti');
    await security.revoke(jti);
    return c.json({ revoked: jti });
  });
  return app;
}
