/** ACME against a real pebble: HTTP-01 and TLS-ALPN-01 validations, shared certificates, restarts, renewals, CA outages. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import pino from 'pino';
import { Gateway } from '../../src/server/gateway.js';
import { runCli } from '../cli/cli-process.js';
import { createPebble, type TestPebble } from '../helpers/pebble.js';
import { freePort, startRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

const DOMAIN = 'shop.acme.test';

/** The certificate the gateway presents for `servername`: serial and issuer CN (chain not verified: placeholders are asserted too). */
function served(
  port: number,
  servername: string,
  ALPNProtocols?: string[],
): Promise<{ serial: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        servername,
        rejectUnauthorized: false,
        ...(ALPNProtocols === undefined ? {} : { ALPNProtocols }),
      },
      () => {
        const peer = socket.getPeerCertificate();
        socket.destroy();
        const cn = peer.issuer.CN;
        resolve({
          serial: peer.serialNumber,
          issuer: Array.isArray(cn) ? cn.join(',') : (cn ?? ''),
        });
      },
    );
    socket.on('error', reject);
  });
}

/** The application protocol the gateway picks from `offered` (RFC 7301). */
function negotiated(port: number, servername: string, offered: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: offered },
      () => {
        const protocol = socket.alpnProtocol ?? false;
        socket.destroy();
        resolve(protocol);
      },
    );
    socket.on('error', reject);
  });
}

const isPebble = (issuer: string): boolean => /^Pebble Intermediate/.test(issuer);

interface Started {
  readonly gateway: Gateway;
  readonly port: number;
  readonly configDir: string;
  stop(): Promise<void>;
}

