/** The public listener's connection tracker on a real HTTP server: drain between requests, pipelined requests in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Connections } from '../../src/server/connections.js';
import { rawRequest, responseCount } from '../helpers/raw-http.js';

async function serve(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; connections: Connections; port: number }> {
  const server = createServer((req, res) => connections.request(req, res, handle));
  const connections = new Connections(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, connections, port: (server.address() as AddressInfo).port };
}

function get(
  port: number,
  agent: Agent,
): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/', agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }),
      );
    })
      .on('error', reject)
      .end();
  });
}

test('a request in flight when the drain starts completes, marked as the last on its connection', async () => {
  let arrived: (res: ServerResponse) => void = () => undefined;
  const inFlight = new Promise<ServerResponse>((resolve) => (arrived = resolve));
  const { server, connections, port } = await serve((_req, res) => arrived(res));
  const agent = new Agent({ keepAlive: true });
  try {
    const pending = get(port, agent);
    const res = await inFlight;
    const drained = connections.drain(10_000);
    res.end('done');
    const answer = await pending;
    assert.deepEqual(answer, { status: 200, connection: 'close', body: 'done' });
    await drained;
  } finally {
    agent.destroy();
    server.close();
  }
});

test('the drain closes an idle keep-alive connection and resolves once none is left', async () => {
  const { server, connections, port } = await serve((_req, res) => res.end('ok'));
  const agent = new Agent({ keepAlive: true });
  try {
    assert.equal((await get(port, agent)).connection, 'keep-alive');
    const [socket] = Object.values(agent.freeSockets).flat();
    assert.ok(socket, 'the connection is kept for reuse');
    const closed = once(socket, 'close');
    await connections.drain(10_000);
    await closed;
  } finally {
    agent.destroy();
    server.close();
  }
});

test('a request pipelined behind an answer that closes the connection is never handled', async () => {
  const handled: string[] = [];
  const { server, port } = await serve((req, res) => {
    handled.push(req.url ?? '');
    if (req.url === '/first') res.setHeader('connection', 'close');
    setTimeout(() => res.end('x'), 20);
  });
  try {
    const reply = await rawRequest(
      port,
      'GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    assert.equal(responseCount(reply), 1);
    assert.deepEqual(handled, ['/first']);
  } finally {
    server.close();
  }
});

test('pipelined requests are handled one after the other, in order', async () => {
  const handled: string[] = [];
  const { server, port } = await serve((req, res) => {
    handled.push(`start ${req.url}`);
    setTimeout(() => {
      handled.push(`end ${req.url}`);
      res.end('x');
    }, 20);
  });
  try {
    const reply = await rawRequest(
      port,
      'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    assert.equal(responseCount(reply), 2);
    assert.deepEqual(handled, ['start /1', 'end /1', 'start /2', 'end /2']);
  } finally {
    server.close();
  }
});
