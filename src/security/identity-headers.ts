/** The headers that tell the upstream who called (`x-edgeway-sub`, `x-edgeway-scopes`, `claimHeaders`), in one encoding. */
import type { Principal } from '../request/context.js';

// RFC 9110 5.5: a field value is visible ASCII (plus SP, HTAB and obs-text, which senders should not use);
// undici refuses anything past U+00FF. Claims are Unicode, so every value is encoded in the manner of
// RFC 8187 3.2.1: each UTF-8 byte outside visible ASCII, and `%` itself, becomes %XX. The result is ASCII,
// decodes unambiguously with decodeURIComponent, and cannot carry CR/LF into another header.
const PLAIN = /^[\x21-\x24\x26-\x7e]*$/;
const HEX = Array.from(
  { length: 256 },
  (_, byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
);

/** A string as a header value: unchanged when it is plain visible ASCII without `%`, else percent-encoded UTF-8. */
export function encodeHeaderValue(text: string): string {
  if (PLAIN.test(text)) return text;
  let out = '';
  // Buffer.from turns a lone surrogate into U+FFFD where encodeURIComponent would throw.
  for (const byte of Buffer.from(text, 'utf8'))
    out += byte > 0x20 && byte < 0x7f && byte !== 0x25 ? String.fromCharCode(byte) : HEX[byte];
  return out;
}

/** A list as a header value: each item encoded (so a space inside an item is %20), joined by single spaces. */
export function encodeHeaderList(items: ReadonlyArray<string | number>): string {
  return items.map((item) => encodeHeaderValue(String(item))).join(' ');
}

const MAX_CLAIM_HEADER_CHARS = 256;

/** A claim as a header value: strings, numbers and booleans, arrays as lists; encoded, at most 256 characters. */
export function claimValue(claim: unknown): string | undefined {
  let value: string;
  if (typeof claim === 'string' || typeof claim === 'number' || typeof claim === 'boolean')
    value = encodeHeaderValue(String(claim));
  else if (
    Array.isArray(claim) &&
    claim.every((part) => typeof part === 'string' || typeof part === 'number')
  )
    value = encodeHeaderList(claim);
  else return undefined;
  // Cut on a whole escape, so the bounded value still decodes.
  if (value.length > MAX_CLAIM_HEADER_CHARS)
    value = value.slice(0, MAX_CLAIM_HEADER_CHARS).replace(/%[0-9A-F]?$/, '');
  return value === '' ? undefined : value;
}

/**
 * The `x-edgeway-sub` and `x-edgeway-scopes` headers of each principal, encoded once: a cached token's
 * principal is the same frozen object on every request. The pairs are shared, so nobody may edit them.
 */
const identities = new WeakMap<Principal, readonly [[string, string], [string, string]]>();

/**
 * Adds the caller's identity to `headers`. `sub` and scopes are never cut: a shortened identity could
 * name someone else.
 */
export function addIdentityHeaders(
  headers: Array<[string, string]>,
  principal: Principal,
  claimHeaders: ReadonlyArray<readonly [string, string]>,
): void {
  let identity = identities.get(principal);
  if (identity === undefined) {
    identity = [
      ['x-edgeway-sub', encodeHeaderValue(principal.sub)],
      ['x-edgeway-scopes', encodeHeaderList(principal.scopes)],
    ];
    identities.set(principal, identity);
  }
  headers.push(identity[0], identity[1]);
  for (const [header, claim] of claimHeaders) {
    const value = claimValue(principal.claims[claim]);
    if (value !== undefined) headers.push([header, value]);
  }
}
