/** Client secrets: generated at random, stored only as a salted scrypt hash, compared in constant time. */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** A stored secret hash with the parameters that made it, so they can be raised later. */
export interface SecretHash {
  readonly salt: string;
  readonly hash: string;
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** scrypt cost: N=2^14, r=8, p=1 (the RFC 7914 interactive-login figure; ~16 MiB, tens of ms). */
const PARAMS = { N: 16_384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function derive(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err === null ? resolve(key) : reject(err),
    );
  });
}

/** A new random secret: 32 bytes, base64url (43 characters). */
export function newSecret(random: (bytes: number) => Buffer = randomBytes): string {
  return random(32).toString('base64url');
}

/** Hashes `secret` with a fresh 16-byte salt. */
export async function hashSecret(
  secret: string,
  random: (bytes: number) => Buffer = randomBytes,
): Promise<SecretHash> {
  const salt = random(16);
  const hash = await derive(secret, salt, PARAMS);
  return { salt: salt.toString('base64url'), hash: hash.toString('base64url'), ...PARAMS };
}

/** A hash no real secret matches, checked for unknown clients so their answer takes as long as a known one's. */
let decoy: Promise<SecretHash> | undefined;

/** Whether `secret` matches `stored` (or, with no stored hash, false after the same work). */
export async function secretMatches(
  secret: string,
  stored: SecretHash | undefined,
): Promise<boolean> {
  decoy ??= hashSecret(newSecret());
  const target = stored ?? (await decoy);
  const expected = Buffer.from(target.hash, 'base64url');
  const actual = await derive(secret, Buffer.from(target.salt, 'base64url'), {
    N: target.N,
    r: target.r,
    p: target.p,
  });
  return (
    actual.length === expected.length && timingSafeEqual(actual, expected) && stored !== undefined
  );
}
