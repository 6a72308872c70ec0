/** Issues edgeway's own JWTs (iss `edgeway`), signed with the current signing key. */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKeys } from './signing-keys.js';
import { isScopeToken } from './scopes.js';

/** The issuer string of edgeway's own tokens, as `auth.issuers[].issuer` names it. */
export const EDGEWAY_ISSUER = 'edgeway';

/** Longest TTL a token may have: 24 h. Retired keys verify this long after rotation. */
export const MAX_TOKEN_TTL_MS = 24 * 3_600_000;

/** What a caller asks for. */
export interface IssueRequest {
  readonly sub: string;
  readonly scopes: readonly string[];
  readonly ttlMs: number;
  readonly aud?: string | readonly string[];
}

/** An issued token: the compact JWT, its id (for revocation) and its expiry (ms since epoch). */
export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresAt: number;
}

/** Why an issue request is refused, or undefined when it is acceptable. */
export function issueRequestProblem(request: IssueRequest): string | undefined {
  if (typeof request.sub !== 'string' || request.sub.length === 0 || request.sub.length > 256)
    return 'sub must be 1 to 256 characters';
  if (!Number.isInteger(request.ttlMs) || request.ttlMs < 1000) return 'ttl must be at least 1s';
  if (request.ttlMs > MAX_TOKEN_TTL_MS) return 'ttl must be at most 24h';
  const bad = request.scopes.find((scope) => !isScopeToken(scope));
  if (bad !== undefined) return `invalid scope "${bad}"`;
  return undefined;
}

/** Signs tokens for one key ring. */
export class TokenIssuer {
  readonly #keys: SigningKeys;
  readonly #now: () => number;
  readonly #random: (bytes: number) => Buffer;

  constructor(
    keys: SigningKeys,
    now: () => number = Date.now,
    random: (bytes: number) => Buffer = randomBytes,
  ) {
    this.#keys = keys;
    this.#now = now;
    this.#random = random;
  }

  /** Issues a token; throws a RangeError naming the problem when the request is invalid. */
  async issue(request: IssueRequest): Promise<IssuedToken> {
    const problem = issueRequestProblem(request);
    if (problem !== undefined) throw new RangeError(problem);
    const { kid, alg, key } = this.#keys.signingKey();
    const issuedAt = Math.floor(this.#now() / 1000);
    const expiresAt = issuedAt * 1000 + request.ttlMs;
    const jti = this.#random(16).toString('base64url');
    const jwt = new SignJWT({ scope: request.scopes.join(' ') })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(EDGEWAY_ISSUER)
      .setSubject(request.sub)
      .setJti(jti)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      // RFC 7519 4.1.4: exp is in whole seconds; round down so the token never outlives the TTL.
      .setExpirationTime(Math.floor(expiresAt / 1000));
    if (request.aud !== undefined)
      jwt.setAudience(typeof request.aud === 'string' ? request.aud : [...request.aud]);
    return { token: await jwt.sign(key), jti, expiresAt: Math.floor(expiresAt / 1000) * 1000 };
  }
}
