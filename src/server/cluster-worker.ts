/** One gateway worker under `--workers`: reports ready, relays reloads and serves cluster-wide metrics (worker 1), drains on the primary's word or a signal. */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Gateway, GatewayOptions } from './gateway.js';
import { WORKER_INDEX_ENV, type ParentMessage, type WorkerMessage } from './cluster-messages.js';
import { WorkerMetrics } from './cluster-metrics.js';

/** This worker's slot (1..N), or undefined outside a `--workers` cluster. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_INDEX_ENV]);
  return Number.isInteger(index) && index >= 1 ? index : undefined;
}

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

/** What a worker adds to its gateway: the options to start it with, and its side of the metrics exchange. */
export interface WorkerHooks {
  readonly options: Pick<GatewayOptions, 'onReloaded' | 'metricsExposition'>;
  readonly metrics: WorkerMetrics;
}

/**
 * Worker 1 owns the admin listener: it tells the primary about each successful reload so every other worker
 * reloads too (the file watcher covers edits in every worker already), and its /metrics answers for all workers.
 */
export function workerHooks(index: number): WorkerHooks {
  const metrics = new WorkerMetrics(send);
  const options =
    index === 1
      ? { onReloaded: () => send({ type: 'reloaded' }), metricsExposition: metrics.exposition }
      : {};
  return { options, metrics };
}

/**
 * Runs a started gateway as a cluster worker until the primary says `drain`, the IPC channel closes
 * (the primary is gone) or SIGTERM/SIGINT arrives; then drains it and leaves the cluster. Resolves with 0.
 */
export async function runWorker(
  gateway: Gateway,
  metrics: WorkerMetrics,
  logger: Logger,
): Promise<number> {
  const done = new Promise<string>((resolve) => {
    process.on('message', (message: ParentMessage) => {
      if (message.type === 'drain') resolve('drain');
      else if (message.type === 'reload')
        gateway.reload().catch((err: unknown) => logger.error({ err }, 'config reload failed'));
      else metrics.received(message, gateway.metricsRegistry);
    });
    process.once('disconnect', () => resolve('primary gone'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // A terminal hang-up reaches the whole process group; only the primary acts on SIGHUP (rolling restart).
  process.on('SIGHUP', () => undefined);
  send({ type: 'ready', port: gateway.port, adminPort: gateway.adminPort });
  const reason = await done;
  logger.info({ reason, pid: process.pid }, 'worker draining');
  // gateway.stop() leaves the round-robin first, then closes each connection between requests: one handed over
  // a moment ago gets its request answered (with Connection: close) like any other.
  await gateway.stop();
  cluster.worker?.disconnect();
  return 0;
}
