/** Requests and 429 answers per consumer (`sub`) per minute, bounded: the dashboard's "for whom". */

/** A consumer's counts in one period. */
export interface ConsumerCount {
  requests: number;
  rateLimited: number;
}

/** A consumer and its counts over a range. */
export interface ConsumerTotal {
  readonly sub: string;
  readonly requests: number;
  readonly rateLimited: number;
}

/** Distinct consumers kept per minute; later newcomers in that minute are counted under {@link OTHERS}. */
export const MAX_CONSUMERS_PER_MINUTE = 10_000;
/** The name under which consumers beyond the cap are counted. */
export const OTHERS = '(others)';

/**
 * A ring of per-minute maps. Recording is one Map lookup and two increments; an entry is allocated only
 * the first time a consumer shows up in a minute.
 */
export class ConsumerCounts {
  readonly #minutes: Array<{ minute: number; counts: Map<string, ConsumerCount> }>;

  constructor(size: number) {
    this.#minutes = Array.from({ length: size }, () => ({ minute: -1, counts: new Map() }));
  }

  /** Counts one request of `sub` in minute number `minute` (not ms). */
  add(minute: number, sub: string, rateLimited: boolean): void {
    const slot = this.#minutes[minute % this.#minutes.length] as {
      minute: number;
      counts: Map<string, ConsumerCount>;
    };
    if (slot.minute !== minute) {
      slot.minute = minute;
      slot.counts = new Map();
    }
    addConsumer(slot.counts, sub, 1, rateLimited ? 1 : 0);
  }

  /** The counts of minute number `minute`, if still held. */
  minute(minute: number): ReadonlyMap<string, ConsumerCount> | undefined {
    const slot = this.#minutes[minute % this.#minutes.length];
    return slot?.minute === minute ? slot.counts : undefined;
  }
}

/** Adds counts to `sub` in `counts`, folding newcomers past the cap into {@link OTHERS}. */
export function addConsumer(
  counts: Map<string, ConsumerCount>,
  sub: string,
  requests: number,
  rateLimited: number,
): void {
  let entry = counts.get(sub);
  if (entry === undefined) {
    const key = counts.size >= MAX_CONSUMERS_PER_MINUTE ? OTHERS : sub;
    entry = counts.get(key);
    if (entry === undefined) {
      entry = { requests: 0, rateLimited: 0 };
      counts.set(key, entry);
    }
  }
  entry.requests += requests;
  entry.rateLimited += rateLimited;
}

/** The `n` largest consumers by `field`, ties by name; consumers with zero in that field are left out. */
export function topConsumers(
  counts: ReadonlyMap<string, ConsumerCount>,
  field: keyof ConsumerCount,
  n: number,
): ConsumerTotal[] {
  const all: ConsumerTotal[] = [];
  for (const [sub, count] of counts)
    if (count[field] > 0)
      all.push({ sub, requests: count.requests, rateLimited: count.rateLimited });
  return all.sort((a, b) => b[field] - a[field] || (a.sub < b.sub ? -1 : 1)).slice(0, n);
}
