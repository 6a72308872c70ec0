/** An upstream that fails after its response head went out: how the client, the log and the metrics see it. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

/** Sends one GET on a fresh connection; resolves with everything received until the connection ended. */
function exchange(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
    socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  });
}

async function attempts(gw: TestGateway, outcome: string): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('edgeway_upstream_attempts_total{') && l.includes(`"${outcome}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('an upstream that fails mid-body', () => {
  let up: Upstream;
  let gw: TestGateway;

  before(async () => {
    up = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('x'.repeat(10));
      // /cut: the connection goes; /stall: the rest never comes.
      if (req.url === '/cut') setTimeout(() => res.socket?.destroy(), 20);
    });
    gw = await startGateway({
      'c.yaml':
        serviceYaml('svc', [up.url]) +
        'routes:\n  - { name: all, match: { path: / }, service: svc, timeouts: { request: 300ms } }\n',
    });
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  for (const [path, outcome] of [
    ['/cut', 'connect_error'],
    ['/stall', 'timeout'],
  ] as const) {
    test(`${path}: the client gets the head and part of the body, then the connection ends; the attempt counts as ${outcome}`, async () => {
      const before = await attempts(gw, outcome);
      const received = await exchange(gw.gateway.port, path);
      assert.match(received, /^HTTP\/1\.1 200 /);
      assert.ok(received.endsWith('\r\n\r\n' + 'x'.repeat(10)), 'the 10 bytes sent, no more');
      await waitFor(async () => (await attempts(gw, outcome)) === before + 1, 5000, outcome);
      await waitFor(
        () => gw.accessLines.some((l) => l.includes(`"path":"${path}"`)),
        5000,
        'the access-log line',
      );
      const line = JSON.parse(
        gw.accessLines.find((l) => l.includes(`"path":"${path}"`)) as string,
      ) as { status: number; attempts: number };
      assert.equal(line.status, 200, "the upstream's status, as the client got it");
      assert.equal(line.attempts, 1);
    });
  }
});
