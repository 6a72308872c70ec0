/** The one parser of `loadBalancer.hashOn` (`ip | header:NAME | cookie:NAME`), for config checks and the ring-hash balancer. */
import { TOKEN } from './http-token.js';

/** Where a ring-hash balancer takes its key from. */
export type HashOn =
  | { readonly kind: 'ip' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

/** The result of parsing `hashOn`: the source, or the message a config check reports. */
export type HashOnResult =
  { readonly ok: true; readonly hashOn: HashOn } | { readonly ok: false; readonly message: string };

/** Parses `hashOn`; absent means the client address. */
export function parseHashOn(text: string | undefined): HashOnResult {
  if (text === undefined || text === 'ip') return { ok: true, hashOn: { kind: 'ip' } };
  const colon = text.indexOf(':');
  const kind = text.slice(0, colon);
  const name = text.slice(colon + 1);
  if (colon > 0 && (kind === 'header' || kind === 'cookie') && TOKEN.test(name)) {
    // Header names are case-insensitive (RFC 9110 5.1); Node hands them over lower-cased.
    return {
      ok: true,
      hashOn: kind === 'header' ? { kind, name: name.toLowerCase() } : { kind, name },
    };
  }
  return { ok: false, message: `hashOn "${text}" must be ip, header:NAME or cookie:NAME` };
}
