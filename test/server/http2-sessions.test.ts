/** The HTTP/2 session tracker on a real h2c server: what it adds to each stream is shared, not made per stream. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Http2Sessions } from '../../src/server/http2-sessions.js';

test('streams of a session share the byte-counting push/write and the reset watch: no closure per stream', async () => {
  const server = createServer();
  new Http2Sessions({
    maxConcurrentStreams: 100,
    maxResetsPerSecond: 100,
    idleTimeout: 10_000,
    maxHeaderBytes: 16_384,
  }).attach(server);
  const open: ServerHttp2Stream[] = [];
  const bothOpen = new Promise<void>((resolve) => {
    // Registered after the tracker's own listener, so each stream arrives here already armed.
    server.on('session', (session: ServerHttp2Session) =>
      session.on('stream', (stream: ServerHttp2Stream) => {
        open.push(stream);
        if (open.length === 2) resolve();
      }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const requests = [1, 2].map(() => client.request({ ':path': '/' }));
    await bothOpen;
    const [first, second] = open as [ServerHttp2Stream, ServerHttp2Stream];
    assert.notEqual(first.push, Object.getPrototypeOf(first).push, 'push is counted');
    assert.equal(first.push, second.push);
    assert.equal(first.write, second.write);
    assert.deepEqual(first.listeners('close'), second.listeners('close'));
    for (const stream of open) {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    }
    for (const req of requests) {
      req.resume();
      await once(req, 'end');
    }
  } finally {
    client.close();
    server.close();
  }
});
