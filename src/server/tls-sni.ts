/** Picks the certificate for a TLS ClientHello's server name from `gateway.tls.sni` host lists. */

/** Host names (exact or `*.example.com`) and what they map to. */
export interface SniEntry<T> {
  readonly hosts: readonly string[];
  readonly value: T;
}

function normalize(host: string): string {
  // Host names compare case-insensitively; a trailing dot names the same host (RFC 6066 3 sends none, clients vary).
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Exact names win over wildcards; the first entry listing a name wins over later ones. */
export class SniTable<T> {
  private readonly exact = new Map<string, T>();
  private readonly wildcard = new Map<string, T>();

  constructor(entries: readonly SniEntry<T>[]) {
    for (const entry of entries) {
      for (const raw of entry.hosts) {
        const host = normalize(raw);
        const table = host.startsWith('*.') ? this.wildcard : this.exact;
        const key = host.startsWith('*.') ? host.slice(2) : host;
        if (!table.has(key)) table.set(key, entry.value);
      }
    }
  }

  /** The value for `servername`, or undefined to fall back to the default certificate. */
  lookup(servername: string): T | undefined {
    const host = normalize(servername);
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    // A wildcard covers exactly one left-most label (RFC 6125 6.4.3): *.example.com matches a.example.com only.
    const dot = host.indexOf('.');
    return dot > 0 ? this.wildcard.get(host.slice(dot + 1)) : undefined;
  }
}
