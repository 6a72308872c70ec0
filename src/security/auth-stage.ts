/** The `auth` stage: verifies the bearer token, checks the route's scopes, tells the upstream who called. */
import type { RouteConfig } from '../config/schema.js';
import type { Stage } from '../pipeline/context.js';
import type { Security } from './index.js';

/**
 * Builds the stage for a route with `auth`, or undefined when the route has none. With `required: false`
 * an absent token passes anonymously, but a presented one must still be valid.
 */
export function buildAuthStage(route: RouteConfig, security: Security): Stage | undefined {
  const auth = route.auth;
  if (auth === undefined) return undefined;
  const { required, scopes } = auth;
  const claimHeaders = Object.entries(auth.claimHeaders);
  return async function authenticate(ctx) {
    const header = ctx.req.headers.authorization;
    if (!required && header === undefined) return;
    const principal = await security.authenticate(header, ctx.clientIp);
    security.checkScopes(principal, scopes);
    ctx.principal = principal;
    ctx.upstreamHeaders.push(['x-edgeway-sub', principal.sub], ['x-edgeway-scopes', principal.scopes.join(' ')]);
    for (const [header, claim] of claimHeaders) {
      const value = claimValue(principal.claims[claim]);
      if (value !== undefined) ctx.upstreamHeaders.push([header, value]);
    }
  };
}

const MAX_CLAIM_HEADER_CHARS = 256;
// RFC 9110 5.5: field values are visible ASCII, spaces and tabs; anything else (CR, LF, NUL, non-ASCII) is dropped.
const UNSAFE = /[^\t\x20-\x7e]/g;

/** A claim as a header value: strings, numbers and booleans, arrays space-joined; unsafe characters removed, bounded length. */
function claimValue(claim: unknown): string | undefined {
  let text: string;
  if (typeof claim === 'string' || typeof claim === 'number' || typeof claim === 'boolean') text = String(claim);
  else if (Array.isArray(claim) && claim.every((part) => typeof part === 'string' || typeof part === 'number')) text = claim.join(' ');
  else return undefined;
  const clean = text.replace(UNSAFE, '').trim().slice(0, MAX_CLAIM_HEADER_CHARS);
  return clean === '' ? undefined : clean;
}
