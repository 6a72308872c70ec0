/** Every balancing policy by config name; the map's type makes a missing policy a compile error. */
import { parseHashOn } from '../config/hash-on.js';
import type { Balancer, BalancerDeps, LoadBalancerConfig, Policy } from './balancer.js';
import { leastRequest } from './least-request.js';
import { ringHash } from './ring-hash.js';
import { roundRobin } from './round-robin.js';
import { weighted } from './weighted.js';

/** Builds a balancer from a service's `loadBalancer` block. */
export type BalancerFactory = (config: LoadBalancerConfig, deps: BalancerDeps) => Balancer;

/** The policies. Slow start applies to the weight-aware ones (weighted, least-request). */
export const BALANCERS: Record<Policy, BalancerFactory> = {
  'round-robin': (_config, deps) => roundRobin(deps),
  weighted: (config) => weighted(config.slowStart),
  'least-request': (config, deps) => leastRequest(deps, config.slowStart),
  'ring-hash': (config, deps) => {
    const parsed = parseHashOn(config.hashOn);
    // Config checks report a bad hashOn with its file and line first; reaching here is a programming error.
    if (!parsed.ok) throw new Error(parsed.message);
    return ringHash(deps, parsed.hashOn);
  },
};

/** Builds the balancer a service's config asks for (one per service: policies keep state). */
export function createBalancer(config: LoadBalancerConfig, deps: BalancerDeps): Balancer {
  return BALANCERS[config.policy](config, deps);
}
