/** edgeway's own signing keys: a ring of next, current and retiring keys, rotation, restore after a store wipe, and the public JWKS. */
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
  type JSONWebKeySet,
} from 'jose';
import type { KeyRecord, KeyRecordStore, KeyState, SigningAlgorithm } from './key-records.js';

/** A key as anyone may see it: no private part. */
export interface KeyInfo {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly createdAt: number;
  readonly state: KeyState;
  /** Whether it signs new tokens (state `current`). */
  readonly current: boolean;
  /** ms since epoch when a retiring or revoked key is dropped. */
  readonly retireAfter?: number;
}

/** The current key, ready to sign. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly key: CryptoKey;
}

/** Options of a key ring. */
export interface SigningKeysOptions {
  /** Algorithm of newly generated keys. Default ES256. */
  readonly algorithm?: SigningAlgorithm;
  /** Longest TTL a token may have: how long a replaced key keeps verifying. */
  readonly maxTokenTtlMs: number;
  readonly now?: () => number;
  /** Reports a failed background reload; the previous keys stay in use. */
  readonly onError?: (err: unknown) => void;
}

interface LoadedKey {
  readonly info: KeyInfo;
  readonly record: KeyRecord;
  readonly publicJwk: JWK;
  readonly verify: CryptoKey;
  readonly sign: CryptoKey;
}

/** Restore order: a current key first, so it stays current when the store has none. */
const RESTORE_ORDER: Record<KeyState, number> = { current: 0, next: 1, retiring: 2, revoked: 3 };

/** RFC 7517/7518: the public members of an EC or OKP key; everything else (notably `d`) is private. */
function publicPart(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x };
}

async function generate(
  alg: SigningAlgorithm,
): Promise<{ kid: string; alg: SigningAlgorithm; privateJwk: JWK }> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const privateJwk = await exportJWK(privateKey);
  // RFC 7638 thumbprint: a kid derived from the key itself, unique without coordination.
  const kid = await calculateJwkThumbprint(publicPart(privateJwk));
  return { kid, alg, privateJwk };
}

/**
 * The key ring every gateway and CLI shares through its store. It holds the imported keys in memory,
 * reloads them when the store reports a change (another instance rotated), and drops keys whose
 * `retireAfter` has passed. The next key is published before it signs: `rotate` promotes a key that
 * verifiers caching the JWKS have already fetched. Keys the store lost (a Redis restarted without
 * persistence) but this process still holds are written back on the next reload.
 */
export class SigningKeys {
  readonly #store: KeyRecordStore;
  readonly #algorithm: SigningAlgorithm;
  readonly #maxTokenTtlMs: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  #keys = new Map<string, LoadedKey>();
  #reloading: Promise<void> = Promise.resolve();

