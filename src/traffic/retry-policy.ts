/** Retry classification and backoff: whether a failed upstream attempt may be tried again, and when. */
import type { FailureKind } from '../balancing/endpoint.js';
import type { ServiceConfig } from '../config/schema.js';

/** A service's parsed `retries` block. */
export type RetriesConfig = NonNullable<ServiceConfig['retries']>;

/** A service's retry policy, compiled once from config. */
export interface RetryPolicy {
  /** Retries after the first attempt (`retries.attempts`); 0 turns retries off. */
  readonly retries: number;
  /** The `on` list: failure kinds and status codes ("502") that may be retried. */
  readonly on: ReadonlySet<string>;
  /** Base backoff in ms; retry n waits a random time up to base x 2^n, capped at `maxBackoffMs`. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** The longest upstream `Retry-After` the gateway waits out; longer means no retry. */
  readonly maxRetryAfterMs: number;
  /** Deadline of one attempt in ms, when configured. */
  readonly perTryTimeoutMs: number | undefined;
}

/** Backoff cap as a multiple of the base (Envoy's default max interval is 10x the base). */
const MAX_BACKOFF_FACTOR = 10;
/** Default ceiling on an honoured Retry-After: past it the client is better served by the error itself. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 2_000;

/** The policy of a service without a `retries` block: no retries. */
export const NO_RETRIES: RetryPolicy = Object.freeze({
  retries: 0,
  on: new Set<string>(),
  backoffMs: 0,
  maxBackoffMs: 0,
  maxRetryAfterMs: 0,
  perTryTimeoutMs: undefined,
});

/** Compiles a service's `retries` block. */
export function compileRetryPolicy(
  config: RetriesConfig | undefined,
  maxRetryAfterMs = DEFAULT_MAX_RETRY_AFTER_MS,
): RetryPolicy {
  if (config === undefined) return NO_RETRIES;
  return Object.freeze({
    retries: config.attempts,
    on: new Set<string>(config.on),
    backoffMs: config.backoff,
    maxBackoffMs: config.backoff * MAX_BACKOFF_FACTOR,
    maxRetryAfterMs,
    perTryTimeoutMs: config.perTryTimeout,
  });
}

/** The facts of one failed attempt that decide a retry. */
export interface FailedAttempt {
  /** Request method, upper-case. */
  readonly method: string;
  /** The request carries an `Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header). */
  readonly hasIdempotencyKey: boolean;
  /** The route opted in to retrying non-idempotent requests. */
  readonly retryNonIdempotent: boolean;
  /** Some request body bytes already went upstream: a streamed body cannot be replayed. */
  readonly bodyBytesSent: boolean;
  /** How the attempt failed, or "status" for an answer whose status is in `retries.on`. */
  readonly kind: FailureKind | 'status';
  /** The upstream status when `kind` is "status". */
  readonly status?: number | undefined;
  /** The upstream's `Retry-After` header, if it sent one. */
  readonly retryAfter?: string | string[] | undefined;
  /** Retries already made for this request (0 after the first attempt failed). */
  readonly retriesDone: number;
}

/** Why a failure is not retried; for logs and span attributes. */
export type NoRetryReason =
  'attempts-exhausted' | 'not-retryable' | 'body-sent' | 'not-idempotent' | 'retry-after-too-long';

/** A retry decision: wait `delayMs` then try again (on another endpoint if possible), or give up. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: NoRetryReason };

/** RFC 9110 9.2.2: methods whose repetition has the same effect as one request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Decides whether a failed attempt is retried and after how long; `now` (ms) reads HTTP-date Retry-After. */
export function decideRetry(
  policy: RetryPolicy,
  attempt: FailedAttempt,
  random: () => number,
  now: number,
): RetryDecision {
  if (attempt.retriesDone >= policy.retries) return { retry: false, reason: 'attempts-exhausted' };
  const trigger = retryTrigger(attempt);
  if (trigger === undefined || !policy.on.has(trigger))
    return { retry: false, reason: 'not-retryable' };
  if (attempt.bodyBytesSent) return { retry: false, reason: 'body-sent' };
  // A connect failure never reached the upstream, so even a POST is safe to send again (nginx does the same).
  const safe =
    attempt.kind === 'connect-failure' ||
    IDEMPOTENT.has(attempt.method) ||
    attempt.hasIdempotencyKey ||
    attempt.retryNonIdempotent;
  if (!safe) return { retry: false, reason: 'not-idempotent' };
  const backoff = backoffMs(policy, attempt.retriesDone, random);
  // A repeated header arrives as a list (RFC 9110 5.3 makes a repeated singleton field invalid): the first counts.
  const retryAfter = Array.isArray(attempt.retryAfter) ? attempt.retryAfter[0] : attempt.retryAfter;
  const header = retryAfter === undefined ? undefined : parseRetryAfter(retryAfter, now);
  if (header === undefined) return { retry: true, delayMs: backoff };
  if (header > policy.maxRetryAfterMs) return { retry: false, reason: 'retry-after-too-long' };
  return { retry: true, delayMs: Math.max(header, backoff) };
}

/** The `retries.on` entry that covers a failure; undefined for failures that are never retried. */
function retryTrigger(attempt: FailedAttempt): string | undefined {
  switch (attempt.kind) {
    case 'status':
      return String(attempt.status);
    // An answer that is not HTTP broke the exchange just as a reset does.
    case 'invalid-response':
      return 'reset';
    // The client is gone, or edgeway could not send the request: another instance would fare no better.
    case 'client-aborted':
    case 'gateway-error':
      return undefined;
    case 'connect-failure':
    case 'reset':
    case 'timeout':
      return attempt.kind;
  }
}

/** Full-jitter backoff (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base x 2^n)). */
export function backoffMs(policy: RetryPolicy, retriesDone: number, random: () => number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** retriesDone);
  return Math.floor(random() * ceiling);
}

/** RFC 9110 10.2.3: Retry-After is delay-seconds or an HTTP-date; returns ms from `now`, undefined if invalid. */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // RFC 9110 5.6.7: IMF-fixdate, or obsolete RFC 850 / asctime formats, which Date.parse also reads.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
