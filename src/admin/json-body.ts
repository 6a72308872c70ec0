/** Admin request bodies: JSON checked by a zod schema, each failure a 400 naming the field. */
import type { Context } from 'hono';
import type { z } from 'zod';
import { GatewayError } from '../errors.js';

/** Parses the body of `c` with `schema`; throws GatewayError `bad_request` with the first problem found. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new GatewayError('bad_request', 'the body must be a JSON object');
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.');
  throw new GatewayError('bad_request', `${where}: ${issue?.message ?? 'invalid'}`);
}
