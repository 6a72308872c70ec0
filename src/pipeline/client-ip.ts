/** The client address: X-Forwarded-For is believed only when the peer is a trusted proxy. */
import { isIPv4, isIPv6, type BlockList } from 'node:net';
import { compileAddressList, listed } from '../security/ip-rules.js';

/** Trusted proxy ranges compiled once from `gateway.trustedProxies` (CIDRs or single addresses). */
export class TrustedProxies {
  private readonly list: BlockList;
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    this.list = compileAddressList(entries);
  }

  /** Whether an address (plain or IPv4-mapped IPv6) belongs to a trusted proxy. */
  has(address: string): boolean {
    return !this.empty && listed(this.list, address);
  }

  /** Checks that every entry is an address or CIDR; returns the offending entries. */
  static invalidEntries(entries: readonly string[]): string[] {
    return entries.filter((entry) => {
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1;
      if (max < 0) return true;
      return bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max);
    });
  }
}

/** The client IP and the X-Forwarded-For chain to send upstream. */
export interface ClientAddress {
  readonly ip: string;
  readonly forwardedFor: string;
  /** The peer is a trusted proxy, so its X-Forwarded-Proto and X-Forwarded-Host are believed too. */
  readonly trustedPeer: boolean;
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * Resolves the client: from a trusted peer, the right-most untrusted X-Forwarded-For entry (entries further
 * left could be forged by the client); from anyone else, the peer itself, discarding its X-Forwarded-For.
 */
export function resolveClient(
  peerAddress: string | undefined,
  xff: string | string[] | undefined,
  trusted: TrustedProxies,
): ClientAddress {
  const peer = unmapped(peerAddress ?? '');
  const trustedPeer = trusted.has(peer);
  if (xff === undefined || !trustedPeer) return { ip: peer, forwardedFor: peer, trustedPeer };
  const chain = (Array.isArray(xff) ? xff.join(',') : xff)
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  let ip = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = unmapped(chain[i] as string);
    if (!isIPv4(hop) && !isIPv6(hop)) break;
    ip = hop;
    if (!trusted.has(hop)) break;
  }
  return {
    ip,
    forwardedFor: chain.length > 0 ? `${chain.join(', ')}, ${peer}` : peer,
    trustedPeer,
  };
}
