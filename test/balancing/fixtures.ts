/** Shared test fixtures for balancing: a seeded random source, a settable clock, endpoints and pick inputs. */
import type { PickInput } from '../../src/balancing/balancer.js';
import { Endpoint } from '../../src/balancing/endpoint.js';

/** mulberry32: a small seeded PRNG, so every distribution test sees the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A clock tests move by hand. */
export interface TestClock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function testClock(start = 1_000_000): TestClock {
  let time = start;
  return {
    now: () => time,
    set: (ms) => {
      time = ms;
    },
    advance: (ms) => {
      time += ms;
    },
  };
}

/** Endpoints named e0..e(n-1) on 127.0.0.1:9000+i, with optional weights and capacities. */
export function makeEndpoints(
  count: number,
  clock: TestClock,
  spec: { weights?: number[]; capacities?: number[] } = {},
): Endpoint[] {
  return Array.from(
    { length: count },
    (_, i) =>
      new Endpoint(
        {
          id: `e${i}`,
          url: `http://127.0.0.1:${9000 + i}`,
          weight: spec.weights?.[i] ?? 1,
          capacity: spec.capacities?.[i] ?? 100,
          draining: false,
        },
        { now: clock.now },
      ),
  );
}

/** A PickInput at `now` with the given headers (lower-case names), cookies and client address. */
export function pickInput(
  now: number,
  facts: { headers?: Record<string, string>; cookies?: Record<string, string>; ip?: string } = {},
): PickInput {
  return {
    now,
    clientIp: facts.ip ?? '',
    header: (name) => facts.headers?.[name],
    cookie: (name) => facts.cookies?.[name],
  };
}

/** How many times each endpoint id was picked. */
export function countPicks(picks: ReadonlyArray<Endpoint | undefined>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const pick of picks) {
    const id = pick?.id ?? 'none';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
