/** Parses an Authorization header into a bearer token (RFC 6750 2.1), refusing oversized or malformed ones. */
import { invalidToken } from './auth-errors.js';

/** Longest Authorization header accepted: 8 KiB, far above any sane JWT, so parsing stays cheap. */
export const MAX_AUTHORIZATION_BYTES = 8 * 1024;

/** RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The token of a `Bearer` Authorization header; undefined when there is no header or it uses another
 * scheme (the caller answers with the plain Bearer challenge). Throws `invalidToken` when the header
 * is oversized or the token is not b64token syntax.
 */
export function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined || header.length === 0) return undefined;
  if (Buffer.byteLength(header, 'utf8') > MAX_AUTHORIZATION_BYTES)
    throw invalidToken('authorization header too large');
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  // RFC 9110 11.1: the auth-scheme is case-insensitive.
  if (scheme.toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(space + 1).trim();
  if (space === -1 || !B64TOKEN.test(token)) throw invalidToken('malformed bearer token');
  return token;
}
