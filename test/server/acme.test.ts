/** ACME against a real pebble: HTTP-01 and TLS-ALPN-01 validations, shared certificates, restarts, renewals, CA outages. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import pino from 'pino';
import { Gateway } from '../../src/server/gateway.js';
import { createPebble, type TestPebble } from '../helpers/pebble.js';
import { freePort, startRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

const DOMAIN = 'shop.acme.test';

/** The certificate the gateway presents for `servername`: serial and issuer CN (chain not verified: placeholders are asserted too). */
function served(port: number, servername: string): Promise<{ serial: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerCertificate();
      socket.destroy();
      const cn = peer.issuer.CN;
      resolve({ serial: peer.serialNumber, issuer: Array.isArray(cn) ? cn.join(',') : (cn ?? '') });
    });
    socket.on('error', reject);
  });
}

const isPebble = (issuer: string): boolean => /^Pebble Intermediate/.test(issuer);

interface Started {
  readonly gateway: Gateway;
  readonly port: number;
  stop(): Promise<void>;
}

/** A gateway on fixed ports (pebble must know them) with `acme` settings, on `dataDir` and optionally Redis. */
async function startAcmeGateway(options: { port: number; redirectPort?: number; dataDir: string; redisUrl?: string; acme: string; alerts?: string }): Promise<Started> {
  const configDir = mkdtempSync(join(tmpdir(), 'edgeway-acme-'));
  const redirect = options.redirectPort === undefined ? '' : `, redirectHttpPort: ${options.redirectPort}`;
  writeFileSync(join(configDir, 'gateway.yaml'), [
    'gateway:',
    `  listen: { host: 127.0.0.1, port: ${options.port} }`,
    `  tls: { acme: { ${options.acme} }${redirect} }`,
    'services:',
    '  shop: { instances: [http://127.0.0.1:9] }',
    'routes:',
    `  - { name: shop, match: { host: ${DOMAIN}, path: / }, service: shop }`,
    options.alerts ?? '',
  ].join('\n'));
  const gateway = await Gateway.start({
    configPath: configDir,
    adminPort: 0,
    ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
    dataDir: options.dataDir,
    logger: pino({ level: 'silent' }),
    accessLog: { destination: { write: () => undefined }, minLength: 0 },
    watch: false,
    acme: { retryMs: 300, maxRetryMs: 2000, waitMs: 100 },
  });
  return { gateway, port: options.port, stop: async () => { await gateway.stop(); rmSync(configDir, { recursive: true, force: true }); } };
}

function acmeYaml(pebble: TestPebble, challenge: 'http-01' | 'tls-alpn-01', extra = ''): string {
  return `directory: "${pebble.directory}", ca: "${pebble.caPath}", challenge: ${challenge}, email: ops@acme.test${extra}`;
}

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-acme-data-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('ACME without Redis', () => {
  test('HTTP-01: pebble fetches the token from the redirect listener, the certificate serves, files are 0600 and a restart reuses them', async () => {
    const [port, redirectPort] = [await freePort(), await freePort()];
    const pebble = await createPebble({ httpPort: redirectPort, tlsPort: port });
    cleanups.push(() => pebble.stop());
    const dataDir = tempDir();
    const first = await startAcmeGateway({ port, redirectPort, dataDir, acme: acmeYaml(pebble, 'http-01') });
    try {
      await waitFor(async () => isPebble((await served(port, DOMAIN)).issuer), 30_000, 'a pebble certificate on the TLS port');
      assert.equal(first.gateway.acme?.ordersPlaced, 1);
    } finally {
      await first.stop();
    }
    const files = readdirSync(join(dataDir, 'acme'));
    assert.ok(files.includes('account.key') && files.includes(`${DOMAIN}.cert.json`), files.join(' '));
    for (const file of files) assert.equal(statSync(join(dataDir, 'acme', file)).mode & 0o777, 0o600, file);
    const second = await startAcmeGateway({ port, redirectPort, dataDir, acme: acmeYaml(pebble, 'http-01') });
    try {
      const cert = await served(port, DOMAIN);
      assert.ok(isPebble(cert.issuer), 'the stored certificate serves right after the restart');
      assert.equal(second.gateway.acme?.ordersPlaced, 0);
    } finally {
      await second.stop();
    }
  });
});
