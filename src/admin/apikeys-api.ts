/** Admin API keys: issue one (the key is in this answer only), list them, revoke one everywhere. */
import { Hono } from 'hono';
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { errorBody, type ErrorCode } from '../errors.js';
import type { ApiKeyRecord, Security } from '../security/index.js';

/** `POST /admin/apikeys` (SPEC: `{consumer, scopes, ttl?}`; no ttl: the key never expires). */
const issueBody = z.strictObject({
  consumer: z.string().min(1),
  scopes: z.array(z.string()),
  ttl: duration.optional(),
});

const fail = (code: ErrorCode, status: 400 | 404, message: string): Response =>
  new Response(errorBody(code, message, ''), { status, headers: { 'content-type': 'application/json' } });

/** A record as the API shows it: timestamps as ISO 8601. */
export function apiKeyView(record: ApiKeyRecord): Record<string, unknown> {
  return {
    id: record.id,
    consumer: record.consumer,
    scopes: record.scopes,
    createdAt: new Date(record.createdAt).toISOString(),
    expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt).toISOString(),
  };
}

/** `/admin/apikeys` sub-app. */
export function apiKeysApi(security: Security): Hono {
  const app = new Hono();

  app.get('/', async (c) => c.json((await security.apiKeys.list()).map(apiKeyView)));

  app.post('/', async (c) => {
    let parsed: z.ZodSafeParseResult<z.output<typeof issueBody>>;
    try {
      parsed = issueBody.safeParse(await c.req.json());
    } catch {
      return fail('bad_request', 400, 'body must be JSON: {consumer, scopes, ttl?}');
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail('bad_request', 400, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
    }
    const { consumer, scopes, ttl } = parsed.data;
    try {
      const issued = await security.apiKeys.issue({ consumer, scopes, ...(ttl === undefined ? {} : { ttlMs: ttl }) });
      return c.json({ ...apiKeyView(issued), key: issued.key }, 201, { 'cache-control': 'no-store' });
    } catch (err) {
      if (err instanceof RangeError) return fail('bad_request', 400, err.message);
      throw err;
    }
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await security.apiKeys.revoke(id))) return fail('not_found', 404, `no API key "${id}"`);
    return c.json({ revoked: id });
  });
  return app;
}
