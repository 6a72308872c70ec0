/** HTTPS on the public listener: forwarding, SNI certificates, hot reload of cert files, the redirect listener. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import { createCa, type CertFiles, type TestCa } from '../helpers/certs.js';
import { serviceYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait-for.js';

/** The subject CN of the certificate the gateway presents for `servername` on a fresh connection. */
function peerCommonName(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // The chain is still verified against the test CA; only the name check is skipped, as the CN is what is asserted.
    const socket = connect(
      { host: '127.0.0.1', port, servername, ca, checkServerIdentity: () => undefined },
      () => {
        const cn = socket.getPeerCertificate().subject.CN;
        socket.destroy();
        resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
      },
    );
    socket.on('error', reject);
  });
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly reusedSocket: boolean;
}

function get(port: number, agent: Agent, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, servername: 'gateway.test', agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            reusedSocket: req.reusedSocket,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS listener', () => {
  let ca: TestCa;
  let upstream: Upstream;
  let gw: TestGateway;
  let defaultPair: { certPath: string; keyPath: string };
  let replacement: CertFiles;

  before(async () => {
    ca = createCa();
    const initial = ca.issue('gateway.test', { dns: ['gateway.test'], ip: ['127.0.0.1'] });
    replacement = ca.issue('gateway-renewed.test', { dns: ['gateway.test'], ip: ['127.0.0.1'] });
    const alpha = ca.issue('alpha.test');
    const beta = ca.issue('beta.test', { dns: ['*.beta.test'] });
    // The gateway watches these copies, so the test can overwrite them in place as a renewal tool would.
    defaultPair = { certPath: join(ca.dir, 'live.crt'), keyPath: join(ca.dir, 'live.key') };
    copyFileSync(initial.certPath, defaultPair.certPath);
    copyFileSync(initial.keyPath, defaultPair.keyPath);
    upstream = await startUpstream();
    gw = await startGateway({
      'gateway.yaml': [
        'gateway:',
        '  tls:',
        `    cert: ${defaultPair.certPath}`,
        `    key: ${defaultPair.keyPath}`,
        '    redirectHttpPort: 0',
        '    sni:',
        `      - { hosts: [alpha.test], cert: ${alpha.certPath}, key: ${alpha.keyPath} }`,
        `      - { hosts: ['*.beta.test'], cert: ${beta.certPath}, key: ${beta.keyPath} }`,
        '',
      ].join('\n'),
      'services.yaml': serviceYaml('svc', [upstream.url]),
      'routes.yaml': 'routes:\n  - name: all\n    service: svc\n',
    });
  });

  after(async () => {
    await gw.stop();
    await upstream.close();
    ca.cleanup();
  });

  test('proxies an HTTPS request to a plain upstream with x-forwarded-proto https', async () => {
    const agent = new Agent({ ca: ca.cert });
    const answer = await get(gw.gateway.port, agent, '/hello?x=1');
    agent.destroy();
    assert.equal(answer.status, 200);
    const echoed = JSON.parse(answer.body) as { url: string; headers: Record<string, string> };
    assert.equal(echoed.url, '/hello?x=1');
    assert.equal(echoed.headers['x-forwarded-proto'], 'https');
  });

  test('SNI picks the certificate per host name; unknown names get the default one', async () => {
    const port = gw.gateway.port;
    assert.equal(await peerCommonName(port, ca.cert, 'alpha.test'), 'alpha.test');
    assert.equal(await peerCommonName(port, ca.cert, 'api.beta.test'), 'beta.test');
    assert.equal(await peerCommonName(port, ca.cert, 'ALPHA.test'), 'alpha.test');
    // A wildcard covers one label only (RFC 6125 6.4.3).
    assert.equal(await peerCommonName(port, ca.cert, 'x.api.beta.test'), 'gateway.test');
    assert.equal(await peerCommonName(port, ca.cert, 'other.test'), 'gateway.test');
  });

  test('replaced cert files serve new connections while an open keep-alive connection keeps working', async () => {
    const port = gw.gateway.port;
    const agent = new Agent({ ca: ca.cert, keepAlive: true, maxSockets: 1 });
    const first = await get(port, agent);
    assert.equal(first.status, 200);

    writeFileSync(defaultPair.certPath, replacement.cert);
    writeFileSync(defaultPair.keyPath, replacement.key);
    await waitFor(
      async () => (await peerCommonName(port, ca.cert, 'other.test')) === 'gateway-renewed.test',
      10_000,
      'a new connection to get the replaced certificate',
      100,
    );
    assert.equal(await peerCommonName(port, ca.cert, 'alpha.test'), 'alpha.test');

    const second = await get(port, agent);
    agent.destroy();
    assert.equal(second.status, 200);
    assert.equal(
      second.reusedSocket,
      true,
      'the request should ride the connection opened before the reload',
    );
  });

  test('a broken replacement is rejected and the previous certificate keeps serving', async () => {
    const port = gw.gateway.port;
    const before = await peerCommonName(port, ca.cert, 'other.test');
    writeFileSync(
      defaultPair.certPath,
      '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n',
    );
    assert.equal(gw.gateway.tls?.reload(), false);
    assert.equal(await peerCommonName(port, ca.cert, 'other.test'), before);
    const agent = new Agent({ ca: ca.cert });
    assert.equal((await get(port, agent)).status, 200);
    agent.destroy();
  });

  test('a hang-up (SIGHUP) reloads the certificates at once, before the file watch would', async () => {
    const renewed = ca.issue('gateway-hangup.test', { dns: ['gateway.test'], ip: ['127.0.0.1'] });
    writeFileSync(defaultPair.certPath, renewed.cert);
    writeFileSync(defaultPair.keyPath, renewed.key);
    gw.gateway.hangup();
    assert.equal(
      await peerCommonName(gw.gateway.port, ca.cert, 'other.test'),
      'gateway-hangup.test',
    );
  });

  test('the redirect listener answers 308 with the https location and never reaches the upstream', async () => {
    const seenBefore = upstream.seen.length;
    const redirectPort = gw.gateway.tls?.redirectPort;
    assert.ok(redirectPort !== undefined && redirectPort > 0);
    const answer = await new Promise<{ status: number; location: string | undefined }>(
      (resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: redirectPort,
            method: 'POST',
            path: '/orders/7?expand=items',
            headers: { host: 'API.example.com:8080' },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, location: res.headers.location }),
            );
          },
        );
        req.on('error', reject);
        req.end('{"qty":1}');
      },
    );
    assert.equal(answer.status, 308);
    assert.equal(
      answer.location,
      `https://api.example.com:${gw.gateway.port}/orders/7?expand=items`,
    );
    assert.equal(upstream.seen.length, seenBefore);
  });
});
