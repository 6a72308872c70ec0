/** Admin API protection: a bearer token required whenever the admin listener is reachable off loopback. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { errorBody } from '../errors.js';

/** Whether a listen host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time bearer check; comparing digests hides the token's length too. */
export function adminAuth(token: string): MiddlewareHandler {
  const expected = digest(token);
  return async function adminBearer(c, next) {
    const header = c.req.header('authorization') ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (presented === '' || !timingSafeEqual(digest(presented), expected)) {
      return c.body(errorBody('unauthorized', 'admin API needs Authorization: Bearer $EDGEWAY_ADMIN_TOKEN', ''), 401, {
        'content-type': 'application/json',
        'www-authenticate': 'Bearer realm="edgeway-admin"',
      });
    }
    await next();
  };
}
