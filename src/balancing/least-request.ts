/** Least-request: the better of two random endpoints, by in-flight requests, latency and capacity. */
import { eligible, type Balancer, type BalancerDeps, type PickInput } from './balancer.js';
import { slowStartFactor, type Endpoint } from './endpoint.js';

/** Random probes before a pick falls back to a scan, when many endpoints are unavailable. */
const PROBES = 3;
/** Latencies below 1 ms count as 1 ms, so a 0 ms average cannot zero the score. */
const MIN_LATENCY_MS = 1;

/**
 * The load an endpoint would carry with one more request, per unit of capacity: lower is better.
 * Latency only enters when both candidates have been measured, so a new endpoint is neither flooded nor starved.
 */
function score(
  endpoint: Endpoint,
  latencyKnown: boolean,
  now: number,
  slowStartMs: number | undefined,
): number {
  const latency = latencyKnown ? Math.max(MIN_LATENCY_MS, endpoint.ewmaLatencyMs) : 1;
  return (
    ((endpoint.inFlight + 1) * latency) /
    (endpoint.capacity * slowStartFactor(endpoint, now, slowStartMs))
  );
}

/**
 * Creates a power-of-two-choices balancer (Mitzenmacher): comparing two random endpoints avoids the herd a
 * global minimum causes when many gateways see the same stale numbers, at O(1) per pick. Under load each
 * endpoint's in-flight count settles in proportion to capacity / latency, and so does its traffic.
 */
export function leastRequest(deps: BalancerDeps, slowStartMs: number | undefined): Balancer {
  const { random } = deps;

  /** An eligible index other than `skip`: a few random probes, then a scan from a random start; -1 if none. */
  function candidate(
    endpoints: readonly Endpoint[],
    input: PickInput,
    exclude: ReadonlySet<Endpoint> | undefined,
    skip: number,
  ): number {
    const n = endpoints.length;
    const others = skip < 0 ? n : n - 1;
    if (others <= 0) return -1;
    const at = (offset: number): number => (skip < 0 ? offset : (skip + 1 + offset) % n);
    for (let probe = 0; probe < PROBES; probe++) {
      const index = at(Math.floor(random() * others));
      if (eligible(endpoints[index] as Endpoint, input.now, exclude)) return index;
    }
    const start = Math.floor(random() * others);
    for (let step = 0; step < others; step++) {
      const index = at((start + step) % others);
      if (eligible(endpoints[index] as Endpoint, input.now, exclude)) return index;
    }
    return -1;
  }

  return {
    pick(
      endpoints: readonly Endpoint[],
      input: PickInput,
      exclude?: ReadonlySet<Endpoint>,
    ): Endpoint | undefined {
      const first = candidate(endpoints, input, exclude, -1);
      if (first < 0) return undefined;
      const a = endpoints[first] as Endpoint;
      const second = candidate(endpoints, input, exclude, first);
      if (second < 0) return a;
      const b = endpoints[second] as Endpoint;
      const latencyKnown = a.ewmaLatencyMs > 0 && b.ewmaLatencyMs > 0;
      return score(b, latencyKnown, input.now, slowStartMs) <
        score(a, latencyKnown, input.now, slowStartMs)
        ? b
        : a;
    },
  };
}
