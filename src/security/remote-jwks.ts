/** A remote JWKS with stale-while-revalidate, stale-if-error and a refetch cool-down that bounds IdP load. */
import {
  createLocalJWKSet,
  errors,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type FlattenedJWSInput,
  type CryptoKey,
} from 'jose';

/** Tuning of a remote key set; every duration in milliseconds. */
export interface RemoteKeySetOptions {
  /** Keys older than this are refreshed in the background while still in use. Default 10 min. */
  readonly maxAge?: number;
  /** Minimum gap between two fetches (successful or not), whatever tokens arrive. Default 30 s. */
  readonly cooldown?: number;
  /** Per-fetch timeout. Default 5 s. */
  readonly timeout?: number;
  /** Injected clock (ms since epoch). */
  readonly now?: () => number;
  /** Called when a background refresh fails (the last good keys stay in use). */
  readonly onError?: (err: unknown) => void;
}

/** Largest JWKS document accepted, so a hostile endpoint cannot make the gateway buffer without limit. */
const MAX_JWKS_BYTES = 512 * 1024;

/** Most unknown kids remembered (awaiting a refresh, or known to be missing); beyond it they count as missing. */
const MAX_TRACKED_KIDS = 1024;

type Resolver = ReturnType<typeof createLocalJWKSet>;

/** No key set has ever been fetched (the IdP is down or answers garbage): not the token's fault. */
export class KeysUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`the JWKS at ${url} could not be fetched`, { cause });
    this.name = 'KeysUnavailableError';
  }
}

/**
 * The token names a kid the cached keys lack, and the cool-down forbids a refresh right now: it may be
 * a key the IdP just rotated in, so it is neither valid nor known to be forged until the refresh.
 */
export class KeyRefreshPendingError extends Error {
  readonly retryAfterMs: number;

  constructor(kid: string, retryAfterMs: number) {
    super(`kid "${kid}" is not in the cached key set; it is looked for at the next refresh`);
    this.name = 'KeyRefreshPendingError';
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * jose's createRemoteJWKSet drops to an error as soon as its cache is older than cacheMaxAge and the
 * IdP is down, and its cool-down only counts successful fetches, so a flood of unknown kids during an
 * outage fetches on every token. This wrapper keeps jose's key selection (createLocalJWKSet) and owns
 * the fetching: one fetch in flight at a time, at most one per cool-down, and the last good keys serve
 * until a fetch succeeds.
 */
export class RemoteKeySet {
  readonly #url: string;
  readonly #maxAge: number;
  readonly #cooldown: number;
  readonly #timeout: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  #local: Resolver | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;
  /** Unknown kids waiting for a refresh. */
  readonly #awaited = new Set<string>();
  /** Unknown kids that a refresh begun after their first sighting did not find. */
  readonly #missing = new Set<string>();

  constructor(url: string, options: RemoteKeySetOptions = {}) {
    this.#url = new URL(url).href;
    this.#maxAge = options.maxAge ?? 600_000;
    this.#cooldown = options.cooldown ?? 30_000;
    this.#timeout = options.timeout ?? 5_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** The jose key resolver for `jwtVerify`. */
  readonly resolve = async (
    header: JWSHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<CryptoKey> => {
    if (this.#local === undefined) {
      await this.#refresh().catch((err: unknown) => {
        throw new KeysUnavailableError(this.#url, err);
      });
    } else if (this.#now() - this.#fetchedAt >= this.#maxAge && this.#mayFetch()) {
      // Stale-while-revalidate: this token verifies with the cached keys while the refresh runs.
      this.#refresh().catch(this.#onError);
    }
    const local = this.#local;
    if (local === undefined) throw new errors.JWKSNoMatchingKey();
    try {
      return await local(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      if (this.#mayFetch()) {
        // An unknown kid may be a key the IdP just rotated in: look now, then cool down.
        await this.#refresh().catch(this.#onError);
        return (this.#local ?? local)(header, token);
      }
      const kid = header.kid;
      if (
        kid === undefined ||
        this.#missing.has(kid) ||
        (!this.#awaited.has(kid) && this.#awaited.size >= MAX_TRACKED_KIDS)
      )
        throw err;
      // Not known to be forged until the next refresh looks for it: the caller must not count it as an attack.
      this.#awaited.add(kid);
      throw new KeyRefreshPendingError(kid, this.#attemptedAt + this.#cooldown - this.#now());
    }
  };

  /** The cached key set, if any fetch has succeeded. */
  jwks(): JSONWebKeySet | undefined {
    return this.#local?.jwks();
  }

  #mayFetch(): boolean {
    return this.#pending !== undefined || this.#now() - this.#attemptedAt >= this.#cooldown;
  }

  /** One fetch at a time; concurrent callers share it. Rejects when the fetch fails. */
  #refresh(): Promise<void> {
    if (this.#pending !== undefined) return this.#pending;
    if (this.#now() - this.#attemptedAt < this.#cooldown) {
      return Promise.reject(new Error('JWKS fetch cooling down after a failed attempt'));
    }
    this.#attemptedAt = this.#now();
    const pending = this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    this.#pending = pending;
    return pending;
  }

  async #fetch(): Promise<void> {
    const response = await fetch(this.#url, {
      method: 'GET',
      // A JWKS redirect could point key trust anywhere; refuse to follow it.
      redirect: 'manual',
      headers: { accept: 'application/json, application/jwk-set+json' },
      signal: AbortSignal.timeout(this.#timeout),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`JWKS ${this.#url} answered ${response.status}`);
    }
    if (Number(response.headers.get('content-length') ?? 0) > MAX_JWKS_BYTES) {
      await response.body?.cancel();
      throw new Error(`JWKS ${this.#url} is larger than ${MAX_JWKS_BYTES} bytes`);
    }
    const set = JSON.parse(await boundedText(response, this.#url)) as JSONWebKeySet;
    const local = createLocalJWKSet(set);
    this.#local = local;
    this.#fetchedAt = this.#now();
    this.#settleUnknownKids(new Set(set.keys.map((key) => key.kid)));
  }

  /**
   * After a fetch: kids it found are forgotten, awaited kids it did not find are now missing. Every
   * awaited kid was seen before the fetch began: while one is in flight, unknown kids wait for it.
   */
  #settleUnknownKids(found: ReadonlySet<string | undefined>): void {
    for (const kid of this.#missing) if (found.has(kid)) this.#missing.delete(kid);
    for (const kid of this.#awaited)
      if (!found.has(kid) && this.#missing.size < MAX_TRACKED_KIDS) this.#missing.add(kid);
    this.#awaited.clear();
  }
}

/**
 * The body as UTF-8 text, refused once it passes MAX_JWKS_BYTES bytes: a chunked body has no declared
 * length, and buffering it whole before measuring would let it grow without limit.
 */
async function boundedText(response: Response, url: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = response.body?.getReader();
  for (;;) {
    const chunk = await reader?.read();
    if (chunk === undefined || chunk.done) break;
    bytes += chunk.value.byteLength;
    if (bytes > MAX_JWKS_BYTES) {
      await reader?.cancel();
      throw new Error(`JWKS ${url} is larger than ${MAX_JWKS_BYTES} bytes`);
    }
    chunks.push(chunk.value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
