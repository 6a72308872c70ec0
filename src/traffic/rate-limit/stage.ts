/** The rate_limit stage: takes a token for the request's bucket, sets the RateLimit headers, answers 429. */
import { GatewayError } from '../../errors.js';
import type { RateLimitConfig } from '../../config/schema.js';
import type { RequestContext, Stage } from '../../request/context.js';
import type { Decision, RateLimiter } from './limiter.js';
import type { RateLimitRecorder } from './counters.js';
import { bucketNameFunction } from './bucket-key.js';
import { addStateHeaders, retryAfterSeconds, routeHeaders } from './headers.js';

/** What the stage needs from the gateway: limiters that outlive reloads, and the shared counters. */
export interface RateLimitStageDeps {
  readonly limiters: { limiterFor(route: string, config: RateLimitConfig): RateLimiter };
  readonly counters: RateLimitRecorder;
}

/** The slice of a route the stage reads. */
export interface RateLimitedRoute {
  readonly name: string;
  readonly rateLimit?: RateLimitConfig | undefined;
}

/**
 * Returns the `rate_limit` stage for a route, or undefined when it has no `rateLimit` (no cost per
 * request). The key function, policy header and limiter are fixed here, at build time.
 * `mode: shadow` consumes and counts but never denies and never adds headers.
 */
export function buildRateLimitStage(
  route: RateLimitedRoute,
  deps: RateLimitStageDeps,
): Stage | undefined {
  const config = route.rateLimit;
  if (config === undefined) return undefined;
  const routeName = route.name;
  const bucketOf = bucketNameFunction(routeName, config.key);
  const limiter = deps.limiters.limiterFor(routeName, config);
  const headers = routeHeaders(config);
  const shadow = config.mode === 'shadow';
  const { counters } = deps;

  const apply = (ctx: RequestContext, decision: Decision): void => {
    if (decision.source !== 'store') counters.count(routeName, 'fallback');
    if (shadow) {
      counters.count(routeName, decision.allowed ? 'allowed' : 'shadow_limited');
      return;
    }
    counters.count(routeName, decision.allowed ? 'allowed' : 'limited');
    addStateHeaders(ctx.responseHeaders, decision, headers);
    if (!decision.allowed) {
      const seconds = retryAfterSeconds(decision);
      throw new GatewayError('rate_limited', `rate limit exceeded; retry in ${seconds} s`, [
        ['Retry-After', String(seconds)],
      ]);
    }
  };

  // Spending a leased token is decided synchronously: no promise, no microtask turn.
  return function rate_limit(ctx: RequestContext): void | Promise<void> {
    const decision = limiter.consume(
      bucketOf({ clientIp: ctx.clientIp, principal: ctx.principal, headers: ctx.req.headers }),
    );
    if (decision instanceof Promise) return decision.then((decided) => apply(ctx, decided));
    apply(ctx, decision);
    return undefined;
  };
}
