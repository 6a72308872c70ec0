/** createSecurity: builds the security core once (keys, verifier, cache, revocations, clients, throttles) for the gateway and CLI. */
import type { JSONWebKeySet } from 'jose';
import type { Principal } from '../request/context.js';
import type { StoreBackend } from '../store/backend.js';
import { GatewayError } from '../errors.js';
import { invalidToken, missingToken, tooManyFailures } from './auth-errors.js';
import { bearerCandidate, isB64Token, malformed } from './bearer.js';
import { checkScopes } from './scopes.js';
import { TokenCache, tokenDigest, type CachedToken } from './token-cache.js';
import { TokenVerifier, type AuthConfig, type VerifiedToken } from './verify.js';
import { RemoteKeySet, type RemoteKeySetOptions } from './remote-jwks.js';
import { keyRecordStore, type SigningAlgorithm } from './key-records.js';
import { SigningKeys } from './signing-keys.js';
import {
  EDGEWAY_ISSUER,
  MAX_TOKEN_TTL_MS,
  TokenIssuer,
  type IssueRequest,
  type IssuedToken,
} from './tokens.js';
import { openRevocations, type RevocationList } from './revocations.js';
import { Clients } from './clients.js';
import { FailureThrottle, invalidTokenThrottle } from './brute-force.js';
import {
  handleTokenRequest,
  type OAuthTokenRequest,
  type OAuthTokenResponse,
} from './oauth-token.js';
import { ApiKeys } from './api-keys/api-keys.js';
import { authenticateApiKey } from './api-keys/authenticate.js';

export { checkScopes } from './scopes.js';
export { adminTokenChecker } from './admin-token.js';
export { EDGEWAY_ISSUER, MAX_TOKEN_TTL_MS } from './tokens.js';
export type { IssueRequest, IssuedToken } from './tokens.js';
export type { OAuthTokenRequest, OAuthTokenResponse } from './oauth-token.js';
export type { KeyInfo } from './signing-keys.js';
export type { ClientInfo } from './clients.js';
export type { AuthConfig } from './verify.js';
export type { ApiKeys, ApiKeyRecord, IssuedApiKey } from './api-keys/api-keys.js';

/** Optional tuning; defaults suit production. */
export interface SecurityOptions {
  readonly now?: () => number;
  /** Logs background failures (JWKS refresh, Redis reloads, throttle store errors). Never receives secrets. */
  readonly onError?: (err: unknown) => void;
  readonly signingAlgorithm?: SigningAlgorithm;
  /** TTL of tokens issued by `POST /oauth/token`. Default 1 h. */
  readonly oauthTokenTtlMs?: number;
  readonly remoteJwks?: Omit<RemoteKeySetOptions, 'now' | 'onError'>;
  readonly tokenCacheSize?: number;
  /** Invalid tokens allowed per client IP per minute before 429. Default 20. */
  readonly invalidTokensPerMinute?: number;
}

/**
 * Verifies a request's bearer token: the principal at once for a token whose verdict is cached, a promise
 * when its signature must be checked. Throws or rejects with 401 / 429 / 503 GatewayErrors. `connection`
 * (the request's socket) lets a keep-alive client's repeated token skip its hashing.
 */
export type Authenticate = (
  authorization: string | undefined,
  clientIp: string,
  connection?: object,
) => Principal | Promise<Principal>;

