/** Admin token endpoints: mint an edgeway token, revoke one by jti everywhere. */
import { Hono } from 'hono';
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { GatewayError } from '../errors.js';
import type { Security } from '../security/index.js';
import { readJson } from './json-body.js';

/** `POST /admin/tokens` (SPEC: `{sub, scopes, ttl, aud?}`; ttl defaults to 1h). */
const mintBody = z.strictObject({
  sub: z.string().min(1),
  scopes: z.array(z.string()),
  ttl: duration.default(3_600_000),
  aud: z.string().optional(),
});

const JTI = /^[A-Za-z0-9._~-]{1,128}$/;

/** `/admin/tokens` sub-app. */
export function tokensApi(security: Security): Hono {
  const app = new Hono();

  app.post('/', async (c) => {
    const body = await readJson(c, mintBody);
    try {
      const issued = await security.issueToken({
        sub: body.sub,
        scopes: body.scopes,
        ttlMs: body.ttl,
        ...(body.aud === undefined ? {} : { aud: body.aud }),
      });
      return c.json(
        {
          token: issued.token,
          jti: issued.jti,
          expiresAt: new Date(issued.expiresAt).toISOString(),
        },
        200,
        { 'cache-control': 'no-store' },
      );
    } catch (err) {
      if (err instanceof RangeError) throw new GatewayError('bad_request', err.message);
      throw err;
    }
  });

  app.post('/:jti/revoke', async (c) => {
    const jti = c.req.param('jti');
    if (!JTI.test(jti)) throw new GatewayError('bad_request', 'invalid jti');
    await security.revoke(jti);
    return c.json({ revoked: jti });
  });
  return app;
}