/** A gateway on fixed ports (pebble must know them) with `acme` settings, on `dataDir` and optionally Redis. */
async function startAcmeGateway(options: {
  port: number;
  redirectPort?: number;
  dataDir: string;
  redisUrl?: string;
  acme: string;
  alerts?: string;
  logLines?: string[];
}): Promise<Started> {
  const configDir = mkdtempSync(join(tmpdir(), 'edgeway-acme-'));
  const redirect =
    options.redirectPort === undefined ? '' : `, redirectHttpPort: ${options.redirectPort}`;
  writeFileSync(
    join(configDir, 'gateway.yaml'),
    [
      'gateway:',
      `  listen: { host: 127.0.0.1, port: ${options.port} }`,
      `  tls: { acme: { ${options.acme} }${redirect} }`,
      'services:',
      '  shop: { instances: [http://127.0.0.1:9] }',
      'routes:',
      `  - { name: shop, match: { host: ${DOMAIN}, path: / }, service: shop }`,
      options.alerts ?? '',
    ].join('\n'),
  );
  const gateway = await Gateway.start({
    configPath: configDir,
    adminPort: 0,
    ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
    dataDir: options.dataDir,
    logger:
      options.logLines === undefined
        ? pino({ level: 'silent' })
        : pino({ level: 'debug' }, { write: (line: string) => void options.logLines?.push(line) }),
    accessLog: { destination: { write: () => undefined }, minLength: 0 },
    watch: false,
    acme: { retryMs: 300, maxRetryMs: 2000, waitMs: 100 },
  });
  return {
    gateway,
    port: options.port,
    configDir,
    stop: async () => {
      await gateway.stop();
      rmSync(configDir, { recursive: true, force: true });
    },
  };
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
    const logLines: string[] = [];
    const first = await startAcmeGateway({
      port,
      redirectPort,
      dataDir,
      acme: acmeYaml(pebble, 'http-01'),
      logLines,
    });
    try {
      await waitFor(
        async () => isPebble((await served(port, DOMAIN)).issuer),
        30_000,
        'a pebble certificate on the TLS port',
      );
      assert.equal(first.gateway.acme?.ordersPlaced, 1);
      // The redirect listener answers only tokens in the store; every other path still redirects.
      const unknown = await fetch(
        `http://127.0.0.1:${redirectPort}/.well-known/acme-challenge/not-a-token`,
      );
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'not_found');
      const other = await fetch(`http://127.0.0.1:${redirectPort}/shop?q=1`, {
        redirect: 'manual',
      });
      assert.equal(other.status, 308);
      assert.equal(other.headers.get('location'), `https://127.0.0.1:${port}/shop?q=1`);
      const admin = await (
        await fetch(`http://127.0.0.1:${first.gateway.adminPort}/admin/certs`)
      ).text();
      assert.match(admin, new RegExp(`"domain":"${DOMAIN}"`));
      assert.ok(
        logLines.some((line) => line.includes('ACME certificate loaded')),
        'the gateway logs what it loads',
      );
      // No key material (account or certificate key) in the logs or the admin API.
      for (const text of [admin, ...logLines]) assert.doesNotMatch(text, /PRIVATE KEY|"key"/);
    } finally {
      await first.stop();
    }
    const files = readdirSync(join(dataDir, 'acme'));
    assert.ok(
      files.includes('account.key') && files.includes(`${DOMAIN}.cert.json`),
      files.join(' '),
    );
    for (const file of files)
      assert.equal(statSync(join(dataDir, 'acme', file)).mode & 0o777, 0o600, file);
    const second = await startAcmeGateway({
      port,
      redirectPort,
      dataDir,
      acme: acmeYaml(pebble, 'http-01'),
    });
    try {
      const cert = await served(port, DOMAIN);
      assert.ok(isPebble(cert.issuer), 'the stored certificate serves right after the restart');
      assert.equal(second.gateway.acme?.ordersPlaced, 0);
      const list = runCli(['certs', 'list', '--config', second.configDir], {
        EDGEWAY_DATA_DIR: dataDir,
      });
      assert.equal(await list.exited(), 0, list.stderr());
      assert.match(
        list.stdout(),
        new RegExp(
          `^${DOMAIN.replace(/\./g, '\\.')} +Pebble Intermediate CA \\S+ +\\d{4}-\\d\\d-\\d\\dT\\S+ +valid$`,
          'm',
        ),
      );
      const renew = runCli([
        'certs',
        'renew',
        '--config',
        second.configDir,
        '--admin',
        `http://127.0.0.1:${second.gateway.adminPort}`,
      ]);
      assert.equal(await renew.exited(), 0, renew.stderr());
      await waitFor(
        async () => (await served(port, DOMAIN)).serial !== cert.serial,
        30_000,
        'a new serial after certs renew through the admin API',
      );
      assert.equal(second.gateway.acme?.ordersPlaced, 1);
    } finally {
      await second.stop();
    }
  });
});

describe('ACME TLS-ALPN-01', () => {
  test('pebble validates on the TLS port with acme-tls/1; ordinary handshakes are unaffected', async () => {
    const [port, unusedHttp] = [await freePort(), await freePort()];
    const pebble = await createPebble({ httpPort: unusedHttp, tlsPort: port });
    cleanups.push(() => pebble.stop());
    const gw = await startAcmeGateway({
      port,
      dataDir: tempDir(),
      acme: acmeYaml(pebble, 'tls-alpn-01'),
    });
    try {
      await waitFor(
        async () => isPebble((await served(port, DOMAIN)).issuer),
        30_000,
        'a pebble certificate validated by TLS-ALPN-01',
      );
      assert.equal(gw.gateway.acme?.ordersPlaced, 1);
      // A stranger's name, even offering acme-tls/1, gets the default certificate and never starts an order.
      assert.equal(
        (await served(port, 'stranger.test', ['acme-tls/1'])).issuer,
        'edgeway placeholder',
      );
      assert.equal((await served(port, 'stranger.test')).issuer, 'edgeway placeholder');
      // Answering TLS-ALPN-01 takes over the ALPN choice: HTTP/2 must still be chosen where offered.
      assert.equal(await negotiated(port, DOMAIN, ['h2', 'http/1.1']), 'h2');
      assert.equal(await negotiated(port, DOMAIN, ['http/1.1']), 'http/1.1');
      assert.deepEqual(
        gw.gateway.acme?.certificates().map((c) => c.domain),
        [DOMAIN],
      );
      assert.equal(gw.gateway.acme?.ordersPlaced, 1);

      // A reload that adds a route host orders for it too.
      const config = join(gw.configDir, 'gateway.yaml');
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace(
          'routes:\n',
          'routes:\n  - { name: new, match: { host: new.acme.test, path: / }, service: shop }\n',
        ),
      );
      assert.equal((await gw.gateway.reload()).ok, true);
      await waitFor(
        async () => isPebble((await served(port, 'new.acme.test')).issuer),
        30_000,
        'a certificate for the host a reload added',
      );
      assert.equal(gw.gateway.acme?.ordersPlaced, 2);
    } finally {
      await gw.stop();
    }
  });
});

