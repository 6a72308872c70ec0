/** TLS to upstreams: pools verify https origins against the configured CA and present the mTLS client certificate. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { UpstreamPools } from '../../src/proxy/upstream-client.js';
import { createCa, type TestCa } from '../helpers/certs.js';

const POOL = { connectTimeoutMs: 2000, maxConnections: 4 };

/** An https upstream that answers with the subject CN of the client certificate it saw ('' without one). */
async function startHttpsUpstream(
  ca: TestCa,
  clientCa?: TestCa,
): Promise<{ server: Server; origin: string }> {
  const leaf = ca.issue('upstream.test', { dns: ['upstream.test'], ip: ['127.0.0.1'] });
  const mtls =
    clientCa === undefined
      ? {}
      : { requestCert: true, rejectUnauthorized: true, ca: clientCa.cert };
  const server = createServer({ cert: leaf.cert, key: leaf.key, ...mtls }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.end(typeof peer.subject?.CN === 'string' ? peer.subject.CN : '');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('upstream TLS', () => {
  let serverCa: TestCa;
  let otherCa: TestCa;
  let clientCa: TestCa;
  let plain: { server: Server; origin: string };
  let mutual: { server: Server; origin: string };
  const pools = new UpstreamPools();

  before(async () => {
    serverCa = createCa('upstream CA');
    otherCa = createCa('unrelated CA');
    clientCa = createCa('client CA');
    plain = await startHttpsUpstream(serverCa);
    mutual = await startHttpsUpstream(serverCa, clientCa);
  });

  after(async () => {
    await pools.close();
    await closeServer(plain.server);
    await closeServer(mutual.server);
    for (const ca of [serverCa, otherCa, clientCa]) ca.cleanup();
  });

  test('verifies the upstream against the configured CA', async () => {
    const pool = pools.get(plain.origin, { ...POOL, tls: { ca: serverCa.certPath } });
    const res = await pool.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    await res.body.text();
  });

  test('a CA that did not sign the upstream certificate fails the connection', async () => {
    const pool = pools.get(plain.origin, { ...POOL, tls: { ca: otherCa.certPath } });
    await assert.rejects(
      pool.request({ path: '/', method: 'GET' }),
      (err: NodeJS.ErrnoException) => {
        assert.match(
          err.code ?? '',
          /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/,
        );
        return true;
      },
    );
  });

  test('serverName is the name the certificate is checked against', async () => {
    const right = pools.get(plain.origin, {
      ...POOL,
      tls: { ca: serverCa.certPath, serverName: 'upstream.test' },
    });
    const res = await right.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    await res.body.text();
    const wrong = pools.get(plain.origin, {
      ...POOL,
      tls: { ca: serverCa.certPath, serverName: 'elsewhere.test' },
    });
    await assert.rejects(wrong.request({ path: '/', method: 'GET' }), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  test('mTLS: an upstream requiring a client certificate accepts the configured one and refuses its absence', async () => {
    const client = clientCa.issue('edgeway-gateway');
    const pool = pools.get(mutual.origin, {
      ...POOL,
      tls: { ca: serverCa.certPath, cert: client.certPath, key: client.keyPath },
    });
    const res = await pool.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'edgeway-gateway');
    const anonymous = pools.get(mutual.origin, { ...POOL, tls: { ca: serverCa.certPath } });
    await assert.rejects(anonymous.request({ path: '/', method: 'GET' }));
  });
});
