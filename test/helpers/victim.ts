/** A client that keeps being served while attacks run next to it: one request at once, then every 100 ms. */
import assert from 'node:assert/strict';

/** A running victim; `stop` ends its requests, waits for those in flight and asserts every one got a 200. */
export interface Victim {
  stop(): Promise<void>;
}

/** Calls `ask` (one request, resolving with its status) now and every 100 ms until stopped; a failure counts as 0. */
export function startVictim(ask: () => Promise<number>): Victim {
  const statuses: number[] = [];
  const pending = new Set<Promise<void>>();
  const send = (): void => {
    const done = ask().then(
      (status) => void statuses.push(status),
      () => void statuses.push(0),
    );
    pending.add(done);
    void done.finally(() => pending.delete(done));
  };
  send();
  const interval = setInterval(send, 100);
  return {
    async stop() {
      clearInterval(interval);
      // A suite of quick attacks can end before the first answer arrives: its status still counts.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(pending),
        new Promise((resolve) => (timer = setTimeout(resolve, 5000))),
      ]);
      clearTimeout(timer);
      assert.equal(pending.size, 0, 'every victim request was answered within 5 s of the end');
      assert.ok(statuses.length > 0, 'the victim sent requests');
      assert.deepEqual(
        statuses.filter((status) => status !== 200),
        [],
        'the victim got only 200s throughout',
      );
    },
  };
}
