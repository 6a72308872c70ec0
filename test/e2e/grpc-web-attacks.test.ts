/**
 * gRPC-Web against hostile instances, each attack while another client keeps getting 200s: a message cut short
 * before the trailers, trailers past the header list limit, an endless stream to a client that stopped reading.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import {
  createServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startVictim, type Victim } from '../helpers/victim.js';

/** One gRPC frame: `flag`, a length prefix (the payload's own unless given), the payload. */
function frame(payload: string, flag = 0, length = Buffer.byteLength(payload)): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(length, 1);
  return Buffer.concat([head, Buffer.from(payload)]);
}

/** What the client got: status, headers, body, and whether the answer was cut off. */
interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly cut: boolean;
}

/** One gRPC-Web call over HTTP/1.1. */
function call(url: string, contentType: string, body: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': contentType, 'x-grpc-web': '1' } },
      (res) => {
        const chunks: Buffer[] = [];
        const done = (cut: boolean): void =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            cut,
          });
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(false));
        res.on('error', () => done(true));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** How each path of the instance answers: the request as received, then the response to write. */
type Behaviour = (req: Http2ServerRequest, res: Http2ServerResponse, body: Buffer) => void;

const ok: Behaviour = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/grpc' });
  res.addTrailers({ 'grpc-status': '0' });
  res.end(frame('ok'));
};

describe('gRPC-Web under attack', { timeout: 60_000 }, () => {
  let instance: Http2Server;
  let plain: Upstream;
  let gw: TestGateway;
  let victim: Victim;
  const behaviours = new Map<string, Behaviour>();

  before(async () => {
    instance = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        (behaviours.get(req.url) ?? ok)(req, res, body);
      });
    });
    await new Promise<void>((resolve) => instance.listen(0, '127.0.0.1', () => resolve()));
    plain = await startUpstream();
    gw = await startGateway({
      'c.yaml': `services:
  grpc: { protocol: h2c, instances: ["http://127.0.0.1:${(instance.address() as AddressInfo).port}"] }
  plain: { instances: ["${plain.url}"] }
routes:
  - { name: web, match: { path: /edge.Web }, service: grpc, grpcWeb: true, timeouts: { request: 5s } }
  - { name: plain, match: { path: /plain }, service: plain }
`,
    });
    victim = startVictim(async () => (await fetch(`${gw.url}/plain/v`)).status);
  });

  after(async () => {
    victim.stop();
    await gw.stop();
    await plain.close();
    instance.close();
  });

  test('an instance whose message is shorter than its length prefix: the answer is cut, the trailers never read as message bytes', async () => {
    behaviours.set('/edge.Web/Short', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      res.addTrailers({ 'grpc-status': '0' });
      res.end(frame('short', 0, 40));
    });
    const answer = await call(`${gw.url}/edge.Web/Short`, 'application/grpc-web', frame('hi'));
    assert.equal(answer.status, 200);
    assert.equal(answer.cut, true, 'the client sees a broken answer');
    assert.deepEqual(answer.body, frame('short', 0, 40));
  });

  test('an instance whose trailers pass the header list limit: the answer is cut, the gateway unharmed', async () => {
    behaviours.set('/edge.Web/BigTrailers', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      const trailers: Record<string, string> = { 'grpc-status': '0' };
      for (let i = 0; i < 100; i++) trailers[`x-t${i}`] = 'v'.repeat(1000);
      res.addTrailers(trailers);
      res.end(frame('ok'));
    });
    const answer = await call(
      `${gw.url}/edge.Web/BigTrailers`,
      'application/grpc-web',
      frame('hi'),
    );
    assert.equal(answer.cut, true);
    assert.deepEqual(answer.body, frame('ok'), 'the message, and no trailers frame');
  });

  test('a client that stops reading an endless stream stops the instance too: nothing is buffered without bound', async () => {
    let written = 0;
    behaviours.set('/edge.Web/Flood', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      const message = frame('x'.repeat(16 * 1024));
      const pump = (): void => {
        while (!res.destroyed && res.write(message)) written += message.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const req = request(`${gw.url}/edge.Web/Flood`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text' },
    });
    req.on('error', () => undefined);
    req.end(frame('go').toString('base64'));
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    res.pause();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stalled = written;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(written, stalled, 'the instance is held by flow control');
    assert.ok(written < 32 * 1024 * 1024, `${written} bytes written before the stall`);
    req.destroy();
  });
});
