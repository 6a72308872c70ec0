/** The cors stage: the Fetch standard's CORS protocol answered at the edge (preflights never reach the upstream). */
import type { RouteConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { RequestContext, Stage } from '../request/context.js';
import { ownAnswerHeaders } from '../request/policy-state.js';

/** Response headers the cors stage owns on its route: the upstream's copies are dropped, so no answer carries two. */
export const CORS_RESPONSE_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
] as const;

/** Fetch standard 3.2.2: a CORS preflight is OPTIONS with Origin and Access-Control-Request-Method. */
export function isPreflight(
  method: string | undefined,
  headers: RequestContext['req']['headers'],
): boolean {
  return (
    method === 'OPTIONS' &&
    headers.origin !== undefined &&
    headers['access-control-request-method'] !== undefined
  );
}

function isWebSocketUpgrade(upgrade: string | undefined): boolean {
  return upgrade !== undefined && upgrade.toLowerCase() === 'websocket';
}

function answerPreflight(ctx: RequestContext, origin: string, headers: readonly string[]): void {
  const base = ['x-request-id', ctx.requestId, 'access-control-allow-origin', origin, ...headers];
  ctx.res.writeHead(204, ownAnswerHeaders(base, ctx.responseHeaders, ctx.responseHeaderRules));
  ctx.res.end();
  // The preflight has no body worth reading; an unread one would hold the keep-alive connection.
  if (!ctx.req.complete) ctx.req.resume();
}

/**
 * Builds the route's CORS stage, or undefined without `cors`. A preflight from an allowed origin is
 * answered 204 here; from another origin, 403. An actual request from an allowed origin goes on and its
 * answer (proxied or edgeway's own error, so a browser can read a 401) carries the origin itself in
 * Access-Control-Allow-Origin; one from another origin goes on without CORS headers, and the browser
 * withholds the answer from the page, except a WebSocket handshake, which gets 403.
 */
export function buildCorsStage(route: RouteConfig): Stage | undefined {
  const config = route.cors;
  if (config === undefined) return undefined;
  const anyOrigin = config.origins.includes('*');
  const origins = new Set(config.origins);
  const actual: Array<readonly [string, string]> = [];
  const preflight: string[] = ['access-control-allow-methods', config.methods.join(', ')];
  if (config.credentials) {
    actual.push(['access-control-allow-credentials', 'true']);
    preflight.push('access-control-allow-credentials', 'true');
  }
  if (config.exposeHeaders.length > 0)
    actual.push(['access-control-expose-headers', config.exposeHeaders.join(', ')]);
  if (config.headers.length > 0)
    preflight.push('access-control-allow-headers', config.headers.join(', '));
  if (config.maxAge !== undefined)
    preflight.push('access-control-max-age', String(Math.floor(config.maxAge / 1000)));
  return function cors(ctx) {
    // Every answer on the route depends on Origin (allowed or not, preflight or not), so caches must key on it.
    ctx.responseHeaders.push(['vary', 'Origin']);
    const origin = ctx.req.headers.origin;
    if (origin === undefined) return;
    const allowed = anyOrigin || origins.has(origin);
    if (isPreflight(ctx.req.method, ctx.req.headers)) {
      if (!allowed)
        throw new GatewayError('forbidden', 'this origin is not allowed to call this route');
      answerPreflight(ctx, origin, preflight);
      return;
    }
    // RFC 6455 10.2: browsers apply no CORS to WebSocket handshakes, so Origin is the server's only check
    // against a page on another site opening a socket with the user's cookies.
    // Over HTTP/2 the handshake is an extended CONNECT naming the protocol in `:protocol` (RFC 8441 4).
    const upgrade = ctx.req.headers.upgrade ?? (ctx.req.headers[':protocol'] as string | undefined);
    if (!allowed && isWebSocketUpgrade(upgrade))
      throw new GatewayError('forbidden', 'this origin is not allowed to call this route');
    if (!allowed) return;
    ctx.responseHeaders.push(['access-control-allow-origin', origin]);
    // Fresh pairs: the request's header list is its own to change, the compiled ones are shared.
    for (const [name, value] of actual) ctx.responseHeaders.push([name, value]);
  };
}
