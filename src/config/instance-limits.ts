/** Bounds of an instance's registration, shared by config `instances`, the registry and its writers. */

/**
 * Largest weight: a weighted balancer sums weights, and a sum that reaches Infinity turns its
 * arithmetic into NaN; 10000 still gives one instance 99.99% of its peer's traffic.
 */
export const MAX_INSTANCE_WEIGHT = 10_000;

/**
 * Largest capacity (requests at once): least-request divides load by it, so one instance declaring
 * 1e308 would draw every request from its peers; no single instance holds a million open requests.
 */
export const MAX_INSTANCE_CAPACITY = 1_000_000;

/** Longest registration TTL, ms (24h): a crashed instance must drop out within a day, not decades. */
export const MAX_REGISTRATION_TTL_MS = 24 * 3_600_000;
