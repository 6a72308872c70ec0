/** gRPC-Web calls as the upstream sees them: translated to gRPC, and cancelled when the browser leaves. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const identity = (bytes: Buffer): Buffer => bytes;

/** Streams one message and then nothing until cancelled. */
const service: grpc.ServiceDefinition = {
  watch: {
    path: '/edge.Ticker/Watch',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

function frame(payload: string): Buffer {
  const bytes = Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

describe('gRPC-Web calls upstream', () => {
  let server: grpc.Server;
  let gw: TestGateway;
  const cancelled: string[] = [];
  let raw: Http2Server;
  const rawSeen: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];

  before(async () => {
    server = new grpc.Server();
    server.addService(service, {
      watch(call: grpc.ServerWritableStream<Buffer, Buffer>) {
        call.on('cancelled', () => cancelled.push('watch'));
        call.write(Buffer.from('tick'));
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
    // A bare HTTP/2 server, to see exactly what edgeway sends upstream.
    raw = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        rawSeen.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/grpc+proto' });
        res.addTrailers({ 'grpc-status': '0' });
        res.end(frame('ok'));
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', () => resolve()));
    const rawPort = (raw.address() as AddressInfo).port;
    gw = await startGateway({
      'services.yaml': `services:
  ticker: { protocol: h2c, instances: ["http://127.0.0.1:${port}"] }
  raw: { protocol: h2c, instances: ["http://127.0.0.1:${rawPort}"] }
routes:
  - { name: ticker, match: { path: /edge.Ticker }, service: ticker, grpcWeb: true }
  - { name: raw, match: { path: /edge.Raw }, service: raw, grpcWeb: true }
`,
    });
  });

  after(async () => {
    await gw.stop();
    server.forceShutdown();
    await new Promise<void>((resolve) => raw.close(() => resolve()));
  });

  test('a browser that leaves a server stream mid-way cancels the upstream call', async () => {
    const first = await new Promise<Buffer>((resolve, reject) => {
      const req = request(
        `${gw.url}/edge.Ticker/Watch`,
        { method: 'POST', headers: { 'content-type': 'application/grpc-web', 'x-grpc-web': '1' } },
        (res) => {
          res.once('data', (chunk: Buffer) => {
            // The page navigates away: its connection closes with the stream still open.
            req.destroy();
            resolve(chunk);
          });
        },
      );
      req.on('error', (err) => {
        if (!req.destroyed) reject(err);
      });
      req.end(frame('start'));
    });
    assert.deepEqual(first.subarray(5, 9), Buffer.from('tick'));
    await waitFor(() => cancelled.includes('watch'), 3000, 'the upstream call to be cancelled');
  });

  test('what the upstream sees: a gRPC request over HTTP/2 with te: trailers and the decoded body', async () => {
    const answer = await new Promise<{ headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        const req = request(
          `${gw.url}/edge.Raw/Echo`,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/grpc-web-text+proto',
              'x-grpc-web': '1',
              'x-user-agent': 'grpc-web-javascript/0.1',
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({ headers: res.headers, body: Buffer.concat(chunks).toString() }),
            );
          },
        );
        req.on('error', reject);
        req.end(frame('hello').toString('base64'));
      },
    );
    assert.equal(answer.headers['content-type'], 'application/grpc-web-text+proto');
    const seen = rawSeen[0];
    assert.ok(seen);
    assert.equal(seen.headers['content-type'], 'application/grpc+proto');
    assert.equal(seen.headers.te, 'trailers');
    assert.equal(seen.headers['x-grpc-web'], undefined);
    assert.equal(seen.headers['x-user-agent'], 'grpc-web-javascript/0.1');
    // The client's content-length counted base64 characters; undici may state the decoded length instead.
    const length = seen.headers['content-length'];
    assert.ok(length === undefined || length === String(frame('hello').length), length);
    assert.deepEqual(seen.body, frame('hello'));
  });
});
