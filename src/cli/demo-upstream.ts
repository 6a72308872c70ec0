/** A demo upstream process for `edgeway demo`: an echo server that registers itself through the admin API. */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { adminClient } from './admin-client.js';
import { printMessage } from './args.js';
import { registerViaAdmin } from './admin-registration.js';
import { stderrLogger, untilSignal } from './register.js';

/** TTL the demo instances register with, ms: a killed demo instance leaves the gateway within it. */
const DEMO_TTL_MS = 10_000;

/** The node arguments that run this module as its own process (through tsx when running from sources). */
export function demoUpstreamCommand(): string[] {
  const file = fileURLToPath(import.meta.url);
  return file.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), file] : [file];
}

/**
 * Serves `{instance, method, url, headers}` on a free loopback port, registers as `service/name` at the
 * admin API, prints `ready <url>`, and on SIGINT/SIGTERM deregisters, closes and resolves.
 */
export async function runDemoUpstream(argv: readonly string[]): Promise<void> {
  const [service, name, admin] = argv;
  if (service === undefined || name === undefined || admin === undefined)
    throw new Error('usage: demo-upstream SERVICE NAME ADMIN_URL');
  const server = createServer((req, res) => {
    const payload = JSON.stringify(
      { instance: name, method: req.method, url: req.url, headers: req.headers },
      null,
      2,
    );
    // Drain the request body so keep-alive connections stay usable.
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        })
        .end(payload),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signal = untilSignal();
  const registration = await registerViaAdmin({
    admin: adminClient(admin),
    service,
    id: name,
    url,
    meta: { demo: 'true' },
    ttlMs: DEMO_TTL_MS,
    logger: stderrLogger,
  });
  process.stdout.write(`ready ${url}\n`);
  await signal;
  await registration.stop();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runDemoUpstream(process.argv.slice(2)).then(
    () => {
      process.exitCode = 0;
    },
    (err: unknown) => {
      printMessage(`demo upstream: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
