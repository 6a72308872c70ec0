/** Verifies bearer JWTs against the configured issuers: header policy, signature, iss, aud, exp, nbf. */
import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTPayload,
} from 'jose';
import type { Config } from '../config/schema.js';
import type { Principal } from '../request/context.js';
import { GatewayError } from '../errors.js';
import { invalidToken } from './auth-errors.js';
import { scopesOf } from './scopes.js';
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
  readonly audience: string | string[];
  readonly resolve: KeyResolver;
  /** Latest acceptable `exp` relative to now, ms: bounded for edgeway's own tokens, which never outlive MAX_TOKEN_TTL_MS. */
  readonly maxLifetimeMs: number;
  /** edgeway's own issuer, verified with its key ring. */
  readonly own: boolean;
}

/**
 * Headers that carry or point at a key (RFC 7515 4.1.2-4.1.6). Trusting them lets the token choose
 * its own key, so a token that carries any of them is refused outright.
 */
const KEY_BEARING_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

/** Built once per config; `verify` is the request-path call. */
export class TokenVerifier {
  readonly #issuers = new Map<string, IssuerEntry>();
  readonly #algorithms: string[];
  readonly #clockToleranceSec: number;
  readonly #now: () => number;

  constructor(auth: AuthConfig, deps: VerifierDeps = {}) {
    this.#algorithms = [...auth.algorithms];
    this.#clockToleranceSec = auth.clockSkew / 1000;
    this.#now = deps.now ?? Date.now;
    for (const entry of auth.issuers) {
      this.#issuers.set(entry.issuer, {
        audience: typeof entry.audience === 'string' ? entry.audience : [...entry.audience],
        resolve: this.#resolverFor(entry.issuer, entry.jwksUri, deps),
        own: entry.issuer === EDGEWAY_ISSUER && entry.jwksUri === undefined,
        maxLifetimeMs:
          entry.issuer === EDGEWAY_ISSUER && entry.jwksUri === undefined
            ? MAX_TOKEN_TTL_MS + auth.clockSkew
            : Number.POSITIVE_INFINITY,
      });
    }
  }

  /** Verifies a compact JWT; throws 401 `invalid_token` GatewayErrors (503 when an IdP's keys are unreachable). */
  async verify(token: string): Promise<VerifiedToken> {
    const header = decodeOrNull(() => decodeProtectedHeader(token));
    const claims = decodeOrNull(() => decodeJwt(token));
    if (header === null || claims === null) throw invalidToken('malformed token');
    const carried = KEY_BEARING_HEADERS.find((name) => name in header);
    if (carried !== undefined) throw invalidToken(`the ${carried} header is not accepted`);
    if (typeof header.alg !== 'string' || !this.#algorithms.includes(header.alg))
      throw invalidToken('algorithm not allowed');
    const issuer = typeof claims.iss === 'string' ? this.#issuers.get(claims.iss) : undefined;
    if (issuer === undefined || typeof claims.iss !== 'string')
      throw invalidToken('unknown issuer');

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, issuer.resolve, {
        issuer: claims.iss,
        audience: issuer.audience,
        algorithms: this.#algorithms,
        clockTolerance: this.#clockToleranceSec,
        currentDate: new Date(this.#now()),
        // A token without exp would be valid forever; one without sub names nobody.
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw describe(err);
    }
    // RFC 7519 4.1.2: sub identifies the principal; an empty one names nobody and would reach the upstream as such.
    if (typeof payload.sub !== 'string' || payload.sub.length === 0)
      throw invalidToken('empty sub claim');
    // edgeway signs nothing valid longer than MAX_TOKEN_TTL_MS: a longer-lived token was not issued by the token API.
    if ((payload.exp as number) * 1000 - this.#now() > issuer.maxLifetimeMs)
      throw invalidToken('token lifetime exceeds the 24h maximum');
    const frozen = Object.freeze({ ...payload });
    return {
      principal: Object.freeze({
        sub: payload.sub as string,
        scopes: Object.freeze(scopesOf(frozen)),
        claims: frozen,
      }),
      expiresAt: (payload.exp as number) * 1000,
      jti: typeof payload.jti === 'string' ? payload.jti : undefined,
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

function decodeOrNull<T>(decode: () => T): T | null {
  try {
    return decode();
  } catch {
    return null;
  }
}

/** Maps a jose failure to the 401 the client gets; the reason goes into the error body's message. */
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
  if (err instanceof errors.JWTExpired) return invalidToken('token expired', err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return invalidToken('token not yet valid', err);
    if (err.claim === 'iss') return invalidToken('wrong issuer', err);
    if (err.claim === 'aud') return invalidToken('wrong audience', err);
    return invalidToken(
      `${err.reason === 'missing' ? 'missing' : 'invalid'} ${err.claim} claim`,
      err,
    );
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return invalidToken('signature verification failed', err);
  if (err instanceof errors.JWKSNoMatchingKey) return invalidToken('no key matches the token', err);
  if (err instanceof errors.JOSEAlgNotAllowed) return invalidToken('algorithm not allowed', err);
  return invalidToken('invalid token', err);
}
