/**
 * `node --import tsx bench/plugin-overhead.ts`: the cost of one no-op plugin, in-process and short (a few
 * seconds, not a load test). Two routes on one gateway, identical but for `plugins: [{ name: noop }]`, are
 * called in alternating rounds over one keep-alive connection; prints the median time per request of each
 * and their ratio with an identical twin route as the A/A noise floor, and the plugin stage alone per call in a tight loop.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Pool } from 'undici';
import { Gateway } from '../src/server/gateway.js';
import { buildPluginStage } from '../src/plugins/stage.js';
import type { RequestContext } from '../src/request/context.js';
import { SpanFactory } from '../src/telemetry/tracing/spans.js';
import { startTracing } from '../src/telemetry/tracing/otel.js';
import { median } from './median.js';

const ROUNDS = 30;
const PER_ROUND = 200;

async function main(): Promise<void> {
  const upstream = createServer((_req, res) =>
    res.writeHead(200, { 'content-length': '2' }).end('ok'),
  );
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-plugin-bench-'));
  writeFileSync(
    join(dir, 'noop.mjs'),
    `export default { name: 'noop', create() { return { onRequest() {} }; } };`,
  );
  writeFileSync(
    join(dir, 'c.yaml'),
    `services:
  svc: { instances: ["http://127.0.0.1:${(upstream.address() as AddressInfo).port}"] }
plugins:
  - { name: noop, module: ./noop.mjs }
routes:
  - { name: plain, match: { path: /plain }, service: svc }
  - { name: twin, match: { path: /twin }, service: svc }
  - { name: noop, match: { path: /noop }, service: svc, plugins: [{ name: noop }] }
`,
  );
  const gateway = await Gateway.start({
    configPath: dir,
    port: 0,
    adminPort: 0,
    dataDir: join(dir, '.data'),
    logger: pino({ level: 'silent' }),
    accessLog: { destination: { write: () => undefined }, minLength: 0 },
    watch: false,
    tracing: { env: {} },
  });
  const pool = new Pool(`http://127.0.0.1:${gateway.port}`, { connections: 1 });
  const round = async (path: string): Promise<number> => {
    const started = performance.now();
    for (let i = 0; i < PER_ROUND; i++)
      await (await pool.request({ path, method: 'GET' })).body.dump();
    return ((performance.now() - started) * 1000) / PER_ROUND;
  };
  await round('/plain');
  await round('/noop');
  await round('/twin');
  const times: Record<string, number[]> = { '/plain': [], '/twin': [], '/noop': [] };
  const order = Object.keys(times);
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate which goes first, so drift and warm-up fall on all alike.
    for (let k = 0; k < order.length; k++) {
      const path = order[(r + k) % order.length] as string;
      times[path]?.push(await round(path));
    }
  }
  const [p, t, n] = order.map((path) => median(times[path] as number[])) as [
    number,
    number,
    number,
  ];
  process.stdout.write(
    `per request (median of ${ROUNDS} rounds of ${PER_ROUND}): plain ${p.toFixed(1)} us, its twin (A/A) ${t.toFixed(1)} us, one no-op plugin ${n.toFixed(1)} us; no-op/plain ${(n / p).toFixed(3)}, twin/plain ${(t / p).toFixed(3)}\n`,
  );

  const stage = buildPluginStage('noop', [{ name: 'noop', instance: { onRequest() {} } }], {
    spans: new SpanFactory(startTracing({ env: {} })),
    timeoutMs: 60_000,
    onFailure: () => undefined,
  });
  const ctx = { trace: { span: { isRecording: () => false } } } as unknown as RequestContext;
  const calls = 2_000_000;
  for (let i = 0; i < 100_000; i++) stage?.(ctx);
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) stage?.(ctx);
  const ns = Number(process.hrtime.bigint() - started) / calls;
  process.stdout.write(
    `plugin stage alone: ${ns.toFixed(0)} ns per call (view, timing check, hook)\n`,
  );
  await pool.close();
  await gateway.stop();
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
