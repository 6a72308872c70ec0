/** HTTP/2 at both edges: h2 by ALPN beside http/1.1 on TLS, h2c with prior knowledge beside HTTP/1.1, h2 and h2c upstreams. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import {
  constants,
  createSecureServer,
  createServer as createH2Server,
  type Http2SecureServer,
  type Http2Server,
} from 'node:http2';
import { Agent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createCa, type TestCa } from '../helpers/certs.js';
import { waitFor as waitUntil } from '../helpers/wait-for.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const run = promisify(execFile);

function getHttp1(
  url: string,
  options: { ca?: string; agent?: Agent } = {},
): Promise<{ status: number; body: string; version: string }> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { ...options, servername: 'gateway.test' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          version: res.httpVersion,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP/2 upstream that answers with the protocol it saw and the request headers it got. */
async function listenH2(server: Http2Server | Http2SecureServer): Promise<number> {
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(
        JSON.stringify({ protocol: 'h2', headers, bodyLength: Buffer.concat(chunks).length }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('HTTP/2 downstream over TLS (ALPN) and upstream h2 / h2c', () => {
  let ca: TestCa;
  let upstream: Upstream;
  let h2cUpstream: Http2Server;
  let h2Upstream: Http2SecureServer;
  let gw: TestGateway;
  let origin: string;

  before(async () => {
    ca = createCa();
    const leaf = ca.issue('gateway.test', { dns: ['gateway.test'], ip: ['127.0.0.1'] });
    upstream = await startUpstream();
    h2cUpstream = createH2Server();
    const h2cPort = await listenH2(h2cUpstream);
    const upstreamLeaf = ca.issue('upstream.test', { dns: ['upstream.test'], ip: ['127.0.0.1'] });
    h2Upstream = createSecureServer({ cert: upstreamLeaf.cert, key: upstreamLeaf.key });
    const h2Port = await listenH2(h2Upstream);
    gw = await startGateway({
      'gateway.yaml': `gateway:\n  tls: { cert: ${leaf.certPath}, key: ${leaf.keyPath} }\n`,
      'services.yaml': `services:
  plain: { instances: ["${upstream.url}"] }
  greeter-h2c: { protocol: h2c, instances: ["http://127.0.0.1:${h2cPort}"] }
  greeter-h2: { protocol: h2, instances: ["https://127.0.0.1:${h2Port}"], upstreamTls: { ca: ${ca.certPath}, serverName: upstream.test } }
routes:
  - { name: plain, match: { path: /plain }, service: plain }
  - { name: via-h2c, match: { path: /h2c }, service: greeter-h2c }
  - { name: via-h2, match: { path: /h2 }, service: greeter-h2 }
`,
    });
    origin = `https://127.0.0.1:${gw.gateway.port}`;
  });

  after(async () => {
    await gw.stop();
    await upstream.close();
    h2cUpstream.close();
    h2Upstream.close();
    ca.cleanup();
  });

  test('an h2 client is routed like HTTP/1.1: :authority plays Host, no pseudo-header reaches the upstream', async () => {
    const session = await h2Connect(origin, { ca: ca.cert, servername: 'gateway.test' });
    try {
      assert.equal((session.socket as unknown as { alpnProtocol: string }).alpnProtocol, 'h2');
      const answer = await h2Request(session, {
        ':method': 'GET',
        ':path': '/plain/x?q=1',
        ':authority': 'api.example.test',
        'x-custom': 'yes',
      });
      assert.equal(answer.status, 200);
      const seen = JSON.parse(answer.body) as { url: string; headers: Record<string, string> };
      assert.equal(seen.url, '/plain/x?q=1');
      assert.equal(seen.headers['x-forwarded-host'], 'api.example.test');
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.equal(seen.headers['x-custom'], 'yes');
      assert.deepEqual(
        Object.keys(seen.headers).filter((name) => name.startsWith(':')),
        [],
      );
      assert.ok(answer.headers['x-request-id']);
      assert.equal(answer.headers.connection, undefined);
    } finally {
      session.close();
    }
  });

  test('a request body streams through from an h2 client', async () => {
    const session = await h2Connect(origin, { ca: ca.cert, servername: 'gateway.test' });
    try {
      const answer = await h2Request(
        session,
        { ':method': 'POST', ':path': '/plain/upload', ':authority': 'gateway.test' },
        Buffer.alloc(200_000, 7),
      );
      assert.equal(answer.status, 200);
      assert.equal((JSON.parse(answer.body) as { bodyLength: number }).bodyLength, 200_000);
    } finally {
      session.close();
    }
  });

  test('errors over h2 are the SPEC JSON body, with x-request-id equal to requestId', async () => {
    const session = await h2Connect(origin, { ca: ca.cert, servername: 'gateway.test' });
    try {
      const answer = await h2Request(session, {
        ':method': 'GET',
        ':path': '/nowhere',
        ':authority': 'gateway.test',
      });
      assert.equal(answer.status, 404);
      assert.equal(answer.headers['content-type'], 'application/json');
      const body = JSON.parse(answer.body) as { error: { code: string; requestId: string } };
      assert.equal(body.error.code, 'not_found');
      assert.equal(body.error.requestId, answer.headers['x-request-id']);
    } finally {
      session.close();
    }
  });

  test('HTTP/1.1 clients keep working on the same TLS port (ALPN http/1.1)', async () => {
    const answer = await getHttp1(`${origin}/plain/one`, { ca: ca.cert });
    assert.equal(answer.status, 200);
    assert.equal(answer.version, '1.1');
  });

  test('curl --http2 negotiates h2 and gets 200', async () => {
    const { stdout } = await run('curl', [
      '-s',
      '--http2',
      '--cacert',
      ca.certPath,
      '--resolve',
      `gateway.test:${gw.gateway.port}:127.0.0.1`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `https://gateway.test:${gw.gateway.port}/plain/curl`,
    ]);
    assert.equal(stdout, '2 200');
  });

  test('services with protocol h2c and h2 are reached over HTTP/2, concurrent requests multiplexed on one connection', async () => {
    const session = await h2Connect(origin, { ca: ca.cert, servername: 'gateway.test' });
    const connections: number[] = [];
    try {
      // A first request opens the connection; until it is up undici cannot know it will multiplex.
      for (const path of ['/h2c/warm', '/h2/warm'])
        assert.equal(
          (
            await h2Request(session, {
              ':method': 'GET',
              ':path': path,
              ':authority': 'gateway.test',
            })
          ).status,
          200,
        );
      h2cUpstream.on('connection', () => connections.push(1));
      h2Upstream.on('secureConnection', () => connections.push(2));
      for (const path of ['/h2c/a', '/h2/a']) {
        const answers = await Promise.all(
          [1, 2, 3].map(() =>
            h2Request(session, { ':method': 'GET', ':path': path, ':authority': 'gateway.test' }),
          ),
        );
        for (const answer of answers) {
          assert.equal(answer.status, 200, answer.body);
          const seen = JSON.parse(answer.body) as {
            protocol: string;
            headers: Record<string, string>;
          };
          assert.equal(seen.protocol, 'h2');
          assert.equal(seen.headers['x-forwarded-host'], 'gateway.test');
        }
      }
      assert.deepEqual(connections, [], 'no new upstream connection for concurrent requests');
    } finally {
      session.close();
    }
  });

  test('an h2 request gets its access-log line', async () => {
    const session = await h2Connect(origin, { ca: ca.cert, servername: 'gateway.test' });
    try {
      const before = gw.accessLines.length;
      const answer = await h2Request(session, {
        ':method': 'GET',
        ':path': '/plain/logged',
        ':authority': 'gateway.test',
      });
      const line = gw.accessLines
        .slice(before)
        .map((text) => JSON.parse(text) as Record<string, unknown>)
        .find((entry) => entry.requestId === answer.headers['x-request-id']);
      assert.ok(line, 'an access-log line for the h2 request');
      assert.equal(line.status, 200);
    } finally {
      session.close();
    }
  });
});

describe('h2c: HTTP/2 with prior knowledge beside HTTP/1.1 on the plaintext port', () => {
  let upstream: Upstream;
  /** Bytes the /firehose upstream managed to write so far; it writes only while its socket drains. */
  let firehoseWritten = 0;
  let on: TestGateway;
  let off: TestGateway;

  before(async () => {
    upstream = await startUpstream((req, res, body) => {
      if (req.url !== '/firehose') {
        const payload = JSON.stringify({ url: req.url, bodyLength: body.length });
        res.writeHead(200, { 'content-type': 'application/json' }).end(payload);
        return;
      }
      // 64 MiB offered as fast as the gateway takes it.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024);
      const pump = (): void => {
        while (firehoseWritten < 64 * 1024 * 1024) {
          firehoseWritten += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => res.off('drain', pump));
      pump();
    });
    const services = `services:\n  plain: { instances: ["${upstream.url}"] }\nroutes:\n  - { name: plain, match: { path: / }, service: plain }\n`;
    on = await startGateway({
      'gateway.yaml': 'gateway:\n  h2c: true\n',
      'services.yaml': services,
    });
    off = await startGateway({ 'services.yaml': services });
  });

  after(async () => {
    await on.stop();
    await off.stop();
    await upstream.close();
  });

  test('the SERVER span says network.protocol.version 2 and server.address from :authority', async () => {
    const exporter = new InMemorySpanExporter();
    const traced = await startGateway(
      {
        'gateway.yaml': 'gateway:\n  h2c: true\n',
        'services.yaml': `services:\n  plain: { instances: ["${upstream.url}"] }\nroutes:\n  - { name: plain, match: { path: / }, service: plain }\n`,
      },
      { tracing: { spanExporter: exporter } },
    );
    const session = await h2Connect(traced.url);
    try {
      assert.equal(
        (
          await h2Request(session, {
            ':method': 'GET',
            ':path': '/traced',
            ':authority': 'api.example.test:8443',
          })
        ).status,
        200,
      );
      await waitUntil(
        () => exporter.getFinishedSpans().some((span) => span.kind === 1),
        10_000,
        'the SERVER span',
      );
      const server = exporter.getFinishedSpans().find((span) => span.kind === 1 /* SERVER */);
      assert.equal(server?.attributes['network.protocol.version'], '2');
      assert.equal(server?.attributes['server.address'], 'api.example.test');
      assert.equal(server?.attributes['server.port'], 8443);
      assert.equal(server?.attributes['http.route'], 'plain');
    } finally {
      session.close();
      await traced.stop();
    }
  });

  test('a prior-knowledge h2 client and HTTP/1.1 clients share the port', async () => {
    const session = await h2Connect(on.url);
    try {
      const answers = await Promise.all(
        [1, 2, 3].map((i) =>
          h2Request(session, {
            ':method': 'GET',
            ':path': `/h2c/${i}`,
            ':authority': 'gateway.test',
          }),
        ),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [200, 200, 200],
      );
    } finally {
      session.close();
    }
    const agent = new Agent({ keepAlive: true });
    const first = await getHttp1(`${on.url}/h1/a`);
    const second = await getHttp1(`${on.url}/h1/b`);
    agent.destroy();
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal((JSON.parse(second.body) as { url: string }).url, '/h1/b');
  });

  test('flow control: an h2 client that stops reading stops the upstream too (no unbounded buffering)', async () => {
    const session = await h2Connect(on.url);
    try {
      const stream = session.request({
        ':method': 'GET',
        ':path': '/firehose',
        ':authority': 'gateway.test',
      });
      stream.on('error', () => undefined);
      await once(stream, 'response');
      stream.pause();
      // Let the windows and buffers on the way fill up, then check that the upstream was held back.
      let previous = -1;
      await waitUntil(
        () => {
          const settled = firehoseWritten === previous;
          previous = firehoseWritten;
          return settled;
        },
        20_000,
        'the upstream to be held back',
        500,
      );
      assert.ok(
        firehoseWritten < 16 * 1024 * 1024,
        `upstream wrote ${firehoseWritten} bytes to a client reading none`,
      );
      stream.close(constants.NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
  });

  test('curl --http2-prior-knowledge gets 200 over h2c', async () => {
    const { stdout } = await run('curl', [
      '-s',
      '--http2-prior-knowledge',
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `${on.url}/curl`,
    ]);
    assert.equal(stdout, '2 200');
  });

  test('without gateway.h2c the preface is no HTTP/1.1 request: refused', async () => {
    const { stdout } = await run('curl', [
      '-s',
      '--http2-prior-knowledge',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `${off.url}/curl`,
    ]).catch((err: { stdout: string }) => err);
    assert.notEqual(stdout, '200');
  });
});
