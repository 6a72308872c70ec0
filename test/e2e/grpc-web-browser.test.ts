/** gRPC-Web from a real browser: a page on one origin calls a grpcWeb route on another with fetch(), CORS preflight and all. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';

interface Hello {
  name?: string;
  message?: string;
}

const serialize = (value: Hello): Buffer => Buffer.from(JSON.stringify(value));
const deserialize = (bytes: Buffer): Hello => JSON.parse(bytes.toString()) as Hello;

function greeter(pkg: string): grpc.ServiceDefinition {
  return {
    sayHello: {
      path: `/${pkg}.Greeter/SayHello`,
      requestStream: false,
      responseStream: false,
      requestSerialize: serialize,
      requestDeserialize: deserialize,
      responseSerialize: serialize,
      responseDeserialize: deserialize,
    },
  };
}

/** What the page's gRPC-Web call ended with. */
interface Outcome {
  readonly ok: boolean;
  readonly status?: number;
  readonly contentType?: string | null;
  /** grpc-status as a response header (trailers-only answers), readable only when exposed by CORS. */
  readonly statusHeader?: string | null;
  readonly messages?: string[];
  /** The trailer frame's text. */
  readonly trailer?: string | null;
  readonly error?: string;
}

describe(
  'gRPC-Web in Chromium',
  {
    skip: existsSync(CHROMIUM)
      ? false
      : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this test`,
  },
  () => {
    let server: grpc.Server;
    let gw: TestGateway;
    let page: Server;
    let pageOrigin: string;

    before(async () => {
      page = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>app</title>');
      });
      page.listen(0, '127.0.0.1');
      await once(page, 'listening');
      pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
      server = new grpc.Server();
      const implementation: grpc.UntypedServiceImplementation = {
        sayHello(call: grpc.ServerUnaryCall<Hello, Hello>, callback: grpc.sendUnaryData<Hello>) {
          callback(null, { message: `hello ${call.request.name}` });
        },
      };
      for (const pkg of ['helloworld', 'secure']) server.addService(greeter(pkg), implementation);
      const upstreamPort = await new Promise<number>((resolve, reject) => {
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
          err ? reject(err) : resolve(bound),
        );
      });
      const cors = `cors: { origins: ["${pageOrigin}"], methods: [POST], headers: [content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization], exposeHeaders: [grpc-status, grpc-message] }`;
      gw = await startGateway({
        'gateway.yaml': 'auth:\n  issuers: [{ issuer: edgeway, audience: api }]\n',
        'services.yaml': `services:
  greeter: { protocol: h2c, instances: ["http://127.0.0.1:${upstreamPort}"] }
routes:
  - { name: greeter, match: { path: /helloworld.Greeter }, service: greeter, grpcWeb: true, ${cors} }
  - { name: secure, match: { path: /secure.Greeter }, service: greeter, grpcWeb: true, auth: { required: true }, ${cors} }
`,
      });
    });

    after(async () => {
      await gw.stop();
      server.forceShutdown();
      page.closeAllConnections();
      await new Promise<void>((resolve) => page.close(() => resolve()));
    });

    test('fetch() with gRPC-Web framing reads the message and the grpc-status trailer frame; a refusal reads grpc-status 16', async () => {
      const browser = await launchChromium();
      try {
        const tab = await browser.newPage();
        await tab.goto(`${pageOrigin}/`);
        const call = (url: string): Promise<Outcome> =>
          tab.evaluate(async (target) => {
            try {
              const message = new TextEncoder().encode(JSON.stringify({ name: 'browser' }));
              const body = new Uint8Array(5 + message.length);
              new DataView(body.buffer).setUint32(1, message.length);
              body.set(message, 5);
              const res = await fetch(target, {
                method: 'POST',
                headers: {
                  'content-type': 'application/grpc-web+proto',
                  'x-grpc-web': '1',
                  'x-user-agent': 'grpc-web-javascript/0.1',
                  'grpc-timeout': '5S',
                },
                body,
              });
              const bytes = new Uint8Array(await res.arrayBuffer());
              const view = new DataView(bytes.buffer);
              const messages: string[] = [];
              let trailer: string | null = null;
              for (let at = 0; at + 5 <= bytes.length;) {
                const length = view.getUint32(at + 1);
                const payload = new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + length));
                if (((bytes[at] as number) & 0x80) === 0) messages.push(payload);
                else trailer = payload;
                at += 5 + length;
              }
              return {
                ok: true,
                status: res.status,
                contentType: res.headers.get('content-type'),
                statusHeader: res.headers.get('grpc-status'),
                messages,
                trailer,
              };
            } catch (err) {
              return { ok: false, error: String(err) };
            }
          }, url);

        const answer = await call(`${gw.url}/helloworld.Greeter/SayHello`);
        assert.equal(answer.ok, true, answer.error);
        assert.equal(answer.status, 200);
        assert.equal(answer.contentType, 'application/grpc-web+proto');
        assert.deepEqual(
          answer.messages?.map((m) => JSON.parse(m) as Hello),
          [{ message: 'hello browser' }],
        );
        assert.match(answer.trailer ?? '', /^grpc-status: 0\r\n/m);

        const refused = await call(`${gw.url}/secure.Greeter/SayHello`);
        assert.equal(refused.ok, true, refused.error);
        assert.equal(refused.status, 200);
        assert.equal(refused.statusHeader, '16', 'grpc-status is exposed to the page');
        assert.deepEqual(refused.messages, []);
      } finally {
        await browser.close();
      }
    });
  },
);
