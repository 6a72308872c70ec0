/** Races a promise against a timer, so a slow or unreachable store costs at most a fixed budget. */

/** Thrown when the store did not answer within its budget. */
export class StoreTimeoutError extends Error {
  constructor(budgetMs: number) {
    super(`store did not answer within ${budgetMs} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/**
 * Resolves with `work` or rejects with StoreTimeoutError after `budgetMs`. A late rejection of `work`
 * is swallowed here on purpose: the caller has already moved on and counted the timeout.
 */
export function withDeadline<T>(work: Promise<T>, budgetMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(budgetMs)), budgetMs);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
