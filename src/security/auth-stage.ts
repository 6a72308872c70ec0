/** The `auth` stage: verifies the bearer token, checks the route's scopes, tells the upstream who called. */
import type { RouteConfig } from '../config/schema.js';
import type { Principal, RequestContext, Stage } from '../request/context.js';
import { addIdentityHeaders } from './identity-headers.js';
import type { Security } from './index.js';
import { buildKeyOrTokenStage } from './api-keys/stage.js';
import { queryAccessToken } from './query-token.js';
import { connectionOf } from './connection.js';

/**
 * Builds the stage for a route with `auth`, or undefined when the route has none. With `required: false`
 * an absent token passes anonymously, but a presented one must still be valid.
 */
export function buildAuthStage(route: RouteConfig, security: Security): Stage | undefined {
  const auth = route.auth;
  if (auth === undefined) return undefined;
  const { required, scopes, queryToken } = auth;
  const claimHeaders = Object.entries(auth.claimHeaders);
  // The auth config in force when this route's snapshot was built, even after a reload swaps the snapshot.
  const verify = security.authenticator();
  if (auth.apiKeys)
    return buildKeyOrTokenStage({ required, scopes, claimHeaders, verify }, security);
  const admit = (ctx: RequestContext, principal: Principal): void => {
    security.checkScopes(principal, scopes);
    ctx.principal = principal;
    addIdentityHeaders(ctx.upstreamHeaders, principal, claimHeaders);
  };
  // A cached token is decided synchronously, so the stage costs no promise and no microtask turn.
  return function authenticate(ctx) {
    // The header wins when both are sent; the query's copy is removed before forwarding either way.
    const fromQuery =
      queryToken && ctx.req.headers.authorization === undefined
        ? queryAccessToken(ctx.query)
        : undefined;
    const header = fromQuery === undefined ? ctx.req.headers.authorization : `Bearer ${fromQuery}`;
    if (!required && header === undefined) return undefined;
    const principal = verify(header, ctx.clientIp, connectionOf(ctx.req));
    if (principal instanceof Promise) return principal.then((verified) => admit(ctx, verified));
    admit(ctx, principal);
    return undefined;
  };
}
