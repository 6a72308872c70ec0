/** The ipAllow / ipDeny stage: refuses a client address outside ipAllow or inside ipDeny, before auth. */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { RouteConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { Stage } from '../request/context.js';

/** Compiles CIDRs and addresses into a BlockList (which also matches IPv4-mapped IPv6 against IPv4 ranges and back). */
export function compileAddressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

/** Whether `address` (the resolved client IP) is in `list`; an address that is no IP is in no list. */
export function listed(list: BlockList, address: string): boolean {
  if (isIPv4(address)) return list.check(address, 'ipv4');
  if (isIPv6(address)) return list.check(address, 'ipv6');
  return false;
}

/**
 * Builds the route's address filter, or undefined without ipAllow/ipDeny. With both, ipDeny carves
 * exceptions out of ipAllow. The address is the one `trustedProxies` resolution settled on.
 */
export function buildIpRulesStage(route: RouteConfig): Stage | undefined {
  if (route.ipAllow === undefined && route.ipDeny === undefined) return undefined;
  const allow = route.ipAllow === undefined ? undefined : compileAddressList(route.ipAllow);
  const deny = route.ipDeny === undefined ? undefined : compileAddressList(route.ipDeny);
  return function ipRules(ctx) {
    const ip = ctx.clientIp;
    if ((allow !== undefined && !listed(allow, ip)) || (deny !== undefined && listed(deny, ip))) {
      throw new GatewayError('forbidden', 'the client address is not allowed on this route');
    }
  };
}
