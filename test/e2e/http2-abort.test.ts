/** HTTP/2 clients that leave mid-exchange: every stream they abandon is logged 499 and frees its slots at once. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect } from '../helpers/h2-client.js';
import { waitFor } from '../helpers/wait-for.js';

const STREAMS = 20;

/** An HTTP/1.1 upstream that counts requests begun and closed per path; `/stream` answers at once and never ends. */
async function startRecordingUpstream(): Promise<{
  server: Server;
  port: number;
  begun: (path: string) => number;
  closed: (path: string) => number;
  /** Request bodies that ended as whole messages. */
  completed: (path: string) => number;
  /** Answers every held request (paths under `/held`). */
  releaseHeld: () => void;
}> {
  const held: ServerResponse[] = [];
  const begun = new Map<string, number>();
  const closed = new Map<string, number>();
  const completed = new Map<string, number>();
  const bump = (map: Map<string, number>, path: string): void =>
    void map.set(path, (map.get(path) ?? 0) + 1);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    bump(begun, path);
    res.once('close', () => bump(closed, path));
    req.on('error', () => undefined);
    if (path.startsWith('/held')) return void held.push(res);
    if (path === '/stream') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(1024, 1));
      const timer = setInterval(() => res.write(Buffer.alloc(1024, 1)), 10);
      res.once('close', () => clearInterval(timer));
      return;
    }
    req.resume();
    req.once('end', () => {
      bump(completed, path);
      res.end('done');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    begun: (path) => begun.get(path) ?? 0,
    closed: (path) => closed.get(path) ?? 0,
    completed: (path) => completed.get(path) ?? 0,
    releaseHeld: () => {
      for (const res of held.splice(0)) res.end('held');
    },
  };
}

/** A POST stream that sends 100 body bytes of the 1000 it declares (or, unframed, of an open-ended body). */
function partialPost(
  session: ClientHttp2Session,
  path: string,
  declared: boolean = true,
): ClientHttp2Stream {
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    ...(declared ? { 'content-length': '1000' } : {}),
    'content-type': 'application/octet-stream',
  });
  stream.on('error', () => undefined);
  stream.write(Buffer.alloc(100, 7));
  return stream;
}

/** The gateway's `edgeway_in_flight_requests` gauge, from /metrics. */
async function inFlightGauge(gw: TestGateway): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('edgeway_in_flight_requests '));
  assert.ok(line !== undefined, 'the in-flight gauge is exported');
  return Number(line.split(' ')[1]);
}

/** Requests in flight on the service's instances, from /admin/services. */
async function instanceInFlight(gw: TestGateway): Promise<number> {
  const body = (await (await fetch(`${gw.adminUrl}/admin/services`)).json()) as {
    services: Array<{ instances: Array<{ inFlight: number }> }>;
  };
  return body.services.flatMap((s) => s.instances).reduce((sum, i) => sum + i.inFlight, 0);
}

function statusesOf(gw: TestGateway, path: string): number[] {
  return gw.accessLines
    .map((line) => JSON.parse(line) as { path: string; status: number })
    .filter((entry) => entry.path === path)
    .map((entry) => entry.status);
}

