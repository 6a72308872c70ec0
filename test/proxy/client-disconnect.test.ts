import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

/** Opens a raw connection, sends a GET and resolves once the first bytes of the answer (or nothing) arrived. */
function openRequest(port: number, path: string): { socket: Socket; firstBytes: Promise<Buffer> } {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`);
  const firstBytes = once(socket, 'data').then(([chunk]) => chunk as Buffer);
  return { socket, firstBytes };
}

async function inFlight(gw: TestGateway): Promise<number> {
  const res = await fetch(`${gw.adminUrl}/admin/services`);
  const body = (await res.json()) as {
    services: Array<{ instances: Array<{ inFlight: number }> }>;
  };
  return body.services.flatMap((s) => s.instances).reduce((sum, i) => sum + i.inFlight, 0);
}

describe('a client that disconnects while the gateway streams its answer', () => {
  let up: Upstream;
  let gw: TestGateway;
  const upstreamClosed: string[] = [];

  before(async () => {
    up = await startUpstream((req, res) => {
      res.on('close', () => upstreamClosed.push(req.url ?? ''));
      if (req.url === '/late') return void setTimeout(() => res.end('late'), 300);
      if (req.url === '/hang') return;
      if (req.url === '/events') return streamEvents(res);
      if (req.url === '/huge') return streamHuge(res);
      res.end('ok');
    });
    gw = await startGateway({
      'c.yaml':
        serviceYaml(
          'svc',
          [up.url],
          '    outlierDetection: { consecutive5xx: 1, baseEjectionTime: 30s, maxEjectionPercent: 100 }\n',
        ) + 'routes:\n  - { name: all, match: { path: / }, service: svc }\n',
    });
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  const phases: Array<[string, string, (socket: Socket, first: Promise<Buffer>) => Promise<void>]> =
    [
      [
        'before the response headers',
        '/late',
        async (socket) => {
          await new Promise((r) => setTimeout(r, 50));
          socket.destroy();
        },
      ],
      [
        'mid-body of an event stream',
        '/events',
        async (socket, first) => {
          await first;
          socket.pause();
          await new Promise((r) => setTimeout(r, 50));
          socket.destroy();
        },
      ],
      [
        'under backpressure of a large download',
        '/huge',
        async (socket, first) => {
          await first;
          socket.pause();
          await new Promise((r) => setTimeout(r, 300));
          socket.destroy();
        },
      ],
    ];

  test('before the response headers of an upstream that would answer only at the request timeout: the upstream request is aborted at once', async () => {
    for (let i = 0; i < 5; i++) {
      const { socket } = openRequest(gw.gateway.port, '/hang');
      await waitFor(
        () => up.seen.filter((r) => r.url === '/hang').length === i + 1,
        5000,
        'the request to reach the upstream',
      );
      socket.destroy();
    }
    // timeouts.request is 15 s: only an abort on the client's disconnect frees the upstream connection sooner.
    await waitFor(
      () => upstreamClosed.filter((p) => p === '/hang').length === 5,
      5000,
      'the upstream requests to be aborted',
    );
    await waitFor(async () => (await inFlight(gw)) === 0, 5000, 'no request in flight');
    const services = (await (await fetch(`${gw.adminUrl}/admin/services`)).json()) as {
      services: Array<{ instances: Array<{ healthy: boolean; ejected: boolean }> }>;
    };
    assert.deepEqual(
      services.services.flatMap((s) => s.instances).map((i) => [i.healthy, i.ejected]),
      [[true, false]],
      'a client that left is no failure of the instance',
    );
    // nginx's 499 (client closed request): neither the upstream's answer nor a 502 it never caused.
    await waitFor(
      () => gw.accessLines.filter((line) => line.includes('"/hang"')).length === 5,
      5000,
      'the access-log lines',
    );
    assert.deepEqual(
      gw.accessLines
        .filter((line) => line.includes('"/hang"'))
        .map((line) => (JSON.parse(line) as { status: number }).status),
      [499, 499, 499, 499, 499],
    );
  });

  for (const [phase, path, disconnect] of phases) {
    test(`${phase}: the gateway keeps serving, frees the slot and closes the upstream request`, async () => {
      for (let i = 0; i < 5; i++) {
        const { socket, firstBytes } = openRequest(gw.gateway.port, path);
        firstBytes.catch(() => undefined);
        await disconnect(socket, firstBytes);
      }
      await waitFor(
        () => upstreamClosed.filter((p) => p === path).length === 5,
        5000,
        'the upstream requests to close',
      );
      await waitFor(async () => (await inFlight(gw)) === 0, 5000, 'no request in flight');
      const res = await fetch(`${gw.url}/ok`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok');
    });
  }
});

function streamEvents(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const timer = setInterval(() => res.write('data: tick\n\n'), 5);
  res.on('close', () => clearInterval(timer));
}

function streamHuge(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  const chunk = Buffer.alloc(64 * 1024, 1);
  let sent = 0;
  const pump = (): void => {
    while (sent < 64 * 1024 * 1024) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
