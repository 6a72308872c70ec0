/** Parses an Authorization header into a bearer token (RFC 6750 2.1), refusing oversized or malformed ones. */
import type { GatewayError } from '../errors.js';
import { invalidToken } from './auth-errors.js';

/** Longest Authorization header accepted: 8 KiB, far above any sane JWT, so parsing stays cheap. */
export const MAX_AUTHORIZATION_BYTES = 8 * 1024;

/** RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The token of a `Bearer` Authorization header before its b64token syntax is checked; undefined when there
 * is no header or it uses another scheme (the caller answers with the plain Bearer challenge). Throws
 * `invalidToken` when the header is oversized or has no token. A token whose verdict is cached passed
 * `isB64Token` when it was verified, so the request path checks the syntax only on a cache miss.
 */
export function bearerCandidate(header: string | undefined): string | undefined {
  if (header === undefined || header.length === 0) return undefined;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only a header past a third of the limit needs counting.
  if (
    header.length > MAX_AUTHORIZATION_BYTES / 3 &&
    Buffer.byteLength(header, 'utf8') > MAX_AUTHORIZATION_BYTES
  )
    throw invalidToken('authorization header too large');
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  // RFC 9110 11.1: the auth-scheme is case-insensitive.
  if (scheme.toLowerCase() !== 'bearer') return undefined;
  if (space === -1) throw malformed();
  return header.slice(space + 1).trim();
}

/** Whether `token` is RFC 6750 b64token syntax. */
export function isB64Token(token: string): boolean {
  return B64TOKEN.test(token);
}

/** 401 for a bearer token that is not b64token syntax. */
export function malformed(): GatewayError {
  return invalidToken('malformed bearer token');
}
