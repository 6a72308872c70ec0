/** Ring-hash: consistent hashing of a request key onto a ring of virtual nodes, for sticky routing. */
import type { HashOn } from '../config/hash-on.js';
import { eligible, type Balancer, type BalancerDeps, type PickInput } from './balancer.js';
import type { Endpoint } from './endpoint.js';
import { hashKey } from './hash-on.js';

/** Virtual nodes per unit of weight (ketama uses 160): enough that each endpoint's share is within ~10%. */
const POINTS_PER_WEIGHT = 160;
/** Weights above this do not add points, keeping a ring build bounded. */
const MAX_WEIGHT_POINTS = 8;

/** 32-bit FNV-1a over UTF-16 code units, finished with murmur3's fmix32 so close keys spread apart. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A ring: sorted point hashes and, at the same index, the endpoint index owning the point. */
interface Ring {
  readonly points: Uint32Array;
  readonly owners: Uint32Array;
}

/** Builds the ring of an endpoint set; a point depends only on its endpoint's id, so a leave moves only its keys. */
function buildRing(endpoints: readonly Endpoint[]): Ring {
  const entries: Array<[number, number]> = [];
  endpoints.forEach((endpoint, index) => {
    const count = POINTS_PER_WEIGHT * Math.min(Math.max(1, endpoint.weight), MAX_WEIGHT_POINTS);
    for (let i = 0; i < count; i++) entries.push([hash32(`${endpoint.id}#${i}`), index]);
  });
  // Ties broken by id order so every gateway builds the same ring from the same set.
  entries.sort(
    (a, b) =>
      a[0] - b[0] || ((endpoints[a[1]] as Endpoint).id < (endpoints[b[1]] as Endpoint).id ? -1 : 1),
  );
  return {
    points: Uint32Array.from(entries, (e) => e[0]),
    owners: Uint32Array.from(entries, (e) => e[1]),
  };
}

/** Index of the first point at or after `hash`, wrapping to 0 past the end (binary search, O(log n)). */
function firstPointAtOrAfter(points: Uint32Array, hash: number): number {
  let low = 0;
  let high = points.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((points[mid] as number) < hash) low = mid + 1;
    else high = mid;
  }
  return low === points.length ? 0 : low;
}

/**
 * Creates a ring-hash balancer keyed by `hashOn`. The ring is rebuilt only when the endpoint array changes.
 * When the key's endpoint is unavailable the walk goes clockwise to the next eligible one, so those keys
 * spread over the others and come back when it recovers; a request without a key lands at random.
 */
export function ringHash(deps: BalancerDeps, hashOn: HashOn): Balancer {
  let set: readonly Endpoint[] | undefined;
  let ring: Ring = { points: new Uint32Array(0), owners: new Uint32Array(0) };
  return {
    pick(
      endpoints: readonly Endpoint[],
      input: PickInput,
      exclude?: ReadonlySet<Endpoint>,
    ): Endpoint | undefined {
      if (endpoints !== set) {
        ring = buildRing(endpoints);
        set = endpoints;
      }
      const size = ring.points.length;
      if (size === 0) return undefined;
      const key = hashKey(hashOn, input);
      const hash = key === undefined ? Math.floor(deps.random() * 0x100000000) : hash32(key);
      const start = firstPointAtOrAfter(ring.points, hash);
      for (let step = 0; step < size; step++) {
        const endpoint = endpoints[ring.owners[(start + step) % size] as number] as Endpoint;
        if (eligible(endpoint, input.now, exclude)) return endpoint;
      }
      return undefined;
    },
  };
}