  private constructor(store: KeyRecordStore, options: SigningKeysOptions) {
    this.#store = store;
    this.#algorithm = options.algorithm ?? 'ES256';
    this.#maxTokenTtlMs = options.maxTokenTtlMs;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Opens the ring: creates a current and a next key when missing, loads all, and follows changes. */
  static async open(store: KeyRecordStore, options: SigningKeysOptions): Promise<SigningKeys> {
    const ring = new SigningKeys(store, options);
    await ring.#ensure();
    await ring.reload();
    await store.watch(() => {
      ring.reload().catch(ring.#onError);
    });
    return ring;
  }

  /** Every key still in the ring (next, current, retiring, revoked), newest first. */
  list(): KeyInfo[] {
    return [...this.#live()].map((k) => k.info).sort((a, b) => b.createdAt - a.createdAt);
  }

  /** The key new tokens are signed with. */
  current(): KeyInfo {
    return this.#currentKey().info;
  }

  /** The current key with its private part, for tokens.ts. */
  signingKey(): SigningKey {
    const { info, sign } = this.#currentKey();
    return { kid: info.kid, alg: info.alg, key: sign };
  }

  /** The public key for `kid`, unless it is unknown, retired or revoked. */
  verificationKey(kid: string | undefined): CryptoKey | undefined {
    if (kid === undefined) return undefined;
    const key = this.#keys.get(kid);
    return key !== undefined && this.#isLive(key) && key.info.state !== 'revoked'
      ? key.verify
      : undefined;
  }

  /**
   * Makes the published next key current (new tokens carry its kid at once) and publishes a new next
   * key; the previous current key verifies until `rotation + maxTokenTtl`.
   */
  async rotate(): Promise<KeyInfo> {
    await this.#store.change(
      { mode: 'rotate', key: await generate(this.#algorithm) },
      this.#maxTokenTtlMs,
    );
    return this.#settle();
  }

  /**
   * Emergency rotation for a leaked key: every key stops verifying at once (all outstanding tokens
   * are refused) and a new key, not published before, signs from now on.
   */
  async revokeAll(): Promise<KeyInfo> {
    await this.#store.change(
      { mode: 'revoke', key: await generate(this.#algorithm) },
      this.#maxTokenTtlMs,
    );
    return this.#settle();
  }

  /** RFC 7517 JWK Set of the public keys that verify or will: next, current and retiring. */
  jwks(): JSONWebKeySet {
    const published = [...this.#live()].filter((k) => k.info.state !== 'revoked');
    return {
      keys: published.map((k) => ({
        ...k.publicJwk,
        kid: k.info.kid,
        alg: k.info.alg,
        use: 'sig',
      })),
    };
  }

  /** Re-reads the store; reloads run one after another so an older read never wins. */
  reload(): Promise<void> {
    const next = this.#reloading.then(() => this.#load());
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.#store.close();
  }

  async #settle(): Promise<KeyInfo> {
    await this.#ensure();
    await this.reload();
    return this.current();
  }

  /** Fills the ring's gaps (a current key, then a next key); each step adds at most one key. */
  async #ensure(): Promise<void> {
    for (let step = 0; step < 3; step += 1) {
      if (
        (await this.#store.change(
          { mode: 'ensure', key: await generate(this.#algorithm) },
          this.#maxTokenTtlMs,
        )) === 0
      )
        return;
    }
  }

  async #load(): Promise<void> {
    let records = await this.#store.load();
    const stored = new Set(records.map((r) => r.kid));
    const lost = [...this.#live()]
      .filter((k) => !stored.has(k.info.kid))
      .sort((a, b) => RESTORE_ORDER[a.info.state] - RESTORE_ORDER[b.info.state]);
    if (lost.length > 0) {
      // The store forgot keys that tokens in circulation are signed with: put them back rather than strand those tokens.
      for (const key of lost)
        await this.#store.change({ mode: 'restore', key: key.record }, this.#maxTokenTtlMs);
      await this.#ensure();
      records = await this.#store.load();
    }
    const keys = new Map<string, LoadedKey>();
    for (const record of records) keys.set(record.kid, await this.#import(record));
    this.#keys = keys;
  }

  async #import(record: KeyRecord): Promise<LoadedKey> {
    const info: KeyInfo = {
      kid: record.kid,
      alg: record.alg,
      createdAt: record.createdAt,
      state: record.state,
      current: record.state === 'current',
      ...(record.retireAfter !== undefined ? { retireAfter: record.retireAfter } : {}),
    };
    const known = this.#keys.get(record.kid);
    if (known !== undefined) return { ...known, info, record };
    const publicJwk = publicPart(record.privateJwk);
    const verify = (await importJWK(publicJwk, record.alg)) as CryptoKey;
    const sign = (await importJWK(record.privateJwk, record.alg)) as CryptoKey;
    return { info, record, publicJwk, verify, sign };
  }

  #isLive(key: LoadedKey): boolean {
    return key.info.retireAfter === undefined || key.info.retireAfter > this.#now();
  }

  *#live(): Iterable<LoadedKey> {
    for (const key of this.#keys.values()) if (this.#isLive(key)) yield key;
  }

  #currentKey(): LoadedKey {
    let newest: LoadedKey | undefined;
    for (const key of this.#keys.values()) {
      if (
        key.info.state === 'current' &&
        (newest === undefined || key.info.createdAt > newest.info.createdAt)
      )
        newest = key;
    }
    if (newest === undefined) throw new Error('no current signing key');
    return newest;
  }
}
