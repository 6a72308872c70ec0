/** The domains ACME orders certificates for: `acme.domains`, else every exact `match.host` of the routes. */
import type { Config } from './schema.js';

/**
 * Lower-cased, without a port or trailing dot, deduplicated. Wildcard hosts are left out: HTTP-01 and
 * TLS-ALPN-01 cannot validate them (RFC 8555 8.3, RFC 8737 3), only DNS-01 can.
 */
export function acmeDomains(config: Config): string[] {
  const acme = config.gateway.tls?.acme;
  if (acme === undefined) return [];
  const names =
    acme.domains ??
    config.routes.flatMap((route) => (route.match.host === undefined ? [] : [route.match.host]));
  const exact = names
    .map((name) => name.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, ''))
    .filter((name) => !name.includes('*') && /^[a-z0-9.-]+$/.test(name));
  return [...new Set(exact)];
}
