/** Response headers of a rate-limit decision, per draft-ietf-httpapi-ratelimit-headers (RateLimit-* fields). */
import type { Decision } from './limiter.js';
import type { BucketPolicy } from './token-bucket.js';

/**
 * `RateLimit-Policy` for a token bucket: `<capacity>;w=<seconds>`. The draft describes a quota of
 * `capacity` units per window `w`; an empty bucket takes capacity / refillPerSecond seconds to fill,
 * so that is the window (rounded up: the draft's `w` is whole seconds) that yields the same sustained
 * rate. Built once per route.
 */
export function policyHeader(policy: BucketPolicy): string {
  const window = Math.max(1, Math.ceil(policy.capacity / policy.refillPerSecond));
  return `${policy.capacity};w=${window}`;
}

/** Whole seconds for a header from ms, rounded up: a client that waits that long is never early. */
export function secondsUp(ms: number): number {
  return Math.ceil(Math.max(0, ms) / 1000);
}

/** Seconds for `Retry-After` on a denial (RFC 9110 10.2.3 delay-seconds), never 0: the request was refused. */
export function retryAfterSeconds(decision: Decision): number {
  return Math.max(1, secondsUp(decision.retryAfterMs));
}

/** RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds until full, rounded up) and RateLimit-Policy. */
export function stateHeaders(decision: Decision, policy: string): Array<[string, string]> {
  return [
    ['RateLimit-Limit', String(decision.limit)],
    ['RateLimit-Remaining', String(decision.remaining)],
    ['RateLimit-Reset', String(secondsUp(decision.resetMs))],
    ['RateLimit-Policy', policy],
  ];
}

/** The header pairs every decision of one route repeats, built once per route. */
export interface RouteHeaders {
  readonly capacity: number;
  readonly limit: [string, string];
  readonly policy: [string, string];
}

/** The constant pairs of a route with this bucket policy. */
export function routeHeaders(policy: BucketPolicy): RouteHeaders {
  return {
    capacity: policy.capacity,
    limit: ['RateLimit-Limit', String(policy.capacity)],
    policy: ['RateLimit-Policy', policyHeader(policy)],
  };
}

/**
 * Adds the state headers of a decision to `into`, as stateHeaders builds them: the route's constant pairs
 * are shared (nobody edits them), so a request builds only Remaining and Reset.
 */
export function addStateHeaders(
  into: Array<[string, string]>,
  decision: Decision,
  route: RouteHeaders,
): void {
  into.push(
    decision.limit === route.capacity ? route.limit : ['RateLimit-Limit', String(decision.limit)],
    ['RateLimit-Remaining', String(decision.remaining)],
    ['RateLimit-Reset', String(secondsUp(decision.resetMs))],
    route.policy,
  );
}

/** Every header of a decision: the state headers, plus Retry-After when it denies. */
export function rateLimitHeaders(decision: Decision, policy: string): Array<[string, string]> {
  const headers = stateHeaders(decision, policy);
  if (!decision.allowed) headers.push(['Retry-After', String(retryAfterSeconds(decision))]);
  return headers;
}
