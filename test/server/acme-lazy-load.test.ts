/** A gateway without ACME never loads the ACME client libraries, which would hold heap for its whole life. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const HELPER = new URL('../helpers/gateway.ts', import.meta.url).href;

// A fresh process: this test runner's own module cache says nothing about what a gateway start loads.
const SCRIPT = `
import { createRequire } from 'node:module';
const { startGateway } = await import(${JSON.stringify(HELPER)});
const gw = await startGateway({
  'config.yaml': 'services:\\n  echo: { instances: [http://127.0.0.1:9] }\\nroutes:\\n  - { name: echo, match: { path: /echo }, service: echo }\\n',
});
const files = Object.keys(createRequire(process.cwd() + '/').cache);
const loaded = files.filter((file) =>
  /[\\\\/]node_modules[\\\\/](acme-client|@peculiar[\\\\/]x509|axios)[\\\\/]/.test(file),
);
// undici, a CommonJS package every gateway loads, shows that the cache lists what was imported.
const undici = files.some((file) => /[\\\\/]node_modules[\\\\/]undici[\\\\/]/.test(file));
await gw.stop();
process.stdout.write(JSON.stringify({ loaded, undici }));
`;

test('starting a gateway without gateway.tls.acme loads neither acme-client, axios nor @peculiar/x509', async () => {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', SCRIPT],
    { cwd: fileURLToPath(new URL('../../', import.meta.url)), timeout: 60_000 },
  );
  assert.deepEqual(JSON.parse(stdout), { loaded: [], undici: true });
});
