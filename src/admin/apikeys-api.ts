/** Admin API keys: issue one (the key is in this answer only), list them, revoke one everywhere. */
import { Hono } from 'hono';
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { GatewayError } from '../errors.js';
import type { ApiKeyRecord, Security } from '../security/index.js';
import { readJson } from './json-body.js';

/** `POST /admin/apikeys` (SPEC: `{consumer, scopes, ttl?}`; no ttl: the key never expires). */
const issueBody = z.strictObject({
  consumer: z.string().min(1),
  scopes: z.array(z.string()),
  ttl: duration.optional(),
});

/** A record as the API shows it: timestamps as ISO 8601, never the key or its digest. */
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
    const { consumer, scopes, ttl } = await readJson(c, issueBody);
    try {
      const issued = await security.apiKeys.issue({
        consumer,
        scopes,
        ...(ttl === undefined ? {} : { ttlMs: ttl }),
      });
      return c.json({ ...apiKeyView(issued), key: issued.key }, 201, {
        'cache-control': 'no-store',
      });
    } catch (err) {
      if (err instanceof RangeError) throw new GatewayError('bad_request', err.message);
      throw err;
    }
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await security.apiKeys.revoke(id)))
      throw new GatewayError('not_found', `no API key "${id}"`);
    return c.json({ revoked: id });
  });
  return app;
}
