/** What the stages decided (auth, rate_limit, ip_rules, cors, compression), as attributes of their spans; read from the request context. */
import type { Span } from '@opentelemetry/api';
import { GatewayError } from '../../errors.js';
import type { RequestContext } from '../../request/context.js';

/** Stage span names: they line up with the stage names and the metric names. */
export type StageName =
  | 'edgeway.response_headers'
  | 'edgeway.ip_rules'
  | 'edgeway.cors'
  | 'edgeway.auth'
  | 'edgeway.rate_limit'
  | 'edgeway.plugins'
  | `edgeway.plugin ${string}`
  | 'edgeway.request_headers'
  | 'edgeway.compression'
  | 'edgeway.select_instance';

const REMAINING_HEADER = 'ratelimit-remaining';

/** The answer a stage chose (a 4xx GatewayError), as opposed to a failure of the stage itself. */
function decision(error: unknown): GatewayError | undefined {
  return error instanceof GatewayError && error.status < 500 ? error : undefined;
}

/**
 * `edgeway.auth.outcome`: `authenticated`, `anonymous` (optional auth, no token) or the code of the answer
 * (`unauthorized`, `forbidden`, `rate_limited`); `edgeway.auth.issuer` for a verified token. Never the
 * token, its subject or its claims otherwise.
 */
function describeAuth(span: Span, ctx: RequestContext, refused: GatewayError | undefined): void {
  if (refused !== undefined) {
    span.setAttribute('edgeway.auth.outcome', refused.code);
    return;
  }
  const principal = ctx.principal;
  span.setAttribute(
    'edgeway.auth.outcome',
    principal === undefined ? 'anonymous' : 'authenticated',
  );
  const issuer = principal?.claims.iss;
  if (typeof issuer === 'string') span.setAttribute('edgeway.auth.issuer', issuer);
}

/**
 * `edgeway.rate_limit.key`: the kind of bucket key from config (`consumer`, `ip`, `route`, `header:NAME`),
 * never the key itself; `edgeway.rate_limit.mode`; and for an enforced limit `edgeway.rate_limit.outcome`
 * (`allowed`, `limited`) and `edgeway.rate_limit.remaining` (the RateLimit-Remaining the client gets).
 * A shadow limit changes no response, so the context holds no decision to read.
 */
function describeRateLimit(
  span: Span,
  ctx: RequestContext,
  refused: GatewayError | undefined,
): void {
  const config = ctx.route.config.rateLimit;
  if (config === undefined) return;
  span.setAttribute('edgeway.rate_limit.key', config.key);
  span.setAttribute('edgeway.rate_limit.mode', config.mode);
  if (config.mode === 'shadow') return;
  span.setAttribute(
    'edgeway.rate_limit.outcome',
    refused === undefined ? 'allowed' : refused.code === 'rate_limited' ? 'limited' : refused.code,
  );
  for (const [name, value] of ctx.responseHeaders) {
    if (name.toLowerCase() === REMAINING_HEADER)
      span.setAttribute('edgeway.rate_limit.remaining', Number(value));
  }
}

/**
 * `edgeway.cors.outcome`: `preflight` (answered 204 here), `forbidden` (a preflight from another origin),
 * `allowed` (an actual request from an allowed origin), `other_origin` (one from another origin, forwarded
 * without CORS headers) or `none` (no Origin). Never the origin itself.
 */
function describeCors(span: Span, ctx: RequestContext, refused: GatewayError | undefined): void {
  let outcome = 'none';
  if (refused !== undefined) outcome = refused.code;
  else if (ctx.res.writableEnded) outcome = 'preflight';
  else if (ctx.req.headers.origin !== undefined)
    outcome = ctx.responseHeaders.some(([name]) => name === 'access-control-allow-origin')
      ? 'allowed'
      : 'other_origin';
  span.setAttribute('edgeway.cors.outcome', outcome);
}

/**
 * Sets the attributes of a finished stage span. Returns false when `error` is a failure of the stage
 * (an unexpected exception or a 5xx), which the caller marks as the span's error; a 4xx the stage
 * answered with is a decision, and the span status stays UNSET.
 */
export function describeStage(
  span: Span,
  name: StageName,
  ctx: RequestContext,
  error: unknown,
): boolean {
  const refused = decision(error);
  if (error !== undefined && refused === undefined) return false;
  if (name === 'edgeway.auth') describeAuth(span, ctx, refused);
  else if (name === 'edgeway.rate_limit') describeRateLimit(span, ctx, refused);
  else if (name === 'edgeway.ip_rules')
    span.setAttribute('edgeway.ip_rules.outcome', refused === undefined ? 'allowed' : refused.code);
  else if (name === 'edgeway.cors') describeCors(span, ctx, refused);
  // The coding the client accepts best; whether a response is compressed also depends on the response.
  else if (name === 'edgeway.compression')
    span.setAttribute('edgeway.compression.accepted', ctx.compression?.encoding ?? 'identity');
  return true;
}
