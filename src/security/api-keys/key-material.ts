/** API key material: random keys shown once, their SHA-256 digest as the only stored form, and key ids. */
import { hash, randomBytes } from 'node:crypto';

/** The header an API key travels in. */
export const API_KEY_HEADER = 'x-api-key';

/**
 * Keys carry 256 random bits behind a fixed prefix: the prefix lets secret scanners (and people) recognise
 * a leaked edgeway key, and 256 bits puts guessing out of reach of any throttle-free attacker.
 */
const KEY_PREFIX = 'ewk_';
const KEY_BYTES = 32;

/** Every key edgeway issues: the prefix and 32 bytes in base64url (43 characters). */
const KEY_FORMAT = /^ewk_[A-Za-z0-9_-]{43}$/;

/** Whether `text` is spelled like a key edgeway issued; anything else is refused without a store read. */
export function looksLikeApiKey(text: string): boolean {
  return KEY_FORMAT.test(text);
}

/** A new key and its id; the key is returned to the caller once and never stored. */
export interface NewApiKey {
  readonly id: string;
  readonly key: string;
  readonly digest: string;
}

/**
 * The stored form of a key. SHA-256 without salt, on purpose: a salt or a slow hash (bcrypt, scrypt)
 * defends low-entropy passwords against offline guessing, which 256 random bits already defeat; an
 * unsalted digest is deterministic, so it is the lookup key itself (one hash-table read, no scan) and
 * costs about a microsecond per request where bcrypt would cost tens of milliseconds. Computed on every
 * keyed request; the one-shot hash skips createHash's Hash object.
 */
export function apiKeyDigest(key: string): string {
  return hash('sha256', key, 'base64url');
}

/** A fresh key with a random id (`ak_` and 16 hex digits; not secret, it names the key in lists and logs). */
export function newApiKey(random: (bytes: number) => Buffer = randomBytes): NewApiKey {
  const key = `${KEY_PREFIX}${random(KEY_BYTES).toString('base64url')}`;
  return { id: `ak_${random(8).toString('hex')}`, key, digest: apiKeyDigest(key) };
}

/** Whether `id` is spelled like a key id (checked before it reaches Redis or a URL). */
export function isApiKeyId(id: string): boolean {
  return /^ak_[0-9a-f]{16}$/.test(id);
}
