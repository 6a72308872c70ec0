/** requestHeaders / responseHeaders: compiled set/remove rules, applied after edgeway's own header rules. */
import type { HeaderTransformConfig } from '../config/policies-schema.js';
import type { RouteConfig } from '../config/schema.js';
import type { Stage } from '../request/context.js';
import type { RequestHeaderRules, ResponseHeaderRules } from '../request/policy-state.js';

/** Headers an error answer writes about its own body; a transform never removes or replaces them there. */
const ERROR_BODY_HEADERS = new Set([
  'content-type',
  'content-length',
  'cache-control',
  'x-request-id',
]);

/**
 * The name a CGI-style stack (WSGI, PHP, Rack) reads a lower-case header name as: those map `-` to `_`, so
 * `x_user` and `x-user` are one variable to them. Undefined for a name without `_`, which has no second spelling.
 */
export function cgiAlias(lower: string): string | undefined {
  return lower.includes('_') ? lower.replaceAll('_', '-') : undefined;
}

/**
 * Whether a header is dropped by `drop`, comparing names the way CGI-style stacks do, so removing `x-user`
 * also removes a client's `X_User` that such an upstream would read as the same variable. `alias` is the
 * name's {@link cgiAlias}, computed once per header by a caller that checks several sets.
 */
export function isDropped(
  drop: ReadonlySet<string>,
  lower: string,
  alias: string | undefined = cgiAlias(lower),
): boolean {
  return drop.has(lower) || (alias !== undefined && drop.has(alias));
}

function flatten(
  set: Readonly<Record<string, string>>,
  keep: (lower: string) => boolean = () => true,
): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(set))
    if (keep(name.toLowerCase())) out.push(name.toLowerCase(), value);
  return out;
}

function dropSet(config: HeaderTransformConfig | undefined): Set<string> {
  return new Set(
    [...(config?.remove ?? []), ...Object.keys(config?.set ?? {})].map((name) =>
      name.toLowerCase(),
    ),
  );
}

/** Compiles a route's requestHeaders. */
function compileRequestRules(config: HeaderTransformConfig): RequestHeaderRules {
  return { drop: dropSet(config), set: flatten(config.set) };
}

/** Compiles a route's responseHeaders, with the names stages own (`owned`, lower-case) taken from the upstream. */
function compileResponseRules(
  config: HeaderTransformConfig | undefined,
  owned: readonly string[],
): ResponseHeaderRules {
  const drop = dropSet(config);
  return {
    drop,
    dropUpstream: new Set([...drop, ...owned]),
    set: flatten(config?.set ?? {}),
    setOnErrors: flatten(config?.set ?? {}, (lower) => !ERROR_BODY_HEADERS.has(lower)),
  };
}

/** The request_headers stage: hands the route's compiled rules to the forwarder. */
export function buildRequestHeadersStage(route: RouteConfig): Stage | undefined {
  if (route.requestHeaders === undefined) return undefined;
  const rules = compileRequestRules(route.requestHeaders);
  return function requestHeaders(ctx) {
    ctx.upstreamHeaderRules = rules;
  };
}

/**
 * The response_headers stage, first of a route's stages so its rules reach every answer after routing,
 * the refusals of later stages included. `owned` lists response headers another stage of the route writes.
 */
export function buildResponseHeadersStage(
  route: RouteConfig,
  owned: readonly string[],
): Stage | undefined {
  if (route.responseHeaders === undefined && owned.length === 0) return undefined;
  const rules = compileResponseRules(route.responseHeaders, owned);
  return function responseHeaders(ctx) {
    ctx.responseHeaderRules = rules;
  };
}

/** The headers of edgeway's own error answer (as `renderError` lists them) with the route's rules applied. */
export function errorAnswerHeaders(
  headers: ReadonlyArray<readonly [string, string]>,
  rules: ResponseHeaderRules,
): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (ERROR_BODY_HEADERS.has(lower) || !rules.drop.has(lower)) out.push(name, value);
  }
  out.push(...rules.setOnErrors);
  return out;
}
