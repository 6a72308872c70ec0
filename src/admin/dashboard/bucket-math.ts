/** Sums over a range's buckets for the dashboard, memoised so a poll redoes only the buckets that changed. */
import { parseAggregate, type Fields } from '../../telemetry/history/history-fields.js';
import { quantileMs } from '../../telemetry/history/latency-sketch.js';
import { mergeAggregate, newAggregate, type Aggregate } from '../../telemetry/history/stats.js';

/** A parsed route bucket and its p99 (ms, null when empty). */
export interface ParsedBucket {
  readonly aggregate: Aggregate;
  readonly p99Ms: number | null;
}

/** Buckets at the end of a range that may still change between polls (the current one and a late flush). */
const OPEN_TAIL = 2;

interface Memo<T> {
  readonly keys: readonly Fields[];
  readonly sum: T;
}

/**
 * Cached history buckets come back as the same objects poll after poll, so a bucket is parsed once and
 * the sum of a range's leading buckets is reused while they are unchanged: a 24 h view then costs
 * about as much per poll as a 15 m one.
 */
export class BucketMath {
  readonly #parsed = new WeakMap<Fields, ParsedBucket>();
  readonly #aggregates = new Map<string, Memo<Aggregate>>();
  readonly #fields = new Map<string, Memo<Fields>>();

  /** The parsed form of a route bucket. */
  parse(fields: Fields): ParsedBucket {
    let bucket = this.#parsed.get(fields);
    if (bucket === undefined) {
      const aggregate = parseAggregate(fields);
      bucket = {
        aggregate,
        p99Ms: aggregate.requests === 0 ? null : (quantileMs(aggregate.latency, 0.99) ?? null),
      };
      this.#parsed.set(fields, bucket);
    }
    return bucket;
  }

  /** The sum of a route's buckets (`key` names the route and range). */
  total(key: string, buckets: readonly Fields[]): Aggregate {
    return sum(
      this.#aggregates,
      key,
      buckets,
      newAggregate,
      (into, fields) => mergeAggregate(into, this.parse(fields).aggregate),
      (from) => {
        const copy = newAggregate();
        mergeAggregate(copy, from);
        return copy;
      },
    );
  }

  /** The field-by-field sum of a fleet hash's buckets. */
  fields(key: string, buckets: readonly Fields[]): Fields {
    return sum(
      this.#fields,
      key,
      buckets,
      () => new Map(),
      (into, fields) => {
        for (const [field, n] of fields) into.set(field, (into.get(field) ?? 0) + n);
      },
      (from) => new Map(from),
    );
  }
}

function sum<T>(
  memos: Map<string, Memo<T>>,
  key: string,
  buckets: readonly Fields[],
  empty: () => T,
  add: (into: T, fields: Fields) => void,
  copy: (from: T) => T,
): T {
  const cut = Math.max(0, buckets.length - OPEN_TAIL);
  const memo = memos.get(key);
  let prefix: T;
  if (
    memo !== undefined &&
    memo.keys.length === cut &&
    memo.keys.every((fields, i) => fields === buckets[i])
  ) {
    prefix = memo.sum;
  } else {
    prefix = empty();
    for (let i = 0; i < cut; i++) add(prefix, buckets[i] as Fields);
    memos.set(key, { keys: buckets.slice(0, cut), sum: prefix });
  }
  const total = copy(prefix);
  for (let i = cut; i < buckets.length; i++) add(total, buckets[i] as Fields);
  return total;
}
