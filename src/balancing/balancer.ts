/** The Balancer interface: choose one available endpoint of a service for a request. */
import type { ServiceConfig } from '../config/schema.js';
import type { Endpoint } from './endpoint.js';

/** A balancing policy name as the config spells it. */
export type Policy = ServiceConfig['loadBalancer']['policy'];

/** A service's parsed `loadBalancer` block. */
export type LoadBalancerConfig = ServiceConfig['loadBalancer'];

/** What a pick may look at besides the endpoints: the time and the request facts hashing needs. */
export interface PickInput {
  /** Now, in ms on the same clock as the endpoints' `addedAt` and `ejectedUntil`. */
  readonly now: number;
  /** The client address as trusted-proxy rules decide. */
  readonly clientIp: string;
  /** A request header's value by lower-case name (repeated headers joined with ", "). */
  header(name: string): string | undefined;
  /** A request cookie's value by name. */
  cookie(name: string): string | undefined;
}

/** Chooses an endpoint; stateful policies keep their cursor inside, so one balancer serves one service. */
export interface Balancer {
  /**
   * Picks an available endpoint that is not in `exclude` (endpoints a retry already tried), or undefined
   * when there is none: the proxy answers that with 503. Pass a new array whenever the set of endpoints
   * changes (policies rebuild per-set state on a new array identity); in-place updates need no new array.
   */
  pick(
    endpoints: readonly Endpoint[],
    input: PickInput,
    exclude?: ReadonlySet<Endpoint>,
  ): Endpoint | undefined;
}

/** What every policy gets injected: the random source (uniform in [0, 1)). */
export interface BalancerDeps {
  readonly random: () => number;
}

/** True when the endpoint may take this pick. */
export function eligible(
  endpoint: Endpoint,
  now: number,
  exclude: ReadonlySet<Endpoint> | undefined,
): boolean {
  return endpoint.available(now) && (exclude === undefined || !exclude.has(endpoint));
}