describe('ACME with Redis', () => {
  test('two gateways: one order, the same certificate on both; certs renew gives both a new serial', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const [portA, redirectA, portB, redirectB] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    // pebble only reaches gateway A's redirect port: whichever gateway orders, A answers from the shared store.
    const pebble = await createPebble({ httpPort: redirectA, tlsPort: portA });
    cleanups.push(() => pebble.stop());
    const a = await startAcmeGateway({
      port: portA,
      redirectPort: redirectA,
      dataDir: tempDir(),
      redisUrl: redis.url,
      acme: acmeYaml(pebble, 'http-01'),
    });
    const b = await startAcmeGateway({
      port: portB,
      redirectPort: redirectB,
      dataDir: tempDir(),
      redisUrl: redis.url,
      acme: acmeYaml(pebble, 'http-01'),
    });
    try {
      await waitFor(
        async () =>
          isPebble((await served(portA, DOMAIN)).issuer) &&
          isPebble((await served(portB, DOMAIN)).issuer),
        30_000,
        'pebble certificates on both gateways',
      );
      const [certA, certB] = [await served(portA, DOMAIN), await served(portB, DOMAIN)];
      assert.equal(certA.serial, certB.serial);
      assert.equal((a.gateway.acme?.ordersPlaced ?? 0) + (b.gateway.acme?.ordersPlaced ?? 0), 1);

      const list = runCli([
        'certs',
        'list',
        '--json',
        '--config',
        b.configDir,
        '--redis',
        redis.url,
      ]);
      assert.equal(await list.exited(), 0, list.stderr());
      assert.deepEqual(
        JSON.parse(list.stdout()).map((c: { domain: string; serial: string; state: string }) => [
          c.domain,
          c.serial,
          c.state,
        ]),
        [[DOMAIN, certA.serial, 'valid']],
      );
      const renew = runCli([
        'certs',
        'renew',
        '--domain',
        DOMAIN,
        '--config',
        b.configDir,
        '--redis',
        redis.url,
      ]);
      assert.equal(await renew.exited(), 0, renew.stderr());
      await waitFor(
        async () =>
          (await served(portA, DOMAIN)).serial !== certA.serial &&
          (await served(portB, DOMAIN)).serial !== certA.serial,
        30_000,
        'a new serial on both gateways',
      );
      assert.equal((await served(portA, DOMAIN)).serial, (await served(portB, DOMAIN)).serial);
      assert.equal((a.gateway.acme?.ordersPlaced ?? 0) + (b.gateway.acme?.ordersPlaced ?? 0), 2);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const restarted = await startAcmeGateway({
      port: portA,
      redirectPort: redirectA,
      dataDir: tempDir(),
      redisUrl: redis.url,
      acme: acmeYaml(pebble, 'http-01'),
    });
    try {
      assert.ok(
        isPebble((await served(portA, DOMAIN)).issuer),
        'a restarted gateway serves the stored certificate at once',
      );
      assert.equal(restarted.gateway.acme?.ordersPlaced, 0);
    } finally {
      await restarted.stop();
    }
  });
});

