/** A fixed log-bucket latency histogram: constant memory, mergeable by addition, ~12% relative error. */

/** Number of buckets; bucket i holds latencies up to BASE_MS * GROWTH^i (the last one holds the rest). */
export const LATENCY_BUCKETS = 64;
const BASE_MS = 0.25;
const GROWTH = 1.25;
const LOG_GROWTH = Math.log(GROWTH);

/** Upper bound of bucket `index`, in milliseconds. */
export function bucketUpperMs(index: number): number {
  return BASE_MS * GROWTH ** index;
}

/** The bucket a latency of `ms` milliseconds falls into. */
export function bucketIndex(ms: number): number {
  if (!(ms > BASE_MS)) return 0;
  return Math.min(LATENCY_BUCKETS - 1, Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH));
}

/** A fresh, empty sketch. */
export function newSketch(): Uint32Array {
  return new Uint32Array(LATENCY_BUCKETS);
}

/**
 * The q-quantile (0 < q <= 1) in milliseconds: the geometric middle of the bucket holding the rank, so
 * the answer is within a factor of sqrt(1.25) (~12%) of the true value. undefined for an empty sketch.
 */
export function quantileMs(sketch: ArrayLike<number>, q: number): number | undefined {
  let total = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) total += sketch[i] as number;
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    seen += sketch[i] as number;
    if (seen >= rank) return i === 0 ? BASE_MS : bucketUpperMs(i) / Math.sqrt(GROWTH);
  }
  return bucketUpperMs(LATENCY_BUCKETS - 1);
}

/** Adds `from` into `into`, bucket by bucket. */
export function mergeSketch(into: Uint32Array, from: ArrayLike<number>): void {
  for (let i = 0; i < LATENCY_BUCKETS; i++) into[i] = (into[i] as number) + (from[i] as number);
}
