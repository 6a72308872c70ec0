/** Starts Debian's `pebble` ACME test server with `pebble-challtestsrv` as its DNS (every name is 127.0.0.1). */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { createCa, type TestCa } from './certs.js';
import { freePort } from './redis-server.js';

/** A pebble the test owns, validating against edgeway's ports. */
export interface TestPebble {
  /** The directory URL for `acme.directory`. */
  readonly directory: string;
  /** PEM path of the CA behind pebble's own HTTPS listener, for `acme.ca`. */
  readonly caPath: string;
  /** Starts pebble (again, on the same ports after `stopPebble`). */
  startPebble(): Promise<void>;
  /** Stops pebble only (the DNS stays): the "CA down" case. */
  stopPebble(): Promise<void>;
  /** Stops everything and removes the files. */
  stop(): Promise<void>;
}

async function kill(proc: ChildProcess | undefined): Promise<void> {
  if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  process.kill(proc.pid as number, 'SIGKILL');
  await exited;
}

function directoryAnswers(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Configures pebble to validate HTTP-01 on `httpPort` and TLS-ALPN-01 on `tlsPort` (edgeway's redirect
 * and TLS listeners). `start: false` only prepares it, for the "CA down at start" case.
 */
export async function createPebble(options: {
  httpPort: number;
  tlsPort: number;
  start?: boolean;
}): Promise<TestPebble> {
  const ca: TestCa = createCa('pebble listener CA');
  const listener = ca.issue('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
  const [acmePort, mgmtPort, dnsPort, dnsMgmtPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const configPath = join(ca.dir, 'pebble.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: listener.certPath,
        privateKey: listener.keyPath,
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  // No AAAA answers: edgeway listens on 127.0.0.1 only.
  const dns = spawn(
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${dnsMgmtPort}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    { stdio: 'ignore' },
  );
  const directory = `https://127.0.0.1:${acmePort}/dir`;
  let pebble: ChildProcess | undefined;
  const startPebble = async (): Promise<void> => {
    pebble = spawn('pebble', ['-config', configPath, '-dnsserver', `127.0.0.1:${dnsPort}`], {
      stdio: 'ignore',
      // No sleeps before validation, no random nonce rejections, no authorization reuse: each order validates for real.
      env: {
        ...process.env,
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        PEBBLE_AUTHZREUSE: '0',
      },
    });
    const deadline = Date.now() + 15_000;
    while (!(await directoryAnswers(directory, ca.cert))) {
      if (Date.now() > deadline) throw new Error('pebble did not start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  if (options.start !== false) await startPebble();
  return {
    directory,
    caPath: ca.certPath,
    startPebble,
    stopPebble: () => kill(pebble),
    stop: async () => {
      await Promise.all([kill(pebble), kill(dns)]);
      ca.cleanup();
    },
  };
}