/** The one object the gateway, the admin API and the CLI use. */
export interface Security {
  /** Verifies with the latest `auth` config. */
  authenticate(authorization: string | undefined, clientIp: string): Promise<Principal>;
  /**
   * Verifies with the `auth` config in force now, for as long as the caller lives: a config snapshot's auth
   * stage holds one, so a request in flight on the old snapshot is checked against the old config after a
   * reload. Only the caches (JWKS, verified tokens, revocations) are shared between configs.
   */
  authenticator(): Authenticate;
  /** Authenticates an `x-api-key` as its consumer; throws 401 / 429 GatewayErrors (invalid keys count like invalid tokens). */
  authenticateApiKey(key: string, clientIp: string): Promise<Principal>;
  /** Throws 403 `insufficient_scope` unless every required scope is held. */
  checkScopes(principal: Principal, required: readonly string[]): void;
  /** Issues an edgeway token; `aud` defaults to the `edgeway` issuer entry's audience. RangeError on bad input. */
  issueToken(request: IssueRequest): Promise<IssuedToken>;
  /** Revokes `jti` everywhere until `expiresAt` (default: now + the longest token TTL). */
  revoke(jti: string, expiresAt?: number): Promise<void>;
  /** The public JWK Set served at `/.well-known/jwks.json`. */
  jwks(): JSONWebKeySet;
  /** Makes `auth` the config of later `authenticator()`s (hot reload); fetched remote keys and the key ring are kept. */
  reconfigure(auth: AuthConfig): void;
  readonly keys: SigningKeys;
  readonly clients: Clients;
  readonly revocations: RevocationList;
  readonly apiKeys: ApiKeys;
  /** `POST /oauth/token`. */
  oauthToken(request: OAuthTokenRequest): Promise<OAuthTokenResponse>;
  close(): Promise<void>;
}

