/** A bounded LRU of verified tokens, keyed by the token's SHA-256, so a repeated token costs no signature check. */
import { hash } from 'node:crypto';
import type { Principal } from '../request/context.js';

/** A verified token as cached: who it is, when it expires (ms since epoch) and its jti for revocation. */
export interface CachedToken {
  readonly principal: Principal;
  readonly expiresAt: number;
  readonly jti: string | undefined;
  /** The kid of edgeway's own key that signed it, checked on every hit (an emergency rotation revokes it). */
  readonly ownKid?: string;
}

/**
 * The cache key of a token: its SHA-256, so the cache never holds bearer credentials themselves. Computed on
 * every authenticated request; the one-shot hash skips createHash's Hash object.
 */
export function tokenDigest(token: string): string {
  return hash('sha256', token, 'base64url');
}

/** A cached entry and its place in the Map's insertion order. */
interface Slot {
  readonly entry: CachedToken;
  /** The insertion count when it was last (re)inserted. */
  insertedAt: number;
}

/**
 * LRU over a Map (insertion order = recency); entries die with their token or on revocation. A hit moves an
 * entry to the newest end only once it has fallen into the older half of the order: until then at least
 * max/2 insertions must come before it could be evicted, and a hit stays a lookup (moving it on every hit
 * made each one a Map delete and insert, whose deleted slots cost the Map a rebuild every few hits).
 */
export class TokenCache {
  readonly #max: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Slot>();
  readonly #byJti = new Map<string, Set<string>>();
  #insertions = 0;

  constructor(maxEntries = 10_000, now: () => number = Date.now) {
    this.#max = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached verification of the token with this digest, unless expired. */
  get(digest: string): CachedToken | undefined {
    const slot = this.#entries.get(digest);
    if (slot === undefined) return undefined;
    if (slot.entry.expiresAt <= this.#now()) {
      this.#delete(digest, slot.entry);
      return undefined;
    }
    if (this.#insertions - slot.insertedAt >= this.#max / 2) {
      this.#entries.delete(digest);
      slot.insertedAt = ++this.#insertions;
      this.#entries.set(digest, slot);
    }
    return slot.entry;
  }

  set(digest: string, entry: CachedToken): void {
    const previous = this.#entries.get(digest);
    if (previous !== undefined) this.#delete(digest, previous.entry);
    this.#entries.set(digest, { entry, insertedAt: ++this.#insertions });
    if (entry.jti !== undefined) {
      const digests = this.#byJti.get(entry.jti) ?? new Set<string>();
      digests.add(digest);
      this.#byJti.set(entry.jti, digests);
    }
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#delete(oldest.value, (this.#entries.get(oldest.value) as Slot).entry);
    }
  }

  /** Forgets every cached token with this jti (called when it is revoked). */
  dropJti(jti: string): void {
    for (const digest of this.#byJti.get(jti) ?? []) this.#entries.delete(digest);
    this.#byJti.delete(jti);
  }

  #delete(digest: string, entry: CachedToken): void {
    this.#entries.delete(digest);
    if (entry.jti === undefined) return;
    const digests = this.#byJti.get(entry.jti);
    digests?.delete(digest);
    if (digests?.size === 0) this.#byJti.delete(entry.jti);
  }
}
