/** A client that keeps being served while attacks run next to it: one request every 100 ms, each status kept. */
import assert from 'node:assert/strict';

/** A running victim; `stop` ends its requests and asserts that every one of them got a 200. */
export interface Victim {
  stop(): void;
}

/** Calls `ask` (one request, resolving with its status) every 100 ms until stopped; a failure counts as 0. */
export function startVictim(ask: () => Promise<number>): Victim {
  const statuses: number[] = [];
  const timer = setInterval(() => {
    ask().then(
      (status) => statuses.push(status),
      () => statuses.push(0),
    );
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      assert.ok(statuses.length > 0, 'the victim sent requests');
      assert.deepEqual(
        statuses.filter((status) => status !== 200),
        [],
        'the victim got only 200s throughout',
      );
    },
  };
}
