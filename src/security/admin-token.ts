/** Checks the admin API's bearer token in constant time, without ever logging it. */
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A checker for one configured admin token. Both sides are hashed to SHA-256 first, so the
 * comparison takes the same time whatever the length or content of the presented value.
 */
export function adminTokenChecker(
  expected: string,
): (authorization: string | undefined) => boolean {
  if (expected.length === 0) throw new RangeError('the admin token must not be empty');
  const expectedDigest = createHash('sha256').update(expected).digest();
  return function isAdmin(authorization) {
    const match = /^bearer +(.+)$/i.exec((authorization ?? '').trim());
    const presented = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest();
    return timingSafeEqual(presented, expectedDigest) && match !== null;
  };
}
