/** `POST /oauth/token`, framework-free: the RFC 6749 4.4 client-credentials grant and its 5.2 error answers. */
import type { Clients, ClientInfo } from './clients.js';
import type { FailureThrottle } from './brute-force.js';
import type { IssueRequest, IssuedToken } from './tokens.js';

/** What the handler reads from the HTTP request. */
export interface OAuthTokenRequest {
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  /** The raw request body (the server caps its size). */
  readonly body: string;
  readonly clientIp: string;
}

/** The complete answer for the HTTP layer to send. */
export interface OAuthTokenResponse {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

/** What the handler needs, built once by createSecurity. */
export interface OAuthTokenDeps {
  readonly clients: Pick<Clients, 'verify'>;
  readonly issue: (request: IssueRequest) => Promise<IssuedToken>;
  /** TTL of the tokens this endpoint issues, ms. */
  readonly ttlMs: number;
  readonly audience?: string | readonly string[];
  /** Failed attempts per (client id, client IP) pair; see clientKey. */
  readonly byClient: FailureThrottle;
  /** Failed attempts per client IP, whatever the client id. */
  readonly byIp: FailureThrottle;
}

/** RFC 6749 5.2: the error codes a token endpoint answers with. */
type OAuthError = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope';

/** RFC 6749 5.1: token answers must not be cached. */
const NO_STORE: ReadonlyArray<readonly [string, string]> = [
  ['content-type', 'application/json'],
  ['cache-control', 'no-store'],
  ['pragma', 'no-cache'],
];
const BASIC_CHALLENGE = ['www-authenticate', 'Basic realm="edgeway"'] as const;

function answer(
  status: number,
  body: unknown,
  extra: ReadonlyArray<readonly [string, string]> = [],
): OAuthTokenResponse {
  return { status, headers: [...NO_STORE, ...extra], body: JSON.stringify(body) };
}

function oauthError(
  status: number,
  error: OAuthError,
  description: string,
  extra: ReadonlyArray<readonly [string, string]> = [],
): OAuthTokenResponse {
  return answer(status, { error, error_description: description }, extra);
}

/**
 * A throttled login: RFC 6749 5.2 has no code for it (`temporarily_unavailable` belongs to the authorization
 * endpoint, 4.1.2.1), and the client's authentication is what is refused, so `invalid_client`; the status is
 * RFC 6585's 429 with Retry-After, so a client knows to wait rather than to fix its credentials.
 */
function throttled(ms: number): OAuthTokenResponse {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return oauthError(429, 'invalid_client', `too many failed attempts; retry after ${seconds} s`, [
    ['retry-after', String(seconds)],
  ]);
}

/**
 * The per-client throttle's key: the client id from one IP. Keyed by the id alone, anyone knowing an id
 * could lock its owner out by failing on purpose; paired with the IP, guessing stays bounded per IP and
 * the owner, calling from an address that did not fail, keeps access. The IP comes first and holds no
 * space, so no two pairs share a key.
 */
function clientKey(id: string, ip: string): string {
  return `${ip} ${id}`;
}

/** RFC 6749 2.3.1: Basic credentials whose id and secret are each form-urlencoded. */
function basicCredentials(header: string): { id: string; secret: string } | undefined {
  const match = /^basic +([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  try {
    const formDecode = (text: string): string => decodeURIComponent(text.replace(/\+/g, ' '));
    return {
      id: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    return undefined;
  }
}

/** Handles one token request; never throws for client mistakes, only answers them. */
export async function handleTokenRequest(
  deps: OAuthTokenDeps,
  request: OAuthTokenRequest,
): Promise<OAuthTokenResponse> {
  // A block rations the secret checks rather than refusing them: one IP may be a NAT of many clients, one of
  // them the attacker, and a valid secret must still pass; past the ration, 429 without a check.
  if (!deps.byIp.mayCheck(request.clientIp))
    return throttled(deps.byIp.blockedFor(request.clientIp));

  const mediaType = (request.contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/x-www-form-urlencoded') {
    return oauthError(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(request.body);
  // RFC 6749 3.2: request parameters must not be included more than once.
  const repeated = ['grant_type', 'scope', 'client_id', 'client_secret'].find(
    (name) => form.getAll(name).length > 1,
  );
  if (repeated !== undefined)
    return oauthError(400, 'invalid_request', `parameter ${repeated} is repeated`);
  const grantType = form.get('grant_type');
  if (grantType === null) return oauthError(400, 'invalid_request', 'grant_type is missing');
  if (grantType !== 'client_credentials')
    return oauthError(400, 'unsupported_grant_type', 'only client_credentials is supported');

  const fromHeader = request.authorization !== undefined && request.authorization.length > 0;
  const fromBody = form.has('client_id') || form.has('client_secret');
  // RFC 6749 2.3: a client must not use more than one authentication method per request.
  if (fromHeader && fromBody)
    return oauthError(
      400,
      'invalid_request',
      'use either HTTP Basic or body credentials, not both',
    );
  const credentials = fromHeader
    ? basicCredentials(request.authorization as string)
    : fromBody
      ? { id: form.get('client_id') ?? '', secret: form.get('client_secret') ?? '' }
      : undefined;
  if (credentials === undefined || credentials.id.length === 0) {
    return oauthError(401, 'invalid_client', 'client authentication is required', [
      BASIC_CHALLENGE,
    ]);
  }

  const key = clientKey(credentials.id, request.clientIp);
  if (!deps.byClient.mayCheck(key)) return throttled(deps.byClient.blockedFor(key));
  const client = await deps.clients.verify(credentials.id, credentials.secret);
  if (client === undefined) {
    const blocked = Math.max(await deps.byIp.fail(request.clientIp), await deps.byClient.fail(key));
    if (blocked > 0) return throttled(blocked);
    return oauthError(401, 'invalid_client', 'client authentication failed', [BASIC_CHALLENGE]);
  }
  return grant(deps, client, form.get('scope'));
}

async function grant(
  deps: OAuthTokenDeps,
  client: ClientInfo,
  scopeParam: string | null,
): Promise<OAuthTokenResponse> {
  // RFC 6749 3.3: no scope asked means the client's pre-defined (granted) scopes.
  const requested =
    scopeParam === null ? [...client.scopes] : scopeParam.split(' ').filter((s) => s.length > 0);
  const granted = new Set(client.scopes);
  const extra = requested.filter((scope) => !granted.has(scope));
  if (extra.length > 0)
    return oauthError(400, 'invalid_scope', `scope not granted to this client: ${extra.join(' ')}`);
  const scopes = [...new Set(requested)];
  const issued = await deps.issue({
    sub: client.id,
    scopes,
    ttlMs: deps.ttlMs,
    ...(deps.audience !== undefined ? { aud: deps.audience } : {}),
  });
  return answer(200, {
    access_token: issued.token,
    token_type: 'Bearer',
    expires_in: Math.round(deps.ttlMs / 1000),
    scope: scopes.join(' '),
  });
}
