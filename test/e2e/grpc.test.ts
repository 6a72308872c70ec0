/** gRPC through edgeway with real grpc-js clients and servers: unary, server streaming, metadata, deadlines, refusals as gRPC status. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import { greeter, serializeHello, type Hello } from '../helpers/json-greeter.js';

const PACKAGES = ['helloworld', 'secure', 'limited', 'down', 'nowhere'];

const implementation: grpc.UntypedServiceImplementation = {
  sayHello(call: grpc.ServerUnaryCall<Hello, Hello>, callback: grpc.sendUnaryData<Hello>) {
    const { name } = call.request;
    if (name === 'slow') {
      setTimeout(() => callback(null, { message: 'late' }), 3000);
      return;
    }
    if (name === 'missing') {
      callback({ code: grpc.status.NOT_FOUND, details: 'no such greeting' });
      return;
    }
    const initial = new grpc.Metadata();
    initial.set('x-initial', 'i');
    call.sendMetadata(initial);
    const trailer = new grpc.Metadata();
    trailer.set('x-trailer', 't');
    callback(
      null,
      { message: `hello ${name}`, tenant: String(call.metadata.get('x-tenant')[0] ?? '') },
      trailer,
    );
  },
  streamHellos(call: grpc.ServerWritableStream<Hello, Hello>) {
    for (let i = 0; i < 3; i++) call.write({ message: `hello ${call.request.name} ${i}` });
    call.end();
  },
};

type GreeterClient = grpc.Client & {
  sayHello(
    request: Hello,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, reply?: Hello) => void,
  ): grpc.ClientUnaryCall;
  streamHellos(request: Hello, metadata?: grpc.Metadata): grpc.ClientReadableStream<Hello>;
};

function client(pkg: string, port: number): GreeterClient {
  const Client = grpc.makeGenericClientConstructor(
    greeter(pkg) as grpc.ServiceDefinition,
    `${pkg}.Greeter`,
  );
  return new Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as GreeterClient;
}

interface Unary {
  readonly err: grpc.ServiceError | null;
  readonly reply: Hello | undefined;
  readonly initial: grpc.Metadata | undefined;
  readonly trailing: grpc.Metadata | undefined;
}

function sayHello(
  target: GreeterClient,
  name: string,
  options: { metadata?: grpc.Metadata; deadlineMs?: number } = {},
): Promise<Unary> {
  return new Promise((resolve) => {
    let initial: grpc.Metadata | undefined;
    let trailing: grpc.Metadata | undefined;
    let settled: { err: grpc.ServiceError | null; reply: Hello | undefined } | undefined;
    let status = false;
    const finish = (): void => {
      if (settled !== undefined && status) resolve({ ...settled, initial, trailing });
    };
    const call = target.sayHello(
      { name },
      options.metadata ?? new grpc.Metadata(),
      options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs },
      (err, reply) => {
        settled = { err, reply };
        finish();
      },
    );
    call.on('metadata', (metadata: grpc.Metadata) => {
      initial = metadata;
    });
    call.on('status', (s: grpc.StatusObject) => {
      trailing = s.metadata;
      status = true;
      finish();
    });
  });
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('gRPC routes', () => {
  let server: grpc.Server;
  let gw: TestGateway;
  let port: number;
  const clients: grpc.Client[] = [];
  const open = (pkg: string): GreeterClient => {
    const made = client(pkg, port);
    clients.push(made);
    return made;
  };

  before(async () => {
    server = new grpc.Server();
    for (const pkg of PACKAGES) server.addService(greeter(pkg), implementation);
    const upstreamPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
    const closed = await freePort();
    gw = await startGateway({
      'gateway.yaml':
        'gateway:\n  h2c: true\nauth:\n  issuers: [{ issuer: edgeway, audience: api }]\n',
      'services.yaml': `services:
  greeter: { protocol: h2c, instances: ["http://127.0.0.1:${upstreamPort}"] }
  gone: { protocol: h2c, instances: ["http://127.0.0.1:${closed}"], retries: { attempts: 0 } }
routes:
  - { name: greeter, match: { path: /helloworld.Greeter }, service: greeter, grpc: true }
  - { name: secure, match: { path: /secure.Greeter }, service: greeter, grpc: true, auth: { required: true, scopes: [greet] } }
  - { name: limited, match: { path: /limited.Greeter }, service: greeter, grpc: true, rateLimit: { capacity: 1, refillPerSecond: 0.001, key: ip } }
  - { name: down, match: { path: /down.Greeter }, service: gone, grpc: true }
`,
    });
    port = gw.gateway.port;
  });

  after(async () => {
    for (const made of clients) made.close();
    await gw.stop();
    server.forceShutdown();
  });

  test('unary calls carry metadata both ways: request metadata, initial metadata and trailers', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-tenant', 'acme');
    const answer = await sayHello(open('helloworld'), 'world', { metadata });
    assert.equal(answer.err, null);
    assert.deepEqual(answer.reply, { message: 'hello world', tenant: 'acme' });
    assert.deepEqual(answer.initial?.get('x-initial'), ['i']);
    assert.deepEqual(answer.trailing?.get('x-trailer'), ['t']);
  });

  test('server streaming relays every message, then the status', async () => {
    const messages: string[] = [];
    const stream = open('helloworld').streamHellos({ name: 'stream' });
    stream.on('data', (reply: Hello) => messages.push(reply.message ?? ''));
    const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(messages, ['hello stream 0', 'hello stream 1', 'hello stream 2']);
  });

  test("an upstream's own gRPC error is relayed as it was sent", async () => {
    const answer = await sayHello(open('helloworld'), 'missing');
    assert.equal(answer.err?.code, grpc.status.NOT_FOUND);
    assert.equal(answer.err?.details, 'no such greeting');
  });

  test('a client deadline ends the call with DEADLINE_EXCEEDED', async () => {
    const answer = await sayHello(open('helloworld'), 'slow', { deadlineMs: 300 });
    assert.equal(answer.err?.code, grpc.status.DEADLINE_EXCEEDED);
  });

  test('grpc-timeout bounds the upstream call at the gateway: trailers-only grpc-status 4', async () => {
    const session = await h2Connect(gw.url);
    try {
      const answer = await h2Request(
        session,
        {
          ':method': 'POST',
          ':path': '/helloworld.Greeter/SayHello',
          ':authority': 'gateway.test',
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': '200m',
        },
        grpcFrame({ name: 'slow' }),
      );
      assert.equal(answer.status, 200);
      assert.equal(answer.headersOnly, true);
      assert.equal(answer.headers['grpc-status'], '4');
      assert.equal(answer.headers['content-type'], 'application/grpc');
      assert.equal(answer.body, '');
    } finally {
      session.close();
    }
  });

  test('no token: UNAUTHENTICATED, with www-authenticate kept', async () => {
    const session = await h2Connect(gw.url);
    try {
      const answer = await h2Request(
        session,
        {
          ':method': 'POST',
          ':path': '/secure.Greeter/SayHello',
          ':authority': 'gateway.test',
          'content-type': 'application/grpc',
        },
        grpcFrame({ name: 'x' }),
      );
      assert.equal(answer.headers['grpc-status'], '16');
      assert.match(String(answer.headers['www-authenticate']), /^Bearer/);
      assert.equal(answer.headersOnly, true);
      assert.match(String(answer.headers['grpc-message']), /^[\x20-\x7e]+$/);
    } finally {
      session.close();
    }
    const answer = await sayHello(open('secure'), 'x');
    assert.equal(answer.err?.code, grpc.status.UNAUTHENTICATED);
  });

  test('a token without the scope: PERMISSION_DENIED; with it: OK', async () => {
    const mint = async (scopes: string[]): Promise<string> => {
      const res = await fetch(`${gw.adminUrl}/admin/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sub: 'grpc-user', scopes, ttl: '10m', aud: 'api' }),
      });
      return ((await res.json()) as { token: string }).token;
    };
    const bearer = async (scopes: string[]): Promise<grpc.Metadata> => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${await mint(scopes)}`);
      return metadata;
    };
    const denied = await sayHello(open('secure'), 'x', { metadata: await bearer(['other']) });
    assert.equal(denied.err?.code, grpc.status.PERMISSION_DENIED);
    const allowed = await sayHello(open('secure'), 'x', { metadata: await bearer(['greet']) });
    assert.equal(allowed.err, null);
    assert.equal(allowed.reply?.message, 'hello x');
  });

  test('rate limited: RESOURCE_EXHAUSTED once the bucket is empty', async () => {
    const target = open('limited');
    assert.equal((await sayHello(target, 'one')).err, null);
    const refused = await sayHello(target, 'two');
    assert.equal(refused.err?.code, grpc.status.RESOURCE_EXHAUSTED);
  });

  test('an instance that refuses connections: UNAVAILABLE', async () => {
    const answer = await sayHello(open('down'), 'x');
    assert.equal(answer.err?.code, grpc.status.UNAVAILABLE);
  });

  test('no route for the method: UNIMPLEMENTED, never a JSON body', async () => {
    const answer = await sayHello(open('nowhere'), 'x');
    assert.equal(answer.err?.code, grpc.status.UNIMPLEMENTED);
  });
});

/** One length-prefixed gRPC message (uncompressed) carrying `value` as JSON. */
function grpcFrame(value: Hello): Buffer {
  const body = serializeHello(value);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}
