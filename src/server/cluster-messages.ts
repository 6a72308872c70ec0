/** The messages the `--workers` primary and its gateway workers exchange over the cluster IPC channel. */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** The environment variable carrying a worker's slot number (1..N); worker 1 owns the admin listener. */
export const WORKER_INDEX_ENV = 'EDGEWAY_WORKER_INDEX';

/** One worker's metrics as prom-client's `getMetricsAsJSON()` gives them. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * Worker -> primary: `ready` once both listeners are bound; `reloaded` after a reload on worker 1, to relay;
 * `metrics-request` when worker 1 is scraped; `metrics-part`, a worker's answer to `metrics-collect`.
 */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly port: number; readonly adminPort: number }
  | { readonly type: 'reloaded' }
  | { readonly type: 'metrics-request'; readonly id: number }
  | { readonly type: 'metrics-part'; readonly id: number; readonly metrics: MetricsJson };

/**
 * Primary -> worker: `drain` stops the gateway and exits; `reload` re-reads the config; `metrics-collect` asks
 * for the worker's metrics; `metrics-parts` answers worker 1's `metrics-request` with every worker's.
 */
export type ParentMessage =
  | { readonly type: 'drain' }
  | { readonly type: 'reload' }
  | { readonly type: 'metrics-collect'; readonly id: number }
  | { readonly type: 'metrics-parts'; readonly id: number; readonly parts: readonly MetricsJson[] };
