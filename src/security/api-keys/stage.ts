/** The `auth` stage of a route with `apiKeys: true`: a bearer token or an `x-api-key`, never both. */
import { GatewayError } from '../../errors.js';
import type { Principal, Stage } from '../../request/context.js';
import { addIdentityHeaders } from '../identity-headers.js';
import type { Authenticate, Security } from '../index.js';
import { API_KEY_HEADER } from './key-material.js';
import { connectionOf } from '../connection.js';

const BEARER = /^bearer(?:\s|$)/i;

/**
 * RFC 6750 3.1 `invalid_request` (400) for a request that "uses more than one method" to authenticate:
 * which identity would win is a guess, and a guess about identity is a vulnerability.
 */
function twoCredentials(): GatewayError {
  return new GatewayError('bad_request', 'send either a bearer token or an API key, not both', [
    ['www-authenticate', 'Bearer error="invalid_request"'],
  ]);
}

/** What the stage is built from: the route's auth settings, resolved once. */
export interface KeyOrTokenAuth {
  readonly required: boolean;
  readonly scopes: readonly string[];
  readonly claimHeaders: ReadonlyArray<readonly [string, string]>;
  /** The snapshot's token authenticator (security.authenticator() when the route was built). */
  readonly verify: Authenticate;
}

/**
 * Builds the stage. A key authenticates as its consumer (`x-edgeway-sub`, scopes, the `consumer`
 * rate-limit key) and is never forwarded: its header is dropped from the upstream request.
 */
export function buildKeyOrTokenStage(auth: KeyOrTokenAuth, security: Security): Stage {
  const { required, scopes, claimHeaders, verify } = auth;
  return async function authenticate(ctx) {
    const authorization = ctx.req.headers.authorization;
    const key = ctx.req.headers[API_KEY_HEADER];
    let principal: Principal;
    if (key === undefined) {
      if (!required && authorization === undefined) return;
      principal = await verify(authorization, ctx.clientIp, connectionOf(ctx.req));
    } else {
      (ctx.droppedHeaders ??= new Set()).add(API_KEY_HEADER);
      if (authorization !== undefined && BEARER.test(authorization)) throw twoCredentials();
      // Node joins a repeated x-api-key with ", ", which no key contains: two keys are an unknown key.
      principal = await security.authenticateApiKey(key as string, ctx.clientIp);
    }
    security.checkScopes(principal, scopes);
    ctx.principal = principal;
    addIdentityHeaders(ctx.upstreamHeaders, principal, claimHeaders);
  };
}
