/** The route table: longest whole-segment prefix wins, tie to the route listed first; built once per config. */
import type { RouteConfig } from '../config/schema.js';
import type { CompiledRoute, RouteMatch } from '../request/route.js';
import { isPreflight } from '../security/cors.js';

/** Precomputes a route's match from its config. */
export function compileMatch(route: RouteConfig): RouteMatch {
  const host = route.match.host?.toLowerCase();
  const prefix = route.match.path.replace(/\/+$/, '');
  return {
    host: host?.startsWith('*.') ? undefined : host,
    hostSuffix: host?.startsWith('*.') ? host.slice(1) : undefined,
    prefix,
    methods: route.match.methods ? new Set(route.match.methods) : undefined,
    preflight: route.cors !== undefined,
    headers: Object.entries(route.match.headers ?? {}).map(
      ([name, value]) => [name.toLowerCase(), value] as const,
    ),
  };
}

/** The request facts a route is matched against. */
export interface MatchInput {
  /** Lower-case host without port. */
  readonly host: string;
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

function matchesRest(route: RouteMatch, input: MatchInput): boolean {
  if (route.host !== undefined && route.host !== input.host) return false;
  if (route.hostSuffix !== undefined && !input.host.endsWith(route.hostSuffix)) return false;
  if (route.preflight && isPreflight(input.method, input.headers)) return true;
  if (route.methods !== undefined && !route.methods.has(input.method)) return false;
  for (const [name, value] of route.headers) {
    if (input.headers[name] !== value) return false;
  }
  return true;
}

/** Routes indexed by prefix, so a lookup costs one map probe per path segment. */
export class RouteTable<R extends CompiledRoute> {
  readonly routes: readonly R[];
  private readonly byPrefix = new Map<string, R[]>();

  constructor(routes: readonly R[]) {
    this.routes = routes;
    for (const route of routes) {
      const list = this.byPrefix.get(route.match.prefix);
      if (list) list.push(route);
      else this.byPrefix.set(route.match.prefix, [route]);
    }
  }

  /** The route for a normalised path, or undefined (404). */
  find(input: MatchInput): R | undefined {
    let candidate = input.path.endsWith('/') ? input.path.slice(0, -1) : input.path;
    for (;;) {
      const list = this.byPrefix.get(candidate);
      if (list !== undefined) {
        for (const route of list) if (matchesRest(route.match, input)) return route;
      }
      if (candidate === '') return undefined;
      candidate = candidate.slice(0, candidate.lastIndexOf('/'));
    }
  }
}

/**
 * The path the upstream receives: the normalised path, less the route prefix when stripPrefix is set, then
 * with addPrefix in front (`/api/7` on prefix `/api` with addPrefix `/v2` becomes `/v2/7`; `/api` alone `/v2`).
 */
export function upstreamPath(route: CompiledRoute, path: string): string {
  const { addPrefix } = route.config;
  const rest = route.config.stripPrefix ? path.slice(route.match.prefix.length) : path;
  if (addPrefix !== undefined) return addPrefix + rest;
  return rest === '' ? '/' : rest;
}
