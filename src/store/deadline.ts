/** Bounds how long a store call may take (rate-limit decisions, API-key lookups), without a timer per call on the request path. */

/** The store did not answer within the budget. */
export class StoreTimeoutError extends Error {
  constructor(budgetMs: number) {
    super(`store did not answer within ${budgetMs} ms`);
    this.name = 'StoreTimeoutError';
  }
}

interface Pending {
  readonly dueAt: number;
  readonly budgetMs: number;
  readonly reject: (err: Error) => void;
}

const pending = new Set<Pending>();
const TICK_MS = 5;
let ticker: NodeJS.Timeout | undefined;

function tick(): void {
  const now = performance.now();
  for (const entry of pending) {
    if (entry.dueAt > now) continue;
    pending.delete(entry);
    entry.reject(new StoreTimeoutError(entry.budgetMs));
  }
  if (pending.size === 0) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

/**
 * Settles like `work`, or rejects with StoreTimeoutError after about `budgetMs` (within 5 ms). One shared
 * ticker watches every pending call: a setTimeout/clearTimeout pair and a Promise.race per rate-limit
 * decision cost several percent of the proxy path's CPU.
 */
export function withDeadline<T>(work: Promise<T>, budgetMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry: Pending = { dueAt: performance.now() + budgetMs, budgetMs, reject };
    pending.add(entry);
    ticker ??= setInterval(tick, TICK_MS).unref();
    work.then(
      (value) => {
        if (pending.delete(entry)) resolve(value);
      },
      (err: unknown) => {
        if (pending.delete(entry)) reject(err);
      },
    );
  });
}
