/** A route as the request path sees it: compiled once per config, read by every stage. */
import type { RouteConfig } from '../config/schema.js';

/** What a route matches on, precomputed from its config. */
export interface RouteMatch {
  /** Lower-case host without port, `*.example.com` wildcards kept as suffix; undefined = any host. */
  readonly host: string | undefined;
  readonly hostSuffix: string | undefined;
  /** Path prefix without a trailing slash ("" for the root). */
  readonly prefix: string;
  readonly methods: ReadonlySet<string> | undefined;
  /**
   * The route has `cors`: a CORS preflight matches it whatever `methods` and `headers` say (a preflight is
   * always OPTIONS and carries the names of the request's headers, never their values), so the cors stage
   * answers it.
   */
  readonly preflight: boolean;
  /** [lower-case name, exact value] pairs that must all be present. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** A compiled route as the request path sees it. */
export interface CompiledRoute {
  readonly name: string;
  readonly index: number;
  readonly config: RouteConfig;
  readonly match: RouteMatch;
}
