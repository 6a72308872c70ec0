/** The `services.<name>.adaptiveConcurrency` config block, read by traffic/adaptive-concurrency.ts. */
import { z } from 'zod';
import { duration } from './duration.js';

/**
 * Config fragment for `services.<name>.adaptiveConcurrency` (opt-in; absent means no limit).
 * Durations use the config's duration strings and come out in ms.
 */
export const adaptiveConcurrencySchema = z.strictObject({
  initialLimit: z.number().int().min(1).default(20),
  minLimit: z.number().int().min(1).default(1),
  maxLimit: z.number().int().min(1).default(1000),
  sampleInterval: duration.default(100),
  minRttInterval: duration.default(60_000),
  minRttSamples: z.number().int().min(1).default(50),
  minConcurrency: z.number().int().min(1).default(3),
  buffer: z.number().min(0).max(1).default(0.25),
  percentile: z.number().gt(0).max(1).default(0.5),
});

/** Options as the schema outputs them (durations in ms). */
export type AdaptiveConcurrencyConfig = z.output<typeof adaptiveConcurrencySchema>;
