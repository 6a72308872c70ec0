/** Verifies bearer JWTs against the configured issuers: header policy, signature, iss, aud, exp, nbf. */
import type { KeyObject } from 'node:crypto';
import { errors, type CryptoKey, type FlattenedJWSInput, type JWSHeaderParameters } from 'jose';
import type { Config } from '../config/schema.js';
import type { Principal } from '../request/context.js';
import { GatewayError } from '../errors.js';
import { invalidToken } from './auth-errors.js';
import { scopesOf } from './scopes.js';
import { KeyMismatchError, decodeJws, keyFor, verifySignature, type JwsAlgorithm } from './jws.js';
import {
  KeyRefreshPendingError,
  KeysUnavailableError,
  RemoteKeySet,
  type RemoteKeySetOptions,
} from './remote-jwks.js';
import type { SigningKeys } from './signing-keys.js';
import { EDGEWAY_ISSUER, MAX_TOKEN_TTL_MS } from './tokens.js';

/** The `auth` section of the config. */
export type AuthConfig = Config['auth'];

/** A verified token: who, until when (ms since epoch), and its jti for revocation. */
export interface VerifiedToken {
  readonly principal: Principal;
  readonly expiresAt: number;
  readonly jti: string | undefined;
  /** The kid of edgeway's own key that signed it; a cached verdict holds only while that key is not revoked. */
  readonly ownKid?: string;
}

/** What a verifier is built from besides the config. */
export interface VerifierDeps {
  /** edgeway's own key ring; required when an issuer entry is edgeway's. */
  readonly ownKeys?: SigningKeys;
  readonly now?: () => number;
  /** Tuning of every remote JWKS (cool-down, max age, timeout); `now` is shared. */
  readonly remote?: Omit<RemoteKeySetOptions, 'now'>;
  /** Supplies the key set of a jwksUri; pass a memoizing one so a config reload keeps fetched keys. */
  readonly remoteKeySet?: (jwksUri: string) => RemoteKeySet;
}

type KeyResolver = (
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
) => CryptoKey | Promise<CryptoKey>;

interface IssuerEntry {
  readonly audience: readonly string[];
  readonly resolve: KeyResolver;
  /** Latest acceptable `exp` relative to now, ms: edgeway's own tokens never outlive MAX_TOKEN_TTL_MS, a remote IdP's MAX_REMOTE_TOKEN_LIFETIME_MS. */
  readonly maxLifetimeMs: number;
  /** edgeway's own issuer, verified with its key ring. */
  readonly own: boolean;
}

/**
 * Latest acceptable `exp` of a remote IdP's token, relative to now: 30 days, the longest access-token
 * lifetime common IdPs allow. A far-future (1e300) or non-finite (1e400 parses as Infinity) exp would
 * otherwise keep a cached verdict and a WebSocket open for good.
 */
const MAX_REMOTE_TOKEN_LIFETIME_MS = 30 * 86_400_000;

/**
 * Headers that carry or point at a key (RFC 7515 4.1.2-4.1.6). Trusting them lets the token choose
 * its own key, so a token that carries any of them is refused outright.
 */
const KEY_BEARING_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

/** Built once per config; `verify` is the request-path call. */
export class TokenVerifier {
  readonly #issuers = new Map<string, IssuerEntry>();
  readonly #algorithms: ReadonlySet<JwsAlgorithm>;
  readonly #clockToleranceSec: number;
  readonly #now: () => number;

