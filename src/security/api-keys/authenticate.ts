/** The request-path check of an `x-api-key`: cache, store lookup, and the invalid-credential throttle shared with tokens. */
import { GatewayError } from '../../errors.js';
import type { Principal } from '../../request/context.js';
import { withDeadline } from '../../store/deadline.js';
import { REALM, tooManyFailures } from '../auth-errors.js';
import type { FailureThrottle } from '../brute-force.js';
import type { ApiKeyRefusal, ApiKeys } from './api-keys.js';
import { apiKeyDigest, looksLikeApiKey } from './key-material.js';

const BLOCKED = 'too many invalid credentials from this address';

/** How long an uncached key's store lookup may take before the answer is 503 (one HGET normally takes well under 1 ms). */
const LOOKUP_DEADLINE_MS = 1000;

/** 503 when the store cannot say whether a key is valid: unknown is not the same as invalid, so nothing is counted. */
function storeUnavailable(cause: unknown): GatewayError {
  return new GatewayError(
    'unavailable',
    'API keys cannot be checked right now',
    [['retry-after', '1']],
    { cause },
  );
}

function lookupWithin(keys: ApiKeys, digest: string): ReturnType<ApiKeys['lookup']> {
  return withDeadline(keys.lookup(digest), LOOKUP_DEADLINE_MS).catch((err: unknown) => {
    throw storeUnavailable(err);
  });
}

/** 401 for a key that does not authenticate; the challenge names the Bearer scheme the route also takes (RFC 9110 11.6.1). */
function invalidApiKey(reason: string): GatewayError {
  return new GatewayError('unauthorized', `invalid API key: ${reason}`, [
    ['www-authenticate', `Bearer realm="${REALM}"`],
  ]);
}

/**
 * The consumer of `key`, or a 401 (429 once `clientIp` is throttled). A blocked address is still looked
 * up: the lookup is a hash and one read, and a valid key behind a NAT shared with a guesser must pass.
 * Only refused keys count towards the throttle, as refused tokens do. A cached key keeps working while
 * Redis is away; an uncached one is 503 then.
 */
export async function authenticateApiKey(
  keys: ApiKeys,
  throttle: FailureThrottle,
  key: string,
  clientIp: string,
): Promise<Principal> {
  let found: Principal | ApiKeyRefusal = 'unknown';
  // A value no edgeway key can be costs neither a hash nor a store read.
  if (looksLikeApiKey(key)) {
    const digest = apiKeyDigest(key);
    const cached = keys.cached(digest);
    if (cached !== undefined) return cached;
    found = await lookupWithin(keys, digest);
  }
  if (typeof found !== 'string') return found;
  const blockedMs = throttle.blockedFor(clientIp) || (await throttle.fail(clientIp));
  if (blockedMs > 0) throw tooManyFailures(blockedMs, BLOCKED);
  throw invalidApiKey(found === 'expired' ? 'expired' : 'unknown key');
}
