/** The request-path check of an `x-api-key`: cache, store lookup, and the invalid-credential throttle shared with tokens. */
import { GatewayError } from '../../errors.js';
import type { Principal } from '../../request/context.js';
import { REALM, tooManyFailures } from '../auth-errors.js';
import type { FailureThrottle } from '../brute-force.js';
import type { ApiKeys } from './api-keys.js';
import { apiKeyDigest, MAX_API_KEY_LENGTH } from './key-material.js';

const BLOCKED = 'too many invalid credentials from this address';

/** 401 for a key that does not authenticate; the challenge names the Bearer scheme the route also takes (RFC 9110 11.6.1). */
function invalidApiKey(reason: string): GatewayError {
  return new GatewayError('unauthorized', `invalid API key: ${reason}`, [['www-authenticate', `Bearer realm="${REALM}"`]]);
}

/**
 * The consumer of `key`, or a 401 (429 once `clientIp` is throttled). A blocked address is still looked
 * up: the lookup is a hash and one read, and a valid key behind a NAT shared with a guesser must pass.
 * Only refused keys count towards the throttle, as refused tokens do.
 */
export async function authenticateApiKey(keys: ApiKeys, throttle: FailureThrottle, key: string, clientIp: string): Promise<Principal> {
  const valid = key.length > 0 && key.length <= MAX_API_KEY_LENGTH;
  const digest = valid ? apiKeyDigest(key) : '';
  const cached = valid ? keys.cached(digest) : undefined;
  if (cached !== undefined) return cached;
  const found = valid ? await keys.lookup(digest) : 'unknown';
  if (typeof found !== 'string') return found;
  const blockedMs = throttle.blockedFor(clientIp) || (await throttle.fail(clientIp));
  if (blockedMs > 0) throw tooManyFailures(blockedMs, BLOCKED);
  throw invalidApiKey(found === 'expired' ? 'expired' : 'unknown key');
}