  constructor(auth: AuthConfig, deps: VerifierDeps = {}) {
    this.#algorithms = new Set(auth.algorithms);
    this.#clockToleranceSec = auth.clockSkew / 1000;
    this.#now = deps.now ?? Date.now;
    for (const entry of auth.issuers) {
      this.#issuers.set(entry.issuer, {
        audience: typeof entry.audience === 'string' ? [entry.audience] : [...entry.audience],
        resolve: this.#resolverFor(entry.issuer, entry.jwksUri, deps),
        own: entry.issuer === EDGEWAY_ISSUER && entry.jwksUri === undefined,
        maxLifetimeMs:
          entry.issuer === EDGEWAY_ISSUER && entry.jwksUri === undefined
            ? MAX_TOKEN_TTL_MS + auth.clockSkew
            : MAX_REMOTE_TOKEN_LIFETIME_MS + auth.clockSkew,
      });
    }
  }

  /** Verifies a compact JWT; throws 401 `invalid_token` GatewayErrors (503 when an IdP's keys are unreachable). */
  async verify(token: string): Promise<VerifiedToken> {
    const jws = decodeJws(token);
    if (jws === undefined) throw invalidToken('malformed token');
    const { header, payload } = jws;
    const carried = KEY_BEARING_HEADERS.find((name) => name in header);
    if (carried !== undefined) throw invalidToken(`the ${carried} header is not accepted`);
    // RFC 7515 4.1.11: extensions named in crit must be understood; edgeway understands none.
    if ('crit' in header) throw invalidToken('the crit header is not accepted');
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.#algorithms.has(alg as JwsAlgorithm))
      throw invalidToken('algorithm not allowed');
    const iss = payload.iss;
    const issuer = typeof iss === 'string' ? this.#issuers.get(iss) : undefined;
    if (issuer === undefined) throw invalidToken('unknown issuer');

    let key: KeyObject;
    try {
      const resolved = issuer.resolve(header as JWSHeaderParameters, {
        protected: jws.protectedPart,
        payload: jws.payloadPart,
        signature: jws.signaturePart,
      });
      key = keyFor(resolved instanceof Promise ? await resolved : resolved, alg as JwsAlgorithm);
    } catch (err) {
      throw describe(err);
    }
    if (!verifySignature(jws, alg as JwsAlgorithm, key))
      throw invalidToken('signature verification failed');
    const nowMs = this.#now();
    const problem = claimsProblem(payload, issuer.audience, nowMs, this.#clockToleranceSec);
    if (problem !== undefined) throw invalidToken(problem);
    const { sub, exp, jti } = payload as { sub: string; exp: number; jti?: unknown };
    // A longer-lived edgeway token was not issued by the token API; a remote one's far-future exp would never lapse.
    if (exp * 1000 - nowMs > issuer.maxLifetimeMs)
      throw invalidToken(`token lifetime exceeds the ${issuer.own ? '24h' : '30d'} maximum`);
    const claims = Object.freeze(payload);
    return {
      principal: Object.freeze({ sub, scopes: Object.freeze(scopesOf(claims)), claims }),
      expiresAt: exp * 1000,
      jti: typeof jti === 'string' ? jti : undefined,
      ...(issuer.own && typeof header.kid === 'string' ? { ownKid: header.kid } : {}),
    };
  }

  #resolverFor(issuer: string, jwksUri: string | undefined, deps: VerifierDeps): KeyResolver {
    if (jwksUri !== undefined) {
      const remote =
        deps.remoteKeySet?.(jwksUri) ??
        new RemoteKeySet(jwksUri, { ...deps.remote, now: this.#now });
      return remote.resolve;
    }
    const ownKeys = deps.ownKeys;
    if (issuer !== EDGEWAY_ISSUER || ownKeys === undefined) {
      throw new Error(`issuer "${issuer}" has no jwksUri and is not edgeway's own issuer`);
    }
    return (header) => {
      const key = ownKeys.verificationKey(header.kid);
      if (key === undefined) throw new errors.JWKSNoMatchingKey();
      return key;
    };
  }
}

/**
 * The RFC 7519 4.1 checks jose's jwtVerify made, in its order, once the signature holds: iss, aud, sub and exp
 * present; aud names this issuer's audience; iat, nbf and exp are finite numbers; nbf and exp hold within
 * the clock tolerance. RFC 7519 4.1.2: an empty sub names nobody and would reach the upstream as such.
 */
function claimsProblem(
  payload: Readonly<Record<string, unknown>>,
  audience: readonly string[],
  nowMs: number,
  toleranceSec: number,
): string | undefined {
  if (!Object.hasOwn(payload, 'aud')) return 'wrong audience';
  if (!Object.hasOwn(payload, 'sub')) return 'missing sub claim';
  // A token without exp would be valid forever.
  if (!Object.hasOwn(payload, 'exp')) return 'missing exp claim';
  const aud = payload.aud;
  const audienceMatches =
    typeof aud === 'string'
      ? audience.includes(aud)
      : Array.isArray(aud) && audience.some((name) => aud.includes(name));
  if (!audienceMatches) return 'wrong audience';
  const { iat, nbf, exp, sub } = payload;
  if (iat !== undefined && !isNumericDate(iat)) return 'invalid iat claim';
  if (nbf !== undefined && !isNumericDate(nbf)) return 'invalid nbf claim';
  const now = Math.floor(nowMs / 1000);
  if (nbf !== undefined && (nbf as number) > now + toleranceSec) return 'token not yet valid';
  if (!isNumericDate(exp)) return 'invalid exp claim';
  if (exp <= now - toleranceSec) return 'token expired';
  if (typeof sub !== 'string' || sub.length === 0) return 'empty sub claim';
  return undefined;
}

/** RFC 7519 2 NumericDate; JSON's 1e400 parses to Infinity, which is no date. */
function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Maps a key resolution failure to the answer the client gets; the reason goes into the error body's message. */
function describe(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof KeysUnavailableError) {
    return new GatewayError(
      'unavailable',
      "the token issuer's signing keys are unavailable",
      [['retry-after', '5']],
      { cause: err },
    );
  }
  if (err instanceof KeyRefreshPendingError) {
    // RFC 9110 15.6.4: temporary; Retry-After says when the key set will have been looked at again.
    const seconds = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    return new GatewayError(
      'unavailable',
      "the token's signing key is not known yet; the issuer's keys are fetched again shortly",
      [['retry-after', seconds]],
      { cause: err },
    );
  }
  if (err instanceof errors.JWKSNoMatchingKey) return invalidToken('no key matches the token', err);
  if (err instanceof KeyMismatchError)
    return invalidToken('the key does not fit the algorithm', err);
  return invalidToken('invalid token', err);
}
