/** gRPC-Web through edgeway, spoken by hand over node:http (HTTP/1.1) to a real grpc-js server behind an h2c service. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import { deserializeHello, greeter, serializeHello, type Hello } from '../helpers/json-greeter.js';

/** Resolved by the test once the client holds the first streamed message; the server waits for it. */
let releaseStream: () => void = () => undefined;
/** How the paced stream went on after its first message: released by the client, or timed out. */
let pacedOutcome: 'released' | 'timed out' | undefined;

const implementation: grpc.UntypedServiceImplementation = {
  sayHello(call: grpc.ServerUnaryCall<Hello, Hello>, callback: grpc.sendUnaryData<Hello>) {
    const { name } = call.request;
    if (name === 'missing') {
      callback({ code: grpc.status.NOT_FOUND, details: 'no such greeting' });
      return;
    }
    const initial = new grpc.Metadata();
    initial.set('x-initial', 'i');
    call.sendMetadata(initial);
    if (name === 'late-missing') {
      // Headers already sent: the status can only travel in trailers.
      callback({ code: grpc.status.NOT_FOUND, details: 'gone after all' });
      return;
    }
    const trailer = new grpc.Metadata();
    trailer.set('x-trailer', 't');
    callback(
      null,
      { message: `hello ${name}`, tenant: String(call.metadata.get('x-tenant')[0] ?? '') },
      trailer,
    );
  },
  streamHellos(call: grpc.ServerWritableStream<Hello, Hello>) {
    const { name } = call.request;
    if (name !== 'paced') {
      for (let i = 0; i < 3; i++) call.write({ message: `hello ${name} ${i}` });
      call.end();
      return;
    }
    call.write({ message: 'first' });
    const timer = setTimeout(() => finish('timed out'), 5000);
    const finish = (outcome: 'released' | 'timed out'): void => {
      clearTimeout(timer);
      pacedOutcome ??= outcome;
      call.write({ message: 'second' });
      call.end();
    };
    releaseStream = () => finish('released');
  },
};

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** One length-prefixed message (flag 0) carrying `value` as JSON. */
function frame(value: Hello): Buffer {
  const body = serializeHello(value);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Decodes base64 made of separately padded pieces (a padded quantum may sit anywhere). */
function decodeBase64Pieces(text: string): Buffer {
  const pieces = text.match(/[^=]*=*/g) ?? [];
  return Buffer.concat(pieces.filter((p) => p !== '').map((p) => Buffer.from(p, 'base64')));
}

interface Frames {
  readonly messages: Hello[];
  /** The trailer frame's `name: value` lines, or undefined when none came. */
  readonly trailers: Record<string, string> | undefined;
  /** Bytes after the trailer frame, or a frame cut short: must be empty. */
  readonly rest: number;
}

/** Splits a gRPC-Web body into message frames and the trailer frame (flag 0x80). */
function parseFrames(bytes: Buffer): Frames {
  const messages: Hello[] = [];
  let trailers: Record<string, string> | undefined;
  let at = 0;
  while (trailers === undefined && at + 5 <= bytes.length) {
    const flag = bytes[at] as number;
    const length = bytes.readUInt32BE(at + 1);
    if (at + 5 + length > bytes.length) break;
    const payload = bytes.subarray(at + 5, at + 5 + length);
    at += 5 + length;
    if ((flag & 0x80) === 0) {
      messages.push(deserializeHello(payload));
      continue;
    }
    trailers = {};
    for (const line of payload.toString().split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      trailers[line.slice(0, colon)] = line.slice(colon + 1).trim();
    }
  }
  return { messages, trailers, rest: bytes.length - at };
}

interface WebAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Sends one gRPC-Web POST over HTTP/1.1; `body` pieces are written one by one (a text body split anywhere). */
function webCall(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: ReadonlyArray<string | Buffer>,
  onData?: (soFar: Buffer) => void,
): Promise<WebAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        onData?.(Buffer.concat(chunks));
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    void (async () => {
      for (const piece of body) {
        req.write(piece);
        // Separate writes leave separate chunks on the wire: the gateway sees the body split there.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      req.end();
    })();
  });
}

