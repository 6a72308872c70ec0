/** `--workers`: one scrape of `/metrics` (on worker 1) answers for every worker, summed by prom-client's aggregator. */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsJson, ParentMessage, WorkerMessage } from './cluster-messages.js';

/** How long the primary waits for a worker's metrics, and worker 1 for the primary's answer, ms. */
const GATHER_TIMEOUT_MS = 3000;

/**
 * Gauges that are each process's view of one shared state, not a share of a total: summing them would
 * report N for "up". The lowest value says "some worker sees it down", which is what an alert wants.
 */
const LOWEST_OF_WORKERS: ReadonlySet<string> = new Set([
  'edgeway_redis_up',
  'edgeway_instance_healthy',
  'edgeway_certificate_expiry_timestamp_seconds',
]);

/** Primary side: asks workers for their metrics and hands the collection to the worker that was scraped. */
export class MetricsGatherer {
  #nextId = 0;
  readonly #pending = new Map<number, (metrics: MetricsJson) => void>();

  /** Collects from `workers` (a worker that does not answer in time is left out) and sends the parts to `requester`. */
  async answer(requester: Worker, id: number, workers: readonly Worker[]): Promise<void> {
    const parts = await Promise.all(workers.map((worker) => this.#ask(worker)));
    if (requester.isConnected()) {
      requester.send({
        type: 'metrics-parts',
        id,
        parts: parts.filter((part): part is MetricsJson => part !== undefined),
      } satisfies ParentMessage);
    }
  }

  /** Takes a worker's `metrics-part`. */
  received(message: Extract<WorkerMessage, { type: 'metrics-part' }>): void {
    this.#pending.get(message.id)?.(message.metrics);
  }

  #ask(worker: Worker): Promise<MetricsJson | undefined> {
    if (!worker.isConnected()) return Promise.resolve(undefined);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(undefined), GATHER_TIMEOUT_MS);
      const settle = (metrics: MetricsJson | undefined): void => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(metrics);
      };
      this.#pending.set(id, settle);
      worker.send({ type: 'metrics-collect', id } satisfies ParentMessage);
    });
  }
}

/** Worker side: answers the primary's `metrics-collect` with `registry`, and serves worker 1's cluster-wide scrape. */
export class WorkerMetrics {
  #nextId = 0;
  readonly #waiting = new Map<number, (parts: readonly MetricsJson[]) => void>();

  constructor(private readonly send: (message: WorkerMessage) => void) {}

  /** Handles the metrics messages of the primary; `registry` is this worker's. */
  received(message: ParentMessage, registry: Registry): void {
    if (message.type === 'metrics-collect') {
      registry.getMetricsAsJSON().then(
        (metrics) => this.send({ type: 'metrics-part', id: message.id, metrics }),
        () => this.send({ type: 'metrics-part', id: message.id, metrics: [] }),
      );
    } else if (message.type === 'metrics-parts') {
      this.#waiting.get(message.id)?.(message.parts);
    }
  }

  /** The Prometheus text of every worker's metrics together; rejects when the primary does not answer. */
  readonly exposition = async (): Promise<{ contentType: string; body: string }> => {
    const id = this.#nextId++;
    const parts = await new Promise<readonly MetricsJson[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error('the primary did not answer the metrics request'));
      }, GATHER_TIMEOUT_MS + 1000);
      this.#waiting.set(id, (answer) => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve(answer);
      });
      this.send({ type: 'metrics-request', id });
    });
    for (const part of parts) {
      for (const metric of part) if (LOWEST_OF_WORKERS.has(metric.name)) metric.aggregator = 'min';
    }
    const registry = AggregatorRegistry.aggregate(parts as MetricsJson[]);
    return { contentType: registry.contentType, body: await registry.metrics() };
  };
}
