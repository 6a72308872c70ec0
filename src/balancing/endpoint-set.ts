/** Keeps a service's Endpoint objects in step with the registry's records, preserving their run-time state. */
import { Endpoint, type EndpointOptions, type EndpointSpec } from './endpoint.js';

/**
 * Reconciles `current` with the registry's `records`: an instance seen before (same id and url) keeps its
 * Endpoint, updated in place; new ones get a new Endpoint; gone ones drop out. Returns `current` itself when
 * membership is unchanged, else a new frozen array, so balancers rebuild per-set state only on real change.
 */
export function syncEndpoints(
  current: readonly Endpoint[],
  records: readonly EndpointSpec[],
  options: EndpointOptions = {},
): readonly Endpoint[] {
  const byId = new Map<string, Endpoint>();
  for (const endpoint of current) byId.set(endpoint.id, endpoint);
  let same = current.length === records.length;
  const next = records.map((record, index) => {
    const known = byId.get(record.id);
    // A new url means a different process behind the same id: its history does not carry over.
    const endpoint =
      known !== undefined && known.url === record.url ? known : new Endpoint(record, options);
    if (endpoint === known) endpoint.update(record);
    if (current[index] !== endpoint) same = false;
    return endpoint;
  });
  return same ? current : Object.freeze(next);
}
