/**
 * Which instance addresses a gateway admits: never one of its own listeners (an instance registered at the
 * admin port would expose the admin API on the public port), and only `discovery.allowedNetworks` when set.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** What the policy is built from; checked once, so each registration costs a URL parse and two lookups. */
export interface InstancePolicyOptions {
  /** CIDRs instance addresses must fall in (`discovery.allowedNetworks`); undefined: any address. */
  readonly allowedNetworks?: readonly string[] | undefined;
  /** Ports edgeway itself listens on (public, admin, https redirect), as configured and as bound. */
  readonly ownPorts: Iterable<number>;
  /** This machine's interface addresses (default: os.networkInterfaces()). */
  readonly localAddresses?: readonly string[];
}

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((entries) =>
    (entries ?? []).map((entry) => entry.address),
  );
}

/** Builds a BlockList from CIDRs (`10.0.0.0/8`, `fd00::/8`). */
export function networkList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/') as [string, string];
    list.addSubnet(address, Number(bits), family(address));
  }
  return list;
}

/** Decides whether an instance URL may be registered and served. */
export class InstancePolicy {
  private readonly local = new BlockList();
  private readonly ownPorts: ReadonlySet<number>;
  private readonly allowed: BlockList | undefined;

  constructor(options: InstancePolicyOptions) {
    // Any address of this machine reaches a listener bound to 0.0.0.0 or ::, and 127.0.0.0/8 is all loopback.
    this.local.addSubnet('127.0.0.0', 8, 'ipv4');
    for (const address of [
      '0.0.0.0',
      '::',
      '::1',
      ...(options.localAddresses ?? interfaceAddresses()),
    ])
      this.local.addAddress(address, family(address));
    this.ownPorts = new Set([...options.ownPorts].filter((port) => port > 0));
    this.allowed =
      options.allowedNetworks === undefined ? undefined : networkList(options.allowedNetworks);
  }

  /**
   * Whether a connection to `address:port` reaches one of this gateway's listeners. `refusal` sees only the
   * URL; a host name (the machine's own, a wildcard DNS name) is resolved at connect time, so the upstream
   * pools ask again with the address they are about to connect to.
   */
  isOwnListener(address: string, port: number): boolean {
    return (
      this.ownPorts.has(port) && isIP(address) !== 0 && this.local.check(address, family(address))
    );
  }

  /** Why `url` may not be an instance, or undefined when it may. `url` passed checkRegistration already. */
  refusal(url: string): string | undefined {
    const parsed = new URL(url);
    // WHATWG parsing already turned 2130706433 or 0x7f.1 into 127.0.0.1; a trailing dot names the same host.
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    const port =
      parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
    // RFC 6761 6.3: localhost names always resolve to loopback.
    const address = host === 'localhost' || host.endsWith('.localhost') ? '127.0.0.1' : host;
    const isAddress = isIP(address) !== 0;
    if (isAddress && this.isOwnListener(address, port)) {
      return `${url} points at this gateway's own listener on port ${port}`;
    }
    if (this.allowed === undefined) return undefined;
    if (!isAddress)
      return `${url} names a host, but discovery.allowedNetworks admits addresses only`;
    if (!this.allowed.check(address, family(address)))
      return `${url} is outside discovery.allowedNetworks`;
    return undefined;
  }
}
