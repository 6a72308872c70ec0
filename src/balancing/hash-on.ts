/** The ring-hash key source (`hashOn: ip | header:NAME | cookie:NAME`), parsed once at build time. */
import type { PickInput } from './balancer.js';

/** Where a ring-hash balancer takes its key from. */
export type HashOn =
  | { readonly kind: 'ip' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

/** RFC 9110 5.1: a field name is a token. Cookie names are tokens too (RFC 6265 4.1.1). */
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** The result of parsing `hashOn`: the source, or the message a config check reports. */
export type HashOnResult = { readonly ok: true; readonly hashOn: HashOn } | { readonly ok: false; readonly message: string };

/** Parses `hashOn`; absent means the client address. */
export function parseHashOn(text: string | undefined): HashOnResult {
  if (text === undefined || text === 'ip') return { ok: true, hashOn: { kind: 'ip' } };
  const colon = text.indexOf(':');
  const kind = text.slice(0, colon);
  const name = text.slice(colon + 1);
  if (colon > 0 && (kind === 'header' || kind === 'cookie') && TOKEN.test(name)) {
    // Header names are case-insensitive (RFC 9110 5.1); Node hands them over lower-cased.
    return { ok: true, hashOn: kind === 'header' ? { kind, name: name.toLowerCase() } : { kind, name } };
  }
  return { ok: false, message: `hashOn "${text}" must be ip, header:NAME or cookie:NAME` };
}

/** The request's hash key, or undefined when the request does not carry it. */
export function hashKey(hashOn: HashOn, input: PickInput): string | undefined {
  switch (hashOn.kind) {
    case 'ip':
      return input.clientIp === '' ? undefined : input.clientIp;
    case 'header':
      return input.header(hashOn.name);
    case 'cookie':
      return input.cookie(hashOn.name);
  }
}
