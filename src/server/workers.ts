/** `--workers N`: the primary process that forks gateway workers, restarts them one at a time on SIGHUP and drains them on SIGTERM. */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { WORKER_INDEX_ENV, type ParentMessage, type WorkerMessage } from './cluster-messages.js';
import { MetricsGatherer } from './cluster-metrics.js';

/** The most workers edgeway forks; more only adds context switches on any machine we expect. */
export const MAX_WORKERS = 64;

/** Reads `--workers`: a count 1..64 or `auto` (one per CPU the process may use); undefined when invalid. */
export function parseWorkerCount(
  value: string,
  cpus: number = availableParallelism(),
): number | undefined {
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
 * Keeps N gateway workers running in slots 1..N. Workers share the public listener through cluster's
 * round-robin handle. Only worker 1 binds the admin port (the others bind theirs on an ephemeral port nobody
 * is told about); its /metrics answers for every worker, and a reload on it is relayed to every worker.
 */
export class WorkerSupervisor {
  readonly #slots = new Map<number, Worker>();
  readonly #metrics = new MetricsGatherer();
  #stopping = false;
  #restarting: Promise<void> | undefined;
  #restartAgain = false;

  constructor(private readonly options: PrimaryOptions) {}

  /** Forks every worker; false (with every worker gone again) when one cannot start. */
  async start(): Promise<boolean> {
    try {
      await Promise.all(Array.from({ length: this.options.count }, (_, i) => this.#fork(i + 1)));
      return true;
    } catch (err) {
      this.options.logger.error({ err: (err as Error).message }, 'workers failed to start');
      await this.stop();
      return false;
    }
  }

  /** The PIDs of the running workers, by slot. */
  pids(): number[] {
    return [...this.#slots.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, worker]) => worker.process.pid as number);
  }

  /** SIGHUP: a rolling restart, so every worker reads the config and certificates afresh; one asked for during a restart runs after it. */
  hangup(): void {
    if (this.#restarting !== undefined) {
      this.#restartAgain = true;
      return;
    }
    this.options.logger.info('SIGHUP: rolling restart of workers');
    this.#restarting = this.#rollingRestart()
      .catch((err: unknown) => this.options.logger.error({ err }, 'rolling restart failed'))
      .finally(() => {
        this.#restarting = undefined;
      });
  }

  /** Drains every worker (killing those that overrun the stop timeout). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      Object.values(cluster.workers ?? {}).map((w) =>
        w === undefined ? undefined : this.#drain(w),
      ),
    );
  }

  #fork(index: number): Promise<Worker> {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    worker.on('message', (message: WorkerMessage) => this.#received(worker, message));
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
      const onReady = (message: WorkerMessage): void => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        worker.off('exit', onExit);
        worker.off('message', onReady);
        worker.once('exit', (code, signal) => this.#replaceIfCrashed(index, worker, code, signal));
        this.#slots.set(index, worker);
        this.options.logger.info(
          { worker: index, pid: worker.process.pid, port: message.port },
          'worker listening',
        );
        resolve(worker);
      };
      worker.on('message', onReady);
    });
  }

  #received(worker: Worker, message: WorkerMessage): void {
    if (message.type === 'reloaded') this.#broadcast({ type: 'reload' }, worker);
    else if (message.type === 'metrics-request')
      void this.#metrics.answer(worker, message.id, [...this.#slots.values()]);
    else if (message.type === 'metrics-part') this.#metrics.received(message);
  }

  #broadcast(message: ParentMessage, except?: Worker): void {
    for (const w of this.#slots.values()) if (w !== except && w.isConnected()) w.send(message);
  }

  #replaceIfCrashed(
    index: number,
    worker: Worker,
    code: number | null,
    signal: string | null,
  ): void {
    if (this.#stopping || this.#slots.get(index) !== worker) return;
    this.options.logger.error(
      { worker: index, pid: worker.process.pid, code, signal },
      'worker died; starting a new one',
    );
    this.#slots.delete(index);
    setTimeout(() => {
      if (!this.#stopping)
        this.#fork(index).catch((err: unknown) =>
          this.options.logger.error({ err }, 'replacement worker failed to start'),
        );
    }, RESPAWN_DELAY_MS).unref();
  }

  async #drain(worker: Worker): Promise<void> {
    if (worker.isDead()) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    if (worker.isConnected()) worker.send({ type: 'drain' } satisfies ParentMessage);
    else worker.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.options.logger.warn(
        { pid: worker.process.pid },
        'worker did not drain in time; killing it',
      );
      worker.process.kill('SIGKILL');
    }, this.options.stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** One worker at a time: the replacement is listening before the old one drains, so capacity never drops below N. */
  async #rollingRestart(): Promise<void> {
    do {
      this.#restartAgain = false;
      for (const index of [...this.#slots.keys()].sort((a, b) => a - b)) {
        if (this.#stopping) return;
        const old = this.#slots.get(index);
        try {
          await this.#fork(index);
        } catch (err) {
          this.options.logger.error(
            { err: (err as Error).message, worker: index },
            'rolling restart: new worker failed to start; keeping the old one',
          );
          continue;
        }
        if (old !== undefined) await this.#drain(old);
      }
      this.options.logger.info({ workers: this.#slots.size }, 'rolling restart done');
    } while (this.#restartAgain && !this.#stopping);
  }
}

/** Runs the primary until SIGTERM/SIGINT; resolves with the exit code (1 when the first workers cannot start). */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const supervisor = new WorkerSupervisor(options);
  if (!(await supervisor.start())) return 1;
  const pids = supervisor.pids();
  logger.info(
    { workers: options.count, pids, primary: process.pid, worker1: pids[0] },
    'edgeway listening',
  );
  const onHangup = (): void => supervisor.hangup();
  process.on('SIGHUP', onHangup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.off('SIGHUP', onHangup);
  logger.info({ signal }, 'draining workers');
  await supervisor.stop();
  logger.info('stopped');
  return 0;
}
