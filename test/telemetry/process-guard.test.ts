import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const GUARD = fileURLToPath(new URL('../../src/telemetry/process-guard.ts', import.meta.url));
const METRICS = fileURLToPath(new URL('../../src/telemetry/metrics/metrics.ts', import.meta.url));

// The guard changes process-wide handlers, so it runs in a child process of its own.
const script = `
import pino from 'pino';
import { guardProcess } from ${JSON.stringify(GUARD)};
import { GatewayMetrics } from ${JSON.stringify(METRICS)};
guardProcess(pino());
setImmediate(() => { throw new Error('stream blew up'); });
Promise.reject(new Error('nobody awaited this'));
setTimeout(async () => {
  const text = await new GatewayMetrics({ defaultMetrics: false }).registry.metrics();
  process.stdout.write('still running: ' + /edgeway_process_errors_total (\\d+)/.exec(text)[1] + '\\n');
}, 100);
`;

test('an error nothing handled is logged and counted, and the process keeps running', () => {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /still running: 2\n/);
  const logged = run.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; err?: { message: string } });
  assert.deepEqual(
    logged.map((line) => line.err?.message),
    ['nobody awaited this', 'stream blew up'],
  );
});
