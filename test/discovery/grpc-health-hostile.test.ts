/**
 * gRPC health probes against hostile instances (a real node:http2 server answering Check badly): a huge body,
 * an endless stream, malformed protobuf, another content-type, trailers without a status. Each fails the
 * check, reads a bounded amount, and leaves no session open.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  createServer,
  type Http2Server,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Endpoint } from '../../src/balancing/endpoint.js';
import { HealthChecker } from '../../src/discovery/health-check.js';
import { waitFor } from '../helpers/wait-for.js';

/** One uncompressed gRPC frame of HealthCheckResponse { status = SERVING }. */
const SERVING_FRAME = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

type Mode = 'serving' | 'huge' | 'endless' | 'malformed' | 'html' | 'no-status';

const GRPC = { ':status': 200, 'content-type': 'application/grpc' };

/** Answers one Check call in `mode`; counts the response bytes the probe's connection took. */
function answer(stream: ServerHttp2Stream, mode: Mode, flushed: (bytes: number) => void): void {
  stream.on('error', () => undefined);
  if (mode === 'html') {
    // A perfect SERVING message, but not as gRPC.
    stream.respond({ ':status': 200, 'content-type': 'text/html' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(SERVING_FRAME);
    return;
  }
  if (mode === 'no-status') {
    stream.respond(GRPC, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-message': 'fine' }));
    stream.end(SERVING_FRAME);
    return;
  }
  if (mode === 'malformed') {
    stream.respond(GRPC, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    // Field 1 as a varint that never ends.
    stream.end(Buffer.from([0, 0, 0, 0, 3, 0x08, 0xff, 0xff]));
    return;
  }
  if (mode === 'serving') {
    stream.respond(GRPC, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(SERVING_FRAME);
    return;
  }
  // 'huge': a frame header announcing 100 MB, then the bytes as fast as the probe takes them; 'endless': the
  // same without an end.
  stream.respond(GRPC);
  const total = mode === 'huge' ? 100 * 1024 * 1024 : Infinity;
  const head = Buffer.from([0, 0x06, 0x40, 0x00, 0x00]);
  const chunk = Buffer.alloc(65_536, 0);
  let sent = 0;
  const pump = (): void => {
    while (sent < total && !stream.destroyed) {
      const piece = sent === 0 ? Buffer.concat([head, chunk]) : chunk;
      sent += piece.length;
      if (!stream.write(piece, () => flushed(piece.length))) return void stream.once('drain', pump);
    }
    if (!stream.destroyed) stream.end();
  };
  pump();
}

describe('gRPC health probes against hostile instances', () => {
  let server: Http2Server;
  let port: number;
  let mode: Mode = 'serving';
  let flushedBytes = 0;
  let calls = 0;
  const sessions = new Set<ServerHttp2Session>();

  before(async () => {
    server = createServer();
    server.on('session', (session: ServerHttp2Session) => {
      sessions.add(session);
      session.on('error', () => undefined);
      session.once('close', () => sessions.delete(session));
    });
    server.on('stream', (stream: ServerHttp2Stream) => {
      calls++;
      answer(stream, mode, (bytes) => (flushedBytes += bytes));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  /** The endpoint's health after two probes in `as` mode, starting from the opposite state. */
  async function verdict(as: Mode, timeout = 2000): Promise<boolean> {
    mode = as;
    const endpoint = new Endpoint({
      id: as,
      url: `http://127.0.0.1:${port}`,
      weight: 1,
      capacity: 10,
      draining: false,
    });
    endpoint.healthy = as !== 'serving';
    const checker = new HealthChecker({
      type: 'grpc',
      service: '',
      interval: 20,
      timeout,
      unhealthyThreshold: 1,
      healthyThreshold: 1,
    });
    const before = calls;
    checker.start([endpoint]);
    try {
      await waitFor(() => calls > before + 1, 10_000, 'two probes');
      return endpoint.healthy;
    } finally {
      checker.stop();
      await waitFor(() => sessions.size === 0, 5000, 'every probe session closed');
    }
  }

  test('the well-behaved answer passes (the server under test is a gRPC health server)', async () => {
    assert.equal(await verdict('serving'), true);
  });

  test('a 100 MB body fails the check and is not read past a few kB', async () => {
    flushedBytes = 0;
    assert.equal(await verdict('huge', 5000), false);
    // HTTP/2 flow control lets the server flush a window or two before the probe's session is gone.
    assert.ok(
      flushedBytes < 4 * 1024 * 1024,
      `the probe took ${flushedBytes} bytes of a 100 MB answer`,
    );
  });

  test('an endless stream fails the check without waiting for the timeout', async () => {
    flushedBytes = 0;
    const started = performance.now();
    assert.equal(await verdict('endless', 30_000), false);
    assert.ok(performance.now() - started < 25_000, 'the probes did not wait for their timeout');
    assert.ok(flushedBytes < 4 * 1024 * 1024, `the probe took ${flushedBytes} bytes`);
  });

  test('a SERVING message under another content-type fails', async () => {
    assert.equal(await verdict('html'), false);
  });

  test('malformed protobuf and trailers without grpc-status fail', async () => {
    assert.equal(await verdict('malformed'), false);
    assert.equal(await verdict('no-status'), false);
  });
});