/** Builds the security core on `backend`; call once per process and `close()` on shutdown. */
export async function createSecurity(
  backend: StoreBackend,
  auth: AuthConfig,
  options: SecurityOptions = {},
): Promise<Security> {
  const now = options.now ?? Date.now;
  const onError = options.onError ?? (() => undefined);
  const keys = await SigningKeys.open(keyRecordStore(backend, now, onError), {
    algorithm: options.signingAlgorithm ?? 'ES256',
    maxTokenTtlMs: MAX_TOKEN_TTL_MS,
    now,
    onError,
  });
  const revocations = await openRevocations(backend, now, onError);
  const clients = new Clients(backend, now);
  const apiKeys = await ApiKeys.open(backend, {
    now,
    onError,
    ...(options.tokenCacheSize === undefined ? {} : { cacheSize: options.tokenCacheSize }),
  });
  const issuer = new TokenIssuer(keys, now);
  const cache = new TokenCache(options.tokenCacheSize ?? 10_000, now);
  revocations.onRevoked((jti) => cache.dropJti(jti));
  const guard = invalidTokenThrottle(backend, {
    now,
    onError,
    ...(options.invalidTokensPerMinute !== undefined
      ? { failures: options.invalidTokensPerMinute }
      : {}),
  });
  const oauthByClient = new FailureThrottle(backend, {
    name: 'oauth-client-ip-failures',
    failures: 10,
    windowSec: 300,
    blockSec: 900,
    now,
    onError,
  });
  const oauthByIp = new FailureThrottle(backend, {
    name: 'oauth-ip-failures',
    failures: 30,
    windowSec: 300,
    blockSec: 900,
    now,
    onError,
  });

  const remoteSets = new Map<string, RemoteKeySet>();
  const remoteKeySet = (uri: string): RemoteKeySet => {
    const known =
      remoteSets.get(uri) ?? new RemoteKeySet(uri, { ...options.remoteJwks, now, onError });
    remoteSets.set(uri, known);
    return known;
  };
  // Each config's verdicts are cached under its own generation, so one config never serves another's verdict
  // (a snapshot's authenticator outlives a reload); the LRU evicts a retired generation's entries.
  let generation = 0;
  let ownAudience = auth.issuers.find(
    (entry) => entry.issuer === EDGEWAY_ISSUER && entry.jwksUri === undefined,
  )?.audience;

  const issueToken = (request: IssueRequest): Promise<IssuedToken> =>
    issuer.issue(
      request.aud !== undefined || ownAudience === undefined
        ? request
        : { ...request, aud: ownAudience },
    );

  /** Counts an invalid token against the client IP; past the limit the answer becomes 429. */
  const failed = async (err: GatewayError, clientIp: string): Promise<GatewayError> => {
    const blockedMs = await guard.fail(clientIp);
    return blockedMs > 0
      ? tooManyFailures(blockedMs, 'too many invalid tokens from this address')
      : err;
  };

  /** Refuses with `err`, counted against the client IP first. */
  const refuse = async (err: GatewayError, clientIp: string): Promise<never> => {
    throw await failed(err, clientIp);
  };

  /** A verdict's principal, unless its jti was revoked since (or, for one of edgeway's tokens, its key). */
  const admit = (verified: CachedToken, clientIp: string): Principal | Promise<never> => {
    // README: an emergency rotation refuses every token issued before at once, verified before or not.
    if (verified.ownKid !== undefined && keys.verificationKey(verified.ownKid) === undefined)
      return refuse(invalidToken('signing key revoked'), clientIp);
    if (verified.jti !== undefined && revocations.isRevoked(verified.jti))
      return refuse(invalidToken('token revoked'), clientIp);
    return verified.principal;
  };

  const authenticatorFor = (verifier: TokenVerifier, cacheScope: string): Authenticate => {
    /** The signature check of a token the cache does not hold, and its verdict cached. */
    const verifyAndCache = async (
      token: string,
      digest: string,
      clientIp: string,
    ): Promise<Principal> => {
      // A blocked address is rationed, not refused: its next valid token still verifies (a NAT hides many users).
      if (!guard.mayCheck(clientIp))
        throw tooManyFailures(1000, 'too many invalid tokens from this address');
      let verified: VerifiedToken;
      try {
        verified = await verifier.verify(token);
      } catch (err) {
        throw err instanceof GatewayError && err.code === 'unauthorized'
          ? await failed(err, clientIp)
          : err;
      }
      cache.set(digest, verified);
      return admit(verified, clientIp);
    };
    /**
     * Per connection, the last token it sent and that token's cache key: a keep-alive client sends the same
     * token on every request, and hashing it was most of a cached token's cost. The token is held only while
     * its connection lives; the shared cache holds digests only.
     */
    const lastToken = new WeakMap<object, { token: string; key: string }>();
    const keyOf = (token: string, connection: object | undefined): string => {
      const last = connection === undefined ? undefined : lastToken.get(connection);
      if (last !== undefined && last.token === token) return last.key;
      const key = `${cacheScope}${tokenDigest(token)}`;
      if (last !== undefined) {
        last.token = token;
        last.key = key;
      } else if (connection !== undefined) lastToken.set(connection, { token, key });
      return key;
    };
    // A cached token is answered synchronously: no promise, no microtask turn.
    return function authenticate(authorization, clientIp, connection) {
      let token: string | undefined;
      try {
        token = bearerCandidate(authorization);
      } catch (err) {
        return refuse(err as GatewayError, clientIp);
      }
      if (token === undefined) throw missingToken();
      const digest = keyOf(token, connection);
      const verified = cache.get(digest);
      if (verified !== undefined) return admit(verified, clientIp);
      return isB64Token(token)
        ? verifyAndCache(token, digest, clientIp)
        : refuse(malformed(), clientIp);
    };
  };
  let current = authenticatorFor(
    new TokenVerifier(auth, { ownKeys: keys, now, remoteKeySet }),
    `${generation}:`,
  );

  return {
    authenticate: async (authorization, clientIp) => current(authorization, clientIp),
    authenticator: () => current,
    authenticateApiKey: (key, clientIp) => authenticateApiKey(apiKeys, guard, key, clientIp),
    checkScopes,
    issueToken,
    revoke: (jti, expiresAt) => revocations.revoke(jti, expiresAt ?? now() + MAX_TOKEN_TTL_MS),
    jwks: () => keys.jwks(),
    reconfigure(next) {
      generation += 1;
      current = authenticatorFor(
        new TokenVerifier(next, { ownKeys: keys, now, remoteKeySet }),
        `${generation}:`,
      );
      ownAudience = next.issuers.find(
        (entry) => entry.issuer === EDGEWAY_ISSUER && entry.jwksUri === undefined,
      )?.audience;
    },
    keys,
    clients,
    revocations,
    apiKeys,
    oauthToken: (request) =>
      handleTokenRequest(
        {
          clients,
          issue: issueToken,
          ttlMs: options.oauthTokenTtlMs ?? 3_600_000,
          byClient: oauthByClient,
          byIp: oauthByIp,
        },
        request,
      ),
    async close() {
      await Promise.all([keys.close(), revocations.close(), apiKeys.close()]);
    },
  };
}
