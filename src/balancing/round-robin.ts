/** Round-robin: each available endpoint in turn, ignoring weights. */
import { eligible, type Balancer, type BalancerDeps, type PickInput } from './balancer.js';
import type { Endpoint } from './endpoint.js';

/** Creates a round-robin balancer; the cursor starts at a random place so gateways do not move in step. */
export function roundRobin(deps: BalancerDeps): Balancer {
  let cursor = Math.floor(deps.random() * 0x40000000);
  return {
    pick(
      endpoints: readonly Endpoint[],
      input: PickInput,
      exclude?: ReadonlySet<Endpoint>,
    ): Endpoint | undefined {
      const n = endpoints.length;
      // Skipping unavailable endpoints costs one step each, so a pick is O(1) while most are available.
      for (let step = 0; step < n; step++) {
        const endpoint = endpoints[cursor % n] as Endpoint;
        cursor = (cursor + 1) % 0x40000000;
        if (eligible(endpoint, input.now, exclude)) return endpoint;
      }
      return undefined;
    },
  };
}
