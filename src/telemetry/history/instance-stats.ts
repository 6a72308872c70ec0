/** Per upstream instance: attempts by outcome and attempt latency per minute over the last 15 minutes. */
import { bucketIndex, mergeSketch, newSketch, quantileMs } from './latency-sketch.js';

/** How an attempt on an instance ended, in index order (the index is what a slot counts). */
export const ATTEMPT_OUTCOMES = [
  'ok',
  'status_5xx',
  'connect_error',
  'timeout',
  'invalid_response',
  'aborted',
  'gateway_error',
] as const;
/** One attempt outcome. */
export type AttemptOutcomeName = (typeof ATTEMPT_OUTCOMES)[number];
/** Outcome name -> index. */
export const OUTCOME_INDEX = Object.freeze(
  Object.fromEntries(ATTEMPT_OUTCOMES.map((name, i) => [name, i])),
) as Readonly<Record<AttemptOutcomeName, number>>;

/** Listener for every recorded attempt (the Redis history flusher subscribes). */
export type InstanceListener = (instance: InstanceStats, minute: number, outcome: number) => void;

/** Attempt counts of an instance over a window. */
export interface InstanceSummary {
  readonly attempts: number;
  /** Attempts by outcome name. */
  readonly outcomes: Readonly<Record<AttemptOutcomeName, number>>;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

interface Slot {
  at: number;
  readonly counts: Uint32Array;
  readonly latency: Uint32Array;
}

const MINUTES = 15;

function newSlot(): Slot {
  return { at: -1, counts: new Uint32Array(ATTEMPT_OUTCOMES.length), latency: newSketch() };
}

function claim(slot: Slot, at: number): Slot {
  if (slot.at !== at) {
    slot.at = at;
    slot.counts.fill(0);
    slot.latency.fill(0);
  }
  return slot;
}

function add(slot: Slot, outcome: number, bucket: number): void {
  slot.counts[outcome] = (slot.counts[outcome] as number) + 1;
  slot.latency[bucket] = (slot.latency[bucket] as number) + 1;
}

/** Counts for the named outcomes from a count array. */
export function outcomeRecord(counts: ArrayLike<number>): Record<AttemptOutcomeName, number> {
  return Object.fromEntries(ATTEMPT_OUTCOMES.map((name, i) => [name, counts[i] ?? 0])) as Record<
    AttemptOutcomeName,
    number
  >;
}

/** One instance's rings; recording is array writes into preallocated slots. */
export class InstanceStats {
  readonly #minutes: Slot[] = Array.from({ length: MINUTES }, newSlot);
  /** The minute number of the last attempt (-1: none yet). */
  lastMinute = -1;

  constructor(
    readonly service: string,
    readonly id: string,
    private readonly now: () => number,
    private readonly listener: InstanceListener,
  ) {}

  /** Records one finished attempt (`outcome` from {@link OUTCOME_INDEX}). */
  record(outcome: number, latencyMs: number): void {
    const now = this.now();
    const minute = Math.floor(now / 60_000);
    this.lastMinute = minute;
    const bucket = bucketIndex(latencyMs);
    add(claim(this.#minutes[minute % MINUTES] as Slot, minute), outcome, bucket);
    this.listener(this, minute * 60_000, outcome);
  }

  /** Counts of the minutes still held, as (minute start ms, counts by outcome index). */
  *minutes(): Generator<[number, Uint32Array]> {
    for (const slot of this.#minutes) if (slot.at >= 0) yield [slot.at * 60_000, slot.counts];
  }

  /** The trailing `minutes` (<= 15) including the current one. */
  summary(minutes: number): InstanceSummary {
    const counts = new Uint32Array(ATTEMPT_OUTCOMES.length);
    const latency = newSketch();
    const current = Math.floor(this.now() / 60_000);
    for (const slot of this.#minutes) {
      if (slot.at <= current - minutes || slot.at > current) continue;
      for (let i = 0; i < counts.length; i++)
        counts[i] = (counts[i] as number) + (slot.counts[i] as number);
      mergeSketch(latency, slot.latency);
    }
    let attempts = 0;
    for (const c of counts) attempts += c;
    return {
      attempts,
      outcomes: outcomeRecord(counts),
      p50Ms: quantileMs(latency, 0.5),
      p99Ms: quantileMs(latency, 0.99),
    };
  }
}