describe('HTTP/2 client leaving mid-exchange (h2c)', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway({
      'gateway.yaml': 'gateway:\n  h2c: true\n  shutdownTimeout: 10s\n',
      'services.yaml': `services:
  svc:
    instances: ["http://127.0.0.1:${upstream.port}"]
    circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024 }
    timeouts: { request: 60s }
  one-at-a-time:
    instances: ["http://127.0.0.1:${upstream.port}"]
    circuitBreaker: { maxConnections: 1, maxPendingRequests: 10 }
routes:
  - { name: all, match: { path: / }, service: svc }
  - { name: queued, match: { path: /held }, service: one-at-a-time }
`,
    });
  });

  after(async () => {
    await gw.stop();
    upstream.server.closeAllConnections();
    upstream.server.close();
  });

  async function assertReleased(path: string, count: number): Promise<void> {
    // timeouts.request is 60 s and shutdownTimeout 10 s: only noticing the client's departure frees these.
    await waitFor(
      () => upstream.closed(path) === count,
      5000,
      `the ${path} upstream requests to close`,
    );
    await waitFor(
      async () => (await instanceInFlight(gw)) === 0,
      5000,
      'no upstream request in flight',
    );
    await waitFor(async () => (await inFlightGauge(gw)) === 0, 5000, 'the in-flight gauge at 0');
    await waitFor(
      () => statusesOf(gw, path).length === count,
      5000,
      `the ${path} access-log lines`,
    );
    assert.deepEqual(statusesOf(gw, path), new Array<number>(count).fill(499));
  }

  test(`a session destroyed with ${STREAMS} request bodies part-sent: every stream is 499 and released`, async () => {
    const session = await h2Connect(gw.url);
    for (let i = 0; i < STREAMS; i++) partialPost(session, '/session-gone');
    await waitFor(
      () => upstream.begun('/session-gone') === STREAMS,
      5000,
      'every request to reach the upstream',
    );
    session.destroy();
    await assertReleased('/session-gone', STREAMS);
    assert.equal(upstream.completed('/session-gone'), 0);
  });

  test('a session destroyed with bodies of no declared length: the upstream never gets them as whole', async () => {
    const session = await h2Connect(gw.url);
    for (let i = 0; i < 5; i++) partialPost(session, '/unframed-gone', false);
    await waitFor(() => upstream.begun('/unframed-gone') === 5, 5000, 'the requests to arrive');
    session.destroy();
    await assertReleased('/unframed-gone', 5);
    assert.equal(upstream.completed('/unframed-gone'), 0, 'a truncated body ended as a whole one');
  });

  test('streams reset by the client mid-body: each is 499 and released, the session keeps serving', async () => {
    const session = await h2Connect(gw.url);
    try {
      const streams = Array.from({ length: 6 }, (_, i) =>
        partialPost(session, '/reset-body', i % 2 === 0),
      );
      await waitFor(() => upstream.begun('/reset-body') === 6, 5000, 'the requests to arrive');
      // destroy() sends RST_STREAM alone; close() would end the body (END_STREAM) before resetting.
      for (const stream of streams) stream.destroy();
      await assertReleased('/reset-body', 6);
      assert.equal(upstream.completed('/reset-body'), 0);
      const ok = session.request({ ':method': 'POST', ':path': '/after', 'content-length': '2' });
      ok.end('hi');
      const [headers] = (await once(ok, 'response')) as [Record<string, string>];
      assert.equal(Number(headers[':status']), 200);
      ok.resume();
      await once(ok, 'end');
    } finally {
      session.close();
    }
  });

  test('streams reset by the client mid-response: each is logged and released', async () => {
    const session = await h2Connect(gw.url);
    try {
      for (let i = 0; i < 5; i++) {
        const stream = session.request({ ':method': 'GET', ':path': '/stream' });
        stream.on('error', () => undefined);
        await once(stream, 'data');
        stream.close(constants.NGHTTP2_CANCEL);
      }
      await waitFor(
        () => upstream.closed('/stream') === 5,
        5000,
        'the upstream responses to close',
      );
      await waitFor(async () => (await instanceInFlight(gw)) === 0, 5000, 'nothing in flight');
      await waitFor(async () => (await inFlightGauge(gw)) === 0, 5000, 'the in-flight gauge at 0');
      await waitFor(() => statusesOf(gw, '/stream').length === 5, 5000, 'the access-log lines');
      // The answer's head went out: its status stays what the client saw begin.
      assert.deepEqual(statusesOf(gw, '/stream'), [200, 200, 200, 200, 200]);
    } finally {
      session.close();
    }
  });

  test('a stream reset while queued for a circuit-breaker slot is never sent upstream', async () => {
    const session = await h2Connect(gw.url);
    try {
      const first = session.request({ ':method': 'GET', ':path': '/held/first' });
      first.on('error', () => undefined);
      await waitFor(() => upstream.begun('/held/first') === 1, 5000, 'the first request upstream');
      const queued = session.request({ ':method': 'GET', ':path': '/held/queued' });
      queued.on('error', () => undefined);
      await waitFor(
        async () => (await instanceInFlight(gw)) === 1 && (await inFlightGauge(gw)) === 2,
        5000,
        'the second request to wait for the slot',
      );
      queued.close(constants.NGHTTP2_CANCEL);
      await waitFor(() => statusesOf(gw, '/held/queued').length === 0, 5000, 'nothing logged yet');
      upstream.releaseHeld();
      first.resume();
      await once(first, 'end');
      await waitFor(() => statusesOf(gw, '/held/queued').length === 1, 5000, 'the queued line');
      assert.deepEqual(statusesOf(gw, '/held/queued'), [499]);
      assert.equal(upstream.begun('/held/queued'), 0, 'a request nobody waits for went upstream');
      await waitFor(async () => (await inFlightGauge(gw)) === 0, 5000, 'the in-flight gauge at 0');
    } finally {
      session.close();
    }
  });

  test('SIGTERM-style stop after a destroyed session does not wait out shutdownTimeout', async () => {
    const session = await h2Connect(gw.url);
    for (let i = 0; i < STREAMS; i++) partialPost(session, '/before-stop');
    await waitFor(
      () => upstream.begun('/before-stop') === STREAMS,
      5000,
      'every request to reach the upstream',
    );
    session.destroy();
    const started = performance.now();
    await gw.gateway.stop();
    const ms = performance.now() - started;
    assert.ok(ms < 5000, `stop took ${ms.toFixed(0)} ms (shutdownTimeout is 10 s)`);
    assert.deepEqual(statusesOf(gw, '/before-stop'), new Array<number>(STREAMS).fill(499));
  });
});