const BINARY = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
const TEXT = { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1' };

describe('gRPC-Web routes', () => {
  let server: grpc.Server;
  let gw: TestGateway;
  let upstreamPort: number;

  before(async () => {
    server = new grpc.Server();
    for (const pkg of ['helloworld', 'secure']) server.addService(greeter(pkg), implementation);
    upstreamPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
    const closed = await freePort();
    gw = await startGateway({
      'gateway.yaml': 'auth:\n  issuers: [{ issuer: edgeway, audience: api }]\n',
      'services.yaml': `services:
  greeter: { protocol: h2c, instances: ["http://127.0.0.1:${upstreamPort}"] }
  gone: { protocol: h2c, instances: ["http://127.0.0.1:${closed}"], retries: { attempts: 0 } }
routes:
  - { name: greeter, match: { path: /helloworld.Greeter }, service: greeter, grpcWeb: true }
  - { name: secure, match: { path: /secure.Greeter }, service: greeter, grpcWeb: true, auth: { required: true } }
  - { name: down, match: { path: /down.Greeter }, service: gone, grpcWeb: true }
`,
    });
  });

  after(async () => {
    await gw.stop();
    server.forceShutdown();
  });

  test('unary, binary flavour: the message, initial metadata as headers, trailers as the last frame', async () => {
    const answer = await webCall(
      gw.url,
      '/helloworld.Greeter/SayHello',
      { ...BINARY, 'x-tenant': 'acme' },
      [frame({ name: 'world' })],
    );
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(answer.headers['x-initial'], 'i');
    const frames = parseFrames(answer.body);
    assert.deepEqual(frames.messages, [{ message: 'hello world', tenant: 'acme' }]);
    assert.equal(frames.trailers?.['grpc-status'], '0');
    assert.equal(frames.trailers?.['x-trailer'], 't');
    assert.equal(frames.rest, 0, 'nothing follows the trailer frame');
  });

  test('unary, text flavour: a base64 body split mid-quantum and padded mid-stream, answered in base64', async () => {
    const bytes = frame({ name: 'text' });
    // The 5-byte frame header and the message encoded separately: padding sits in the middle of the body.
    const encoded = bytes.subarray(0, 5).toString('base64') + bytes.subarray(5).toString('base64');
    assert.match(encoded.slice(0, 8), /=$/);
    const answer = await webCall(gw.url, '/helloworld.Greeter/SayHello', TEXT, [
      // Cut mid-quantum, and the second piece runs across the padded quantum into the message.
      encoded.slice(0, 3),
      encoded.slice(3, 14),
      encoded.slice(14),
    ]);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/grpc-web-text');
    const text = answer.body.toString('latin1');
    assert.match(text, /^[A-Za-z0-9+/=]+$/);
    const frames = parseFrames(decodeBase64Pieces(text));
    assert.deepEqual(frames.messages, [{ message: 'hello text', tenant: '' }]);
    assert.equal(frames.trailers?.['grpc-status'], '0');
    assert.equal(frames.rest, 0);
  });

  test('server streaming, both flavours: every message, then the trailer frame', async () => {
    const binary = await webCall(gw.url, '/helloworld.Greeter/StreamHellos', BINARY, [
      frame({ name: 'b' }),
    ]);
    const bin = parseFrames(binary.body);
    assert.deepEqual(
      bin.messages.map((m) => m.message),
      ['hello b 0', 'hello b 1', 'hello b 2'],
    );
    assert.equal(bin.trailers?.['grpc-status'], '0');

    const text = await webCall(gw.url, '/helloworld.Greeter/StreamHellos', TEXT, [
      frame({ name: 't' }).toString('base64'),
    ]);
    const txt = parseFrames(decodeBase64Pieces(text.body.toString('latin1')));
    assert.deepEqual(
      txt.messages.map((m) => m.message),
      ['hello t 0', 'hello t 1', 'hello t 2'],
    );
    assert.equal(txt.trailers?.['grpc-status'], '0');
  });

  test('server streaming is not buffered: the first message reaches the client while the stream is open', async () => {
    pacedOutcome = undefined;
    const answer = await webCall(
      gw.url,
      '/helloworld.Greeter/StreamHellos',
      BINARY,
      [frame({ name: 'paced' })],
      (soFar) => {
        if (parseFrames(soFar).messages.length >= 1) releaseStream();
      },
    );
    assert.equal(
      pacedOutcome,
      'released',
      'the client saw the first message before the stream ended',
    );
    const frames = parseFrames(answer.body);
    assert.deepEqual(
      frames.messages.map((m) => m.message),
      ['first', 'second'],
    );
    assert.equal(frames.trailers?.['grpc-status'], '0');
  });

  test("an upstream's error status after its headers travels in the trailer frame", async () => {
    const answer = await webCall(gw.url, '/helloworld.Greeter/SayHello', BINARY, [
      frame({ name: 'late-missing' }),
    ]);
    assert.equal(answer.status, 200);
    const frames = parseFrames(answer.body);
    assert.deepEqual(frames.messages, []);
    assert.equal(frames.trailers?.['grpc-status'], String(grpc.status.NOT_FOUND));
    assert.equal(decodeURIComponent(frames.trailers?.['grpc-message'] ?? ''), 'gone after all');
  });

  test("an upstream's trailers-only error is passed as headers, with the call's content-type", async () => {
    const answer = await webCall(gw.url, '/helloworld.Greeter/SayHello', TEXT, [
      frame({ name: 'missing' }).toString('base64'),
    ]);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/grpc-web-text');
    assert.equal(answer.headers['grpc-status'], String(grpc.status.NOT_FOUND));
    assert.equal(decodeURIComponent(String(answer.headers['grpc-message'])), 'no such greeting');
    assert.equal(answer.body.length, 0);
  });

  test('refusals are gRPC-Web answers, never JSON: no JWT -> 16, no route -> 12, upstream down -> 14', async () => {
    const cases: Array<[string, string]> = [
      ['/secure.Greeter/SayHello', '16'],
      ['/nowhere.Greeter/SayHello', '12'],
      ['/down.Greeter/SayHello', '14'],
    ];
    for (const [path, status] of cases) {
      const answer = await webCall(gw.url, path, BINARY, [frame({ name: 'x' })]);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.headers['content-type'], 'application/grpc-web+proto', path);
      assert.equal(answer.headers['grpc-status'], status, path);
      assert.match(String(answer.headers['grpc-message']), /^[\x20-\x7e]+$/, path);
      assert.match(String(answer.headers['x-request-id']), /./, path);
      assert.equal(answer.body.length, 0, path);
      if (status === '16') assert.match(String(answer.headers['www-authenticate']), /^Bearer/);
    }
  });

  test('a token on the secure route: the call goes through', async () => {
    const res = await fetch(`${gw.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'web-user', scopes: ['greet'], ttl: '10m', aud: 'api' }),
    });
    const { token } = (await res.json()) as { token: string };
    const answer = await webCall(
      gw.url,
      '/secure.Greeter/SayHello',
      { ...BINARY, authorization: `Bearer ${token}` },
      [frame({ name: 'member' })],
    );
    const frames = parseFrames(answer.body);
    assert.equal(answer.headers['grpc-status'], undefined, String(answer.headers['grpc-message']));
    assert.deepEqual(frames.messages, [{ message: 'hello member', tenant: '' }]);
    assert.equal(frames.trailers?.['grpc-status'], '0');
  });

  test('a grpcWeb route also serves native gRPC clients (grpcWeb implies grpc), and gRPC-Web over HTTP/2', async () => {
    const Client = grpc.makeGenericClientConstructor(
      greeter('helloworld') as grpc.ServiceDefinition,
      'helloworld.Greeter',
    );
    // Native gRPC needs HTTP/2 to the gateway: the TLS-less listener speaks it only with gateway.h2c.
    const h2 = await startGateway({
      'gateway.yaml': 'gateway:\n  h2c: true\n',
      'services.yaml': `services:
  greeter: { protocol: h2c, instances: ["http://127.0.0.1:${upstreamPort}"] }
routes:
  - { name: greeter, match: { path: /helloworld.Greeter }, service: greeter, grpcWeb: true }
`,
    });
    const client = new Client(`127.0.0.1:${h2.gateway.port}`, grpc.credentials.createInsecure());
    const call = (name: string): Promise<{ err: grpc.ServiceError | null; reply?: Hello }> =>
      new Promise((resolve) =>
        (
          client as unknown as {
            sayHello(
              request: Hello,
              callback: (err: grpc.ServiceError | null, reply?: Hello) => void,
            ): void;
          }
        ).sayHello({ name }, (err, reply) => resolve({ err, reply })),
      );
    try {
      const ok = await call('native');
      assert.equal(ok.err, null);
      assert.equal(ok.reply?.message, 'hello native');
      // A trailers-only upstream error reaches a gRPC client only when relayed as gRPC (not as a plain answer).
      const missing = await call('missing');
      assert.equal(missing.err?.code, grpc.status.NOT_FOUND);
      assert.equal(missing.err?.details, 'no such greeting');
      // gRPC-Web over HTTP/2 too: the trailers come as the body's last frame, never as HTTP/2 trailers.
      const session = await h2Connect(h2.url);
      try {
        const web = await h2Request(
          session,
          {
            ':method': 'POST',
            ':path': '/helloworld.Greeter/SayHello',
            ...BINARY,
          },
          frame({ name: 'h2' }),
        );
        assert.equal(web.status, 200);
        assert.equal(web.headers['content-type'], 'application/grpc-web+proto');
        assert.equal(web.trailers, undefined);
        // The helper hands the body over as UTF-8 text, which the 0x80 flag byte does not survive: read the text.
        assert.match(web.body, /"message":"hello h2"/);
        assert.match(web.body, /grpc-status: 0\r\n/);
      } finally {
        session.close();
      }
    } finally {
      client.close();
      await h2.stop();
    }
  });
});
