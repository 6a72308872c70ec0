/** Admin API protection: a bearer token required whenever the admin listener is reachable off loopback. */
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { GatewayError } from '../errors.js';
import { adminTokenChecker } from '../security/admin-token.js';

/** Whether a listen host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** The admin bearer check as Hono middleware (constant-time comparison in security/admin-token). */
export function adminAuth(token: string): MiddlewareHandler {
  const isAdmin = adminTokenChecker(token);
  return async function adminBearer(c, next) {
    if (!isAdmin(c.req.header('authorization'))) {
      throw new GatewayError(
        'unauthorized',
        'admin API needs Authorization: Bearer $EDGEWAY_ADMIN_TOKEN',
        [['www-authenticate', 'Bearer realm="edgeway-admin"']],
      );
    }
    await next();
  };
}
