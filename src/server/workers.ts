/** `--workers N`: the primary process that forks gateway workers, restarts them one at a time on SIGHUP and drains them on SIGTERM. */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { WORKER_INDEX_ENV, type ParentMessage, type WorkerMessage } from './cluster-messages.js';

/** The most workers edgeway forks; more only adds context switches on any machine we expect. */
export const MAX_WORKERS = 64;

/** Reads `--workers`: a count 1..64 or `auto` (one per CPU the process may use); undefined when invalid. */
export function parseWorkerCount(value: string, cpus: number = availableParallelism()): number | undefined {
  if (value === 'auto') return Math.max(1, Math.min(cpus, MAX_WORKERS));
  if (!/^\d+$/.test(value)) return undefined;
  const count = Number(value);
  return count >= 1 && count <= MAX_WORKERS ? count : undefined;
}

/** How the primary runs its workers. */
export interface PrimaryOptions {
  readonly count: number;
  /** How long workers get to drain on SIGTERM before they are killed, ms (the config's shutdownTimeout plus a margin). */
  readonly stopTimeoutMs: number;
  readonly logger: Logger;
}

/** How long a starting worker may take to bind its listeners, ms. */
const START_TIMEOUT_MS = 30_000;
/** Pause before replacing a worker that died by itself, ms, so a crash loop does not spin a CPU. */
const RESPAWN_DELAY_MS = 1000;

/**
 * Runs the primary until SIGTERM/SIGINT; resolves with the exit code (1 when the first workers cannot start).
 * Workers share the public listener through cluster's round-robin handle. Only worker 1 binds the admin
 * port (the others bind theirs on an ephemeral port nobody is told about), so /metrics and the admin API
 * answer for one process; POST /admin/reload on worker 1 is relayed to every worker.
 */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const slots = new Map<number, Worker>();
  let stopping = false;

  const fork = (index: number): Promise<Worker> => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    return new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.process.kill('SIGKILL');
        reject(new Error(`worker ${index} did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer);
        reject(new Error(`worker ${index} exited before listening (${signal ?? `code ${code}`})`));
      };
      worker.once('exit', onExit);
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'reloaded') broadcast({ type: 'reload' }, worker);
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        worker.off('exit', onExit);
        worker.once('exit', (code, signal) => replaceIfCrashed(index, worker, code, signal));
        slots.set(index, worker);
        logger.info({ worker: index, pid: worker.process.pid, port: message.port }, 'worker listening');
        resolve(worker);
      });
    });
  };

  const broadcast = (message: ParentMessage, except?: Worker): void => {
    for (const w of slots.values()) if (w !== except && w.isConnected()) w.send(message);
  };

  const replaceIfCrashed = (index: number, worker: Worker, code: number | null, signal: string | null): void => {
    if (stopping || slots.get(index) !== worker) return;
    logger.error({ worker: index, pid: worker.process.pid, code, signal }, 'worker died; starting a new one');
    slots.delete(index);
    setTimeout(() => {
      if (!stopping) fork(index).catch((err: unknown) => logger.error({ err }, 'replacement worker failed to start'));
    }, RESPAWN_DELAY_MS).unref();
  };

  const drain = async (worker: Worker): Promise<void> => {
    if (worker.isDead()) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    if (worker.isConnected()) worker.send({ type: 'drain' } satisfies ParentMessage);
    else worker.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      logger.warn({ pid: worker.process.pid }, 'worker did not drain in time; killing it');
      worker.process.kill('SIGKILL');
    }, options.stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  };

  // One worker at a time: the replacement is listening before the old one drains, so capacity never drops below N.
  let restarting: Promise<void> | undefined;
  let restartAgain = false;
  const rollingRestart = async (): Promise<void> => {
    do {
      restartAgain = false;
      for (const index of [...slots.keys()].sort((a, b) => a - b)) {
        if (stopping) return;
        const old = slots.get(index);
        try {
          await fork(index);
        } catch (err) {
          logger.error({ err: (err as Error).message, worker: index }, 'rolling restart: new worker failed to start; keeping the old one');
          continue;
        }
        if (old !== undefined) await drain(old);
      }
      logger.info({ workers: slots.size }, 'rolling restart done');
    } while (restartAgain && !stopping);
  };

  try {
    await Promise.all(Array.from({ length: options.count }, (_, i) => fork(i + 1)));
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'workers failed to start');
    stopping = true;
    await Promise.all(Object.values(cluster.workers ?? {}).map((w) => (w === undefined ? undefined : drain(w))));
    return 1;
  }
  const first = slots.get(1);
  logger.info({ workers: options.count, pids: [...slots.values()].map((w) => w.process.pid), primary: process.pid, worker1: first?.process.pid }, 'edgeway listening');

  const onHangup = (): void => {
    if (restarting !== undefined) {
      restartAgain = true;
      return;
    }
    logger.info('SIGHUP: rolling restart of workers');
    restarting = rollingRestart()
      .catch((err: unknown) => logger.error({ err }, 'rolling restart failed'))
      .finally(() => {
        restarting = undefined;
      });
  };
  process.on('SIGHUP', onHangup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.off('SIGHUP', onHangup);
  stopping = true;
  logger.info({ signal }, 'draining workers');
  await Promise.all(Object.values(cluster.workers ?? {}).map((w) => (w === undefined ? undefined : drain(w))));
  logger.info('stopped');
  return 0;
}
