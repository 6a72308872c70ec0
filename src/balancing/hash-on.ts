/** The ring-hash key of a request, from a `hashOn` source parsed once at config load. */
import type { HashOn } from '../config/hash-on.js';
import type { PickInput } from './balancer.js';

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
