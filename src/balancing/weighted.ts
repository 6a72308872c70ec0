/** Weighted round-robin, smooth as nginx's: weights 5:1:1 give a,a,b,a,c,a,a rather than a,a,a,a,a,b,c. */
import { eligible, type Balancer, type PickInput } from './balancer.js';
import { slowStartFactor, type Endpoint } from './endpoint.js';

/**
 * Creates a smooth weighted round-robin balancer. Each pick adds every eligible endpoint's effective
 * weight (weight x slow-start ramp) to its running score, takes the highest score and subtracts the
 * total from it (nginx ngx_http_upstream_get_peer). Cost O(n) per pick without allocation.
 */
export function weighted(slowStartMs: number | undefined): Balancer {
  let set: readonly Endpoint[] | undefined;
  let scores = new Float64Array(0);
  return {
    pick(
      endpoints: readonly Endpoint[],
      input: PickInput,
      exclude?: ReadonlySet<Endpoint>,
    ): Endpoint | undefined {
      if (endpoints !== set) {
        // Carry scores across a set change so surviving endpoints keep their place in the sequence.
        const previous = new Map<Endpoint, number>();
        set?.forEach((endpoint, i) => previous.set(endpoint, scores[i] ?? 0));
        scores = Float64Array.from(endpoints, (endpoint) => previous.get(endpoint) ?? 0);
        set = endpoints;
      }
      let total = 0;
      let best = -1;
      for (let i = 0; i < endpoints.length; i++) {
        const endpoint = endpoints[i] as Endpoint;
        if (!eligible(endpoint, input.now, exclude)) continue;
        const effective = endpoint.weight * slowStartFactor(endpoint, input.now, slowStartMs);
        scores[i] = (scores[i] ?? 0) + effective;
        total += effective;
        if (best < 0 || (scores[i] ?? 0) > (scores[best] ?? 0)) best = i;
      }
      if (best < 0) return undefined;
      scores[best] = (scores[best] ?? 0) - total;
      return endpoints[best];
    },
  };
}
