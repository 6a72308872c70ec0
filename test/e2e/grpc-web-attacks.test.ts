/**
 * gRPC-Web against hostile instances and clients, each attack while another client keeps getting 200s: a message
 * cut short before the trailers, trailers past the header list limit, an endless stream to a client that stopped
 * reading; request bodies that are not base64, carry a trailers frame or announce more than the body limit.
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

const MAX_BODY = 1_000_000;

/** A refusal: HTTP 200, the call's content type, the gRPC status in the headers and no body. */
function assertRefused(answer: Answer, type: string, grpcStatus: string): void {
  assert.equal(answer.status, 200, answer.body.toString());
  assert.equal(answer.headers['content-type'], type);
  assert.equal(answer.headers['grpc-status'], grpcStatus, String(answer.headers['grpc-message']));
  assert.equal(answer.body.length, 0);
}

describe('gRPC-Web under attack', { timeout: 60_000 }, () => {
  let instance: Http2Server;
  let plain: Upstream;
  let gw: TestGateway;
  let victim: Victim;
  const behaviours = new Map<string, Behaviour>();
  /** The request body each path's call brought the instance, as Node's HTTP/2 server saw it end. */
  const received = new Map<string, Buffer>();
  /** Nothing of the body reached the instance: no call, or (undici cancels with END_STREAM first) an empty one. */
  const nothingForwarded = (path: string): void =>
    assert.equal(received.get(path)?.length ?? 0, 0, 'no byte of the body went upstream');

  before(async () => {
    instance = createServer((req, res) => {
      // This instance never reads: the gateway's data waits on its flow-control window.
      if (req.url === '/edge.Web/Stall') return;
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        received.set(req.url, body);
        (behaviours.get(req.url) ?? ok)(req, res, body);
      });
    });
    await new Promise<void>((resolve) => instance.listen(0, '127.0.0.1', () => resolve()));
    plain = await startUpstream();
    gw = await startGateway({
      'c.yaml': `services:
  grpc: { protocol: h2c, instances: ["http://127.0.0.1:${(instance.address() as AddressInfo).port}"] }
  plain: { instances: ["${plain.url}"] }
gateway: { maxBodyBytes: ${MAX_BODY} }
routes:
  - { name: web, match: { path: /edge.Web }, service: grpc, grpcWeb: true, timeouts: { request: 5s } }
  - { name: plain, match: { path: /plain }, service: plain }
`,
    });
    victim = startVictim(async () => (await fetch(`${gw.url}/plain/v`)).status);
  });

  after(async () => {
    await victim.stop();
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

  for (const [name, text] of [
    ['not base64 at all', '!!!!@@@@'],
    ['base64 with a stray character', 'AAAA!AAAAAA='],
    ['base64 with a line break', `${frame('hi').toString('base64')}\n`],
    ['padding inside a group', 'AA=A'],
  ] as const) {
    test(`a -text body ${name} is refused with INTERNAL, never forwarded as other bytes`, async () => {
      const path = `/edge.Web/Text${name.length}`;
      const answer = await call(`${gw.url}${path}`, 'application/grpc-web-text', text);
      assertRefused(answer, 'application/grpc-web-text', '13');
      nothingForwarded(path);
    });
  }

  test('a request carrying a trailers frame (flag 0x80) is refused with INTERNAL', async () => {
    const body = Buffer.concat([frame('hi'), frame('grpc-status: 0\r\n', 0x80)]);
    const answer = await call(`${gw.url}/edge.Web/Trailers`, 'application/grpc-web', body);
    assertRefused(answer, 'application/grpc-web', '13');
    nothingForwarded('/edge.Web/Trailers');
  });

  test('a request frame announcing 1 GiB (beyond maxBodyBytes) is refused with RESOURCE_EXHAUSTED', async () => {
    const body = frame('abc', 0, 1024 * 1024 * 1024);
    const answer = await call(`${gw.url}/edge.Web/Huge`, 'application/grpc-web+proto', body);
    assertRefused(answer, 'application/grpc-web+proto', '8');
    nothingForwarded('/edge.Web/Huge');
  });

  test('a request body that ends inside its message is refused', async () => {
    const body = frame('abc', 0, 10);
    const answer = await call(`${gw.url}/edge.Web/Cut`, 'application/grpc-web', body);
    assertRefused(answer, 'application/grpc-web', '13');
  });

  test('a -text body refused while earlier data waits on a stalled instance: the gateway keeps answering', async () => {
    const valid = frame('x'.repeat(90_000), 0, 200_000).toString('base64');
    const req = request(`${gw.url}/edge.Web/Stall`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text' },
    });
    req.on('error', () => undefined);
    req.write(valid);
    await new Promise((resolve) => setTimeout(resolve, 300));
    req.end('!');
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    res.resume();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['grpc-status'], '13');
    const after = await call(`${gw.url}/edge.Web/Ok`, 'application/grpc-web', frame('hi'));
    assert.equal(after.status, 200);
  });
});
