/** One gateway worker under `--workers`: reports ready, relays admin reloads, drains on the primary's word or a signal. */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Gateway } from './gateway.js';
import { WORKER_INDEX_ENV, type ParentMessage, type WorkerMessage } from './cluster-messages.js';

/** This worker's slot (1..N), or undefined outside a `--workers` cluster. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_INDEX_ENV]);
  return Number.isInteger(index) && index >= 1 ? index : undefined;
}

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

/**
 * Runs a started gateway as a cluster worker until the primary says `drain`, the IPC channel closes
 * (the primary is gone) or SIGTERM/SIGINT arrives; then drains it and leaves the cluster. Resolves with 0.
 * `relayReloads` (worker 1, which owns the admin listener) tells the primary about each successful admin
 * reload so every other worker reloads too; the file watcher covers edits in every worker already.
 */
export async function runWorker(gateway: Gateway, relayReloads: boolean, logger: Logger): Promise<number> {
  if (relayReloads) {
    const reload = gateway.reload.bind(gateway);
    gateway.reload = () => {
      const result = reload();
      if (result.ok) send({ type: 'reloaded' });
      return result;
    };
  }
  const done = new Promise<string>((resolve) => {
    process.on('message', (message: ParentMessage) => {
      if (message.type === 'drain') resolve('drain');
      if (message.type === 'reload') gateway.reload();
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
