/** HTTP health checks of https instances use the service's `upstreamTls`: private CA, mTLS client certificate, server name. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createCa, type CertFiles, type TestCa } from '../helpers/certs.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

/** An https instance whose /healthz answers 200; counts the probes that got through TLS to it. */
async function httpsHealthServer(
  leaf: CertFiles,
  clientCa?: TestCa,
): Promise<{ server: Server; origin: string; probes: () => number }> {
  let probes = 0;
  const mtls =
    clientCa === undefined
      ? {}
      : { requestCert: true, rejectUnauthorized: true, ca: clientCa.cert };
  const server = createServer({ cert: leaf.cert, key: leaf.key, ...mtls }, (req, res) => {
    probes++;
    res.writeHead(req.url === '/healthz' ? 200 : 404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    probes: () => probes,
  };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const HEALTH_CHECK =
  'healthCheck: { path: /healthz, interval: 20ms, timeout: 2s, unhealthyThreshold: 1, healthyThreshold: 1 }';

function service(name: string, origin: string, upstreamTls: Record<string, string>): string {
  const tls = Object.entries(upstreamTls)
    .map(([key, value]) => `${key}: '${value}'`)
    .join(', ');
  return [
    `  ${name}:`,
    `    instances: [${origin}]`,
    `    ${HEALTH_CHECK}`,
    ...(tls === '' ? [] : [`    upstreamTls: { ${tls} }`]),
    '',
  ].join('\n');
}

describe('HTTP health checks over upstream TLS', () => {
  let serverCa: TestCa;
  let clientCa: TestCa;
  let plain: Awaited<ReturnType<typeof httpsHealthServer>>;
  let named: Awaited<ReturnType<typeof httpsHealthServer>>;
  let mutual: Awaited<ReturnType<typeof httpsHealthServer>>;
  let gw: TestGateway;

  before(async () => {
    serverCa = createCa('upstream CA');
    clientCa = createCa('client CA');
    const byIp = serverCa.issue('upstream.test', { dns: ['upstream.test'], ip: ['127.0.0.1'] });
    // Valid only for its DNS name: a probe of 127.0.0.1 passes only with the serverName override.
    const byName = serverCa.issue('named.test', { dns: ['named.test'] });
    plain = await httpsHealthServer(byIp);
    named = await httpsHealthServer(byName);
    mutual = await httpsHealthServer(byIp, clientCa);
    const client = clientCa.issue('edgeway-gateway');
    const ca = serverCa.certPath;
    gw = await startGateway({
      'services.yaml':
        'services:\n' +
        service('trusted', plain.origin, { ca }) +
        service('untrusted', plain.origin, {}) +
        service('named', named.origin, { ca, serverName: 'named.test' }) +
        service('unnamed', named.origin, { ca }) +
        service('mutual', mutual.origin, { ca, cert: client.certPath, key: client.keyPath }) +
        service('anonymous', mutual.origin, { ca }),
      'routes.yaml': 'routes:\n  - { name: a, service: trusted }\n',
    });
  });

  after(async () => {
    await gw.stop();
    for (const upstream of [plain, named, mutual]) await closeServer(upstream.server);
    serverCa.cleanup();
    clientCa.cleanup();
  });

  const healthy = (name: string): boolean | undefined =>
    gw.gateway.current().services.get(name)?.endpoints()[0]?.healthy;

  test('a private CA in upstreamTls makes an https instance healthy; without it the check fails', async () => {
    await waitFor(() => plain.probes() >= 3, 5000, 'three probes through TLS');
    assert.equal(healthy('trusted'), true);
    await waitFor(() => healthy('untrusted') === false, 5000, 'the untrusted service down');
  });

  test('serverName is the name the probe checks the certificate against', async () => {
    await waitFor(() => named.probes() >= 3, 5000, 'three probes through TLS');
    assert.equal(healthy('named'), true);
    await waitFor(() => healthy('unnamed') === false, 5000, 'the unnamed service down');
  });

  test('mTLS: healthy only when the client certificate and key are configured', async () => {
    await waitFor(() => mutual.probes() >= 3, 5000, 'three probes with the client certificate');
    assert.equal(healthy('mutual'), true);
    await waitFor(() => healthy('anonymous') === false, 5000, 'the anonymous service down');
  });
});
