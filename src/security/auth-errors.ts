/** The GatewayErrors of authentication, with the WWW-Authenticate challenges RFC 6750 section 3 requires. */
import { GatewayError } from '../errors.js';

/** The realm every Bearer challenge names. */
export const REALM = 'edgeway';

/** RFC 6750 3: the challenge's values are quoted-strings, so quotes and backslashes never reach them. */
function quoted(text: string): string {
  return text.replace(/["\\\r\n]/g, '');
}

/** 401 for a request that carries no token at all: RFC 6750 3.1 says to send no error code then. */
export function missingToken(): GatewayError {
  return new GatewayError('unauthorized', 'a bearer token is required', [
    ['www-authenticate', `Bearer realm="${REALM}"`],
  ]);
}

/** The exact challenge SPEC names for a bad token. */
const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/**
 * 401 `invalid_token`. The challenge is exactly the SPEC's, with no `error_description` (RFC 6750 3 makes it
 * optional); the short reason goes into the error body's message instead.
 */
export function invalidToken(description: string, cause?: unknown): GatewayError {
  return new GatewayError(
    'unauthorized',
    `invalid token: ${description}`,
    [['www-authenticate', INVALID_TOKEN_CHALLENGE]],
    { cause },
  );
}

/** 403 `insufficient_scope` naming every scope the route requires (RFC 6750 3.1). */
export function insufficientScope(required: readonly string[]): GatewayError {
  const challenge = `Bearer error="insufficient_scope", scope="${quoted(required.join(' '))}"`;
  return new GatewayError('forbidden', `the token lacks a required scope (${required.join(' ')})`, [
    ['www-authenticate', challenge],
  ]);
}

/** 429 with Retry-After in whole seconds, at least 1 (RFC 9110 10.2.3). */
export function tooManyFailures(retryAfterMs: number, message: string): GatewayError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new GatewayError('rate_limited', message, [['retry-after', String(seconds)]]);
}
