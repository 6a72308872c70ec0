/** The one polling helper of the test suite: wait until a condition holds, or fail naming what was awaited. */

/**
 * Polls `check` (sync or async; a rejection counts as "not yet") every `everyMs` until it returns true.
 * Resolves with the milliseconds it took; rejects after `timeoutMs` with a message naming `what`.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
