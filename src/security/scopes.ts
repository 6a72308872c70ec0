/** Scopes of a verified token and the route's all-of scope check. */
import type { Principal } from '../request/context.js';
import { insufficientScope } from './auth-errors.js';

/** RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Whether `scope` is a valid RFC 6749 scope token (no spaces, quotes or backslashes). */
export function isScopeToken(scope: string): boolean {
  return SCOPE_TOKEN.test(scope);
}

/** Scopes from `scope` (RFC 8693 4.2: space-separated string) or `scp` (an array, as some IdPs send). */
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  const scope = claims['scope'];
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s.length > 0);
  const scp = claims['scp'];
  if (Array.isArray(scp))
    return scp.filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (typeof scp === 'string') return scp.split(' ').filter((s) => s.length > 0);
  return [];
}

/** Throws 403 `insufficient_scope` (naming every required scope) unless the principal holds all of them. */
export function checkScopes(principal: Principal, required: readonly string[]): void {
  // Both lists are short (a route names a few scopes), so a scan beats building a Set per request.
  for (const scope of required)
    if (!principal.scopes.includes(scope)) throw insufficientScope(required);
}