describe('ACME when the CA fails', () => {
  test('the CA down at start: edgeway starts and serves the placeholder, then gets the certificate when the CA is back', async () => {
    const [port, redirectPort] = [await freePort(), await freePort()];
    const pebble = await createPebble({ httpPort: redirectPort, tlsPort: port, start: false });
    cleanups.push(() => pebble.stop());
    const gw = await startAcmeGateway({
      port,
      redirectPort,
      dataDir: tempDir(),
      acme: acmeYaml(pebble, 'http-01'),
    });
    try {
      assert.equal((await served(port, DOMAIN)).issuer, 'edgeway placeholder');
      await waitFor(
        () => gw.gateway.acme?.certificates()[0]?.state === 'failed',
        10_000,
        'a failed first order',
      );
      await pebble.startPebble();
      await waitFor(
        async () => isPebble((await served(port, DOMAIN)).issuer),
        30_000,
        'the certificate once the CA is back',
      );
    } finally {
      await gw.stop();
    }
  });

  test('a failed renewal keeps the last good certificate, records the error, and the expiry metric and alert report it', async () => {
    const [port, redirectPort] = [await freePort(), await freePort()];
    const pebble = await createPebble({ httpPort: redirectPort, tlsPort: port });
    cleanups.push(() => pebble.stop());
    const alerts =
      'alerts:\n  rules:\n    - { name: certs, kind: certificate-expiry, within: 36500d, for: 0s }';
    const gw = await startAcmeGateway({
      port,
      redirectPort,
      dataDir: tempDir(),
      acme: acmeYaml(pebble, 'http-01'),
      alerts,
    });
    try {
      await waitFor(
        async () => isPebble((await served(port, DOMAIN)).issuer),
        30_000,
        'the first certificate',
      );
      const good = await served(port, DOMAIN);
      await pebble.stopPebble();
      await gw.gateway.acme?.renew(DOMAIN);
      await waitFor(
        () => gw.gateway.acme?.certificates()[0]?.state === 'renewing-failed',
        10_000,
        'a failed renewal',
      );
      const view = gw.gateway.acme?.certificates()[0];
      assert.match(view?.lastError ?? '', /ECONNREFUSED|connect/);
      assert.equal(
        (await served(port, DOMAIN)).serial,
        good.serial,
        'the last good certificate still serves',
      );
      const metrics = await gw.gateway.metricsRegistry.metrics();
      const expiry = new RegExp(
        `edgeway_certificate_expiry_timestamp_seconds\\{domain="${DOMAIN.replace(/\./g, '\\.')}"\\} (\\d+)`,
      ).exec(metrics);
      assert.equal(Number(expiry?.[1]) * 1000, view?.notAfter);
      await gw.gateway.telemetry.alerts.evaluate();
      assert.deepEqual(
        gw.gateway.telemetry.alerts.active().map((a) => [a.kind, a.subject]),
        [['certificate-expiry', DOMAIN]],
      );
    } finally {
      await gw.stop();
    }
  });
});

describe('ACME back-off', () => {
  test('a CA that answers 429 with Retry-After is not asked again before that time, whatever the back-off says', async () => {
    let requests = 0;
    const ca = createServer((_req, res) => {
      requests++;
      res.writeHead(429, { 'retry-after': '3600', 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'urn:ietf:params:acme:error:rateLimited',
          detail: 'too many new orders',
        }),
      );
    });
    ca.listen(0, '127.0.0.1');
    await once(ca, 'listening');
    cleanups.push(() => new Promise<void>((done) => ca.close(() => done())));
    const directory = `http://127.0.0.1:${(ca.address() as AddressInfo).port}/dir`;
    const gw = await startAcmeGateway({
      port: await freePort(),
      dataDir: tempDir(),
      acme: `directory: "${directory}", challenge: tls-alpn-01`,
    });
    try {
      await waitFor(
        () => gw.gateway.acme?.certificates()[0]?.state === 'failed',
        10_000,
        'the rate-limited order to fail',
      );
      const view = gw.gateway.acme?.certificates()[0];
      assert.match(view?.lastError ?? '', /429/);
      // The test's back-off starts at 300 ms; the CA asked for an hour.
      assert.ok(
        (view?.retryAt ?? 0) - Date.now() > 3_500_000,
        `next attempt at ${new Date(view?.retryAt ?? 0).toISOString()}`,
      );
      assert.equal(requests, 1);
    } finally {
      await gw.stop();
    }
  });
});
