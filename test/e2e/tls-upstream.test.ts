/** TLS to upstreams: pools verify https origins against the configured CA and present the mTLS client certificate. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { UpstreamPools } from '../../src/proxy/upstream-client.js';
import { loadUpstreamTls } from '../../src/proxy/upstream-tls.js';
import { createCa, type TestCa } from '../helpers/certs.js';
import { serviceYaml, startGateway } from '../helpers/gateway.js';
import { rawRequest, statusOf } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait-for.js';

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
    const pool = pools.get(plain.origin, {
      ...POOL,
      tls: loadUpstreamTls({ ca: serverCa.certPath }),
    });
    const res = await pool.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    await res.body.text();
  });

  test('a CA that did not sign the upstream certificate fails the connection', async () => {
    const pool = pools.get(plain.origin, {
      ...POOL,
      tls: loadUpstreamTls({ ca: otherCa.certPath }),
    });
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
      tls: loadUpstreamTls({ ca: serverCa.certPath, serverName: 'upstream.test' }),
    });
    const res = await right.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    await res.body.text();
    const wrong = pools.get(plain.origin, {
      ...POOL,
      tls: loadUpstreamTls({ ca: serverCa.certPath, serverName: 'elsewhere.test' }),
    });
    await assert.rejects(wrong.request({ path: '/', method: 'GET' }), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  test('mTLS: an upstream requiring a client certificate accepts the configured one and refuses its absence', async () => {
    const client = clientCa.issue('edgeway-gateway');
    const pool = pools.get(mutual.origin, {
      ...POOL,
      tls: loadUpstreamTls({ ca: serverCa.certPath, cert: client.certPath, key: client.keyPath }),
    });
    const res = await pool.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'edgeway-gateway');
    const anonymous = pools.get(mutual.origin, {
      ...POOL,
      tls: loadUpstreamTls({ ca: serverCa.certPath }),
    });
    await assert.rejects(anonymous.request({ path: '/', method: 'GET' }));
  });
});

describe('upstream TLS files rotated at the same paths', () => {
  test('a reload after the client certificate changed connects with the new one and closes the old pool', async () => {
    const serverCa = createCa('upstream CA');
    const clientCa = createCa('client CA');
    const first = clientCa.issue('client-one');
    const second = clientCa.issue('client-two');
    const mutual = await startHttpsUpstream(serverCa, clientCa);
    const open = new Set<TLSSocket>();
    mutual.server.on('secureConnection', (socket: TLSSocket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    mutual.server.keepAliveTimeout = 120_000;
    const dir = mkdtempSync(join(tmpdir(), 'edgeway-upstream-tls-'));
    const certPath = join(dir, 'client.crt');
    const keyPath = join(dir, 'client.key');
    writeFileSync(certPath, first.cert);
    writeFileSync(keyPath, first.key);
    const gw = await startGateway({
      'config.yaml': serviceYaml(
        'mutual',
        [mutual.origin],
        `    upstreamTls: { ca: ${serverCa.certPath}, cert: ${certPath}, key: ${keyPath} }\n`,
      ).concat('routes:\n  - { name: mutual, match: { path: /m }, service: mutual }\n'),
    });
    try {
      const before = await fetch(`${gw.url}/m`);
      assert.equal(before.status, 200);
      assert.equal(await before.text(), 'client-one');
      assert.equal(open.size, 1, 'a keep-alive connection with the first certificate');

      writeFileSync(certPath, second.cert);
      writeFileSync(keyPath, second.key);
      assert.deepEqual(await gw.gateway.reload(), { ok: true });
      const after = await fetch(`${gw.url}/m`);
      assert.equal(after.status, 200);
      assert.equal(await after.text(), 'client-two', 'the rotated certificate is presented');
      await waitFor(() => open.size === 1, 3000, "the old certificate's connection to close");
    } finally {
      await gw.stop();
      await closeServer(mutual.server);
      rmSync(dir, { recursive: true, force: true });
      serverCa.cleanup();
      clientCa.cleanup();
    }
  });
});

describe('WebSocket upgrades to an https upstream', () => {
  test('use the TLS files read at config load: deleting them afterwards does not fail the first upgrade', async () => {
    const serverCa = createCa('upstream CA');
    const upstream = await startHttpsUpstream(serverCa);
    upstream.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      const accept = createHash('sha1')
        .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
        .digest('base64');
      socket.end(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
    });
    const dir = mkdtempSync(join(tmpdir(), 'edgeway-upstream-tls-'));
    const caPath = join(dir, 'ca.crt');
    writeFileSync(caPath, serverCa.cert);
    const gw = await startGateway({
      'config.yaml': serviceYaml(
        'secure',
        [upstream.origin],
        `    upstreamTls: { ca: ${caPath} }\n`,
      ).concat(
        'routes:\n  - { name: ws, match: { path: /ws }, service: secure, websocket: true }\n',
      ),
    });
    try {
      rmSync(caPath);
      const reply = await rawRequest(
        gw.gateway.port,
        'GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      assert.equal(statusOf(reply), 101, reply);
    } finally {
      await gw.stop();
      await closeServer(upstream.server);
      rmSync(dir, { recursive: true, force: true });
      serverCa.cleanup();
    }
  });
});
