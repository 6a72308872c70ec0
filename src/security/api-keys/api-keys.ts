/** API keys beside JWTs: issue (shown once), list, revoke everywhere, and the request-path lookup with its cache. */
import type { Principal } from '../../request/context.js';
import type { StoreBackend } from '../../store/backend.js';
import { isScopeToken } from '../scopes.js';
import { TokenCache } from '../token-cache.js';
import { isApiKeyId, newApiKey } from './key-material.js';
import { apiKeyRecords, type ApiKeyRecord, type ApiKeyRecords } from './records.js';

export type { ApiKeyRecord } from './records.js';

/** What `issue` takes; a missing `ttlMs` issues a key that never expires. */
export interface IssueApiKeyRequest {
  readonly consumer: string;
  readonly scopes: readonly string[];
  readonly ttlMs?: number;
}

/** A freshly issued key: the only time `key` is ever seen. */
export interface IssuedApiKey extends ApiKeyRecord {
  readonly key: string;
}

/** Why a presented key does not authenticate. */
export type ApiKeyRefusal = 'unknown' | 'expired';

/** Consumer ids become `x-edgeway-sub` and rate-limit keys: a printable subset, like client ids. */
const CONSUMER = /^[A-Za-z0-9._~@:+-]{1,128}$/;

/** Options; defaults suit production. */
export interface ApiKeysOptions {
  readonly now?: () => number;
  readonly onError?: (err: unknown) => void;
  /** Keys whose lookup is remembered in this process. Default 10 000. */
  readonly cacheSize?: number;
}

/** The API keys the gateway, the admin API and the CLI share. */
export class ApiKeys {
  readonly #records: ApiKeyRecords;
  readonly #now: () => number;
  readonly #cacheSize: number;
  #cache: TokenCache;
  /**
   * Bumped on every revocation or reset this process hears of. A lookup that was in flight while one
   * arrived does not cache its answer: Redis may have sent the record before the revocation removed it.
   */
  #epoch = 0;

  private constructor(records: ApiKeyRecords, options: ApiKeysOptions) {
    this.#records = records;
    this.#now = options.now ?? Date.now;
    this.#cacheSize = options.cacheSize ?? 10_000;
    this.#cache = new TokenCache(this.#cacheSize, this.#now);
  }

  /** Opens the key store of `backend` and follows revocations made anywhere. */
  static async open(backend: StoreBackend, options: ApiKeysOptions = {}): Promise<ApiKeys> {
    const keys = new ApiKeys(apiKeyRecords(backend, options.onError), options);
    await keys.#records.watch({
      revoked: (id) => {
        keys.#epoch += 1;
        keys.#cache.dropJti(id);
      },
      reset: () => {
        keys.#epoch += 1;
        keys.#cache = new TokenCache(keys.#cacheSize, keys.#now);
      },
    });
    return keys;
  }

  /** Creates a key for `consumer`; RangeError on a bad consumer, scope or ttl. */
  async issue(request: IssueApiKeyRequest): Promise<IssuedApiKey> {
    if (!CONSUMER.test(request.consumer))
      throw new RangeError('consumer must be 1 to 128 of A-Z a-z 0-9 . _ ~ @ : + -');
    const bad = request.scopes.find((scope) => !isScopeToken(scope));
    if (bad !== undefined) throw new RangeError(`invalid scope "${bad}"`);
    if (request.ttlMs !== undefined && !(Number.isFinite(request.ttlMs) && request.ttlMs > 0))
      throw new RangeError('ttl must be a positive duration');
    const createdAt = this.#now();
    const expiresAt = request.ttlMs === undefined ? null : createdAt + request.ttlMs;
    for (;;) {
      const { id, key, digest } = newApiKey();
      const stored = {
        id,
        consumer: request.consumer,
        scopes: [...request.scopes],
        createdAt,
        expiresAt,
      };
      if (await this.#records.insert({ ...stored, digest })) return { ...stored, key };
    }
  }

  /** Every stored key (never the key or its digest), oldest first. */
  async list(): Promise<ApiKeyRecord[]> {
    return (await this.#records.all()).sort(
      (a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id),
    );
  }

  /** Revokes a key on every gateway; false when there is no such key. */
  async revoke(id: string): Promise<boolean> {
    if (!isApiKeyId(id)) return false;
    const removed = await this.#records.remove(id);
    // This process may not hear its own message before its next request (memory mode has none at all).
    this.#epoch += 1;
    this.#cache.dropJti(id);
    return removed;
  }

  /** The principal of a key this process verified recently and that is still valid, without I/O. */
  cached(digest: string): Principal | undefined {
    return this.#cache.get(digest)?.principal;
  }

  /** Looks the key with this digest up in the store; the principal, or why it does not authenticate. */
  async lookup(digest: string): Promise<Principal | ApiKeyRefusal> {
    const epoch = this.#epoch;
    const found = await this.#records.find(digest);
    if (found === undefined) return 'unknown';
    const expiresAt = found.expiresAt ?? Number.POSITIVE_INFINITY;
    if (expiresAt <= this.#now()) return 'expired';
    const principal: Principal = Object.freeze({
      sub: found.consumer,
      scopes: found.scopes,
      claims: Object.freeze({}),
    });
    if (epoch === this.#epoch) this.#cache.set(digest, { principal, expiresAt, jti: found.id });
    return principal;
  }

  async close(): Promise<void> {
    await this.#records.close();
  }
}
