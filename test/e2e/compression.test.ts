/** Response compression through a real gateway: negotiation, eligibility, framing headers and event streams. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  brotliDecompressSync,
  createBrotliDecompress,
  createGunzip,
  gunzipSync,
  gzipSync,
} from 'node:zlib';
import { request } from 'undici';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';

const JSON_BODY = JSON.stringify({
  items: Array.from({ length: 80 }, (_, i) => ({
    id: i,
    name: `widget ${i}`,
    tags: ['blue', 'large'],
  })),
});

describe('compression', () => {
  let up: Upstream;
  let gw: TestGateway;
  /** Resolves the event stream's pending wait: the upstream writes its next event only after the client read the last. */
  let nextEvent: () => void = () => undefined;
  /** Called when the upstream's endless stream is closed. */
  let foreverClosed: () => void = () => undefined;

  before(async () => {
    up = await startUpstream((req, res) => {
      const path = req.url ?? '';
      if (path === '/json' || path === '/json-etag') {
        if (path === '/json-etag') res.setHeader('etag', '"v1"');
        res.setHeader('accept-ranges', 'bytes');
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(JSON_BODY),
        });
        res.end(req.method === 'HEAD' ? undefined : JSON_BODY);
      } else if (path === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain', vary: 'Cookie' });
        res.write(JSON_BODY.slice(0, 2000));
        res.end(JSON_BODY.slice(2000));
      } else if (path === '/small') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
        res.end('{}');
      } else if (path === '/png') {
        res.writeHead(200, {
          'content-type': 'image/png',
          'content-length': Buffer.byteLength(JSON_BODY),
        });
        res.end(JSON_BODY);
      } else if (path === '/encoded') {
        const gz = gzipSync(JSON_BODY);
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': gz.length,
        });
        res.end(gz);
      } else if (path === '/no-transform') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-transform' });
        res.end(JSON_BODY);
      } else if (path === '/empty') {
        res.writeHead(204);
        res.end();
      } else if (path === '/not-modified') {
        res.writeHead(304, { 'content-type': 'application/json', etag: '"v1"' });
        res.end();
      } else if (path === '/dies') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(JSON_BODY.slice(0, 3000), () => setImmediate(() => res.socket?.destroy()));
      } else if (path === '/forever') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        res.once('close', () => foreverClosed());
      } else if (path === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const send = (): void => {
          n++;
          res.write(`data: event ${n}\n\n`);
          if (n === 3) res.end();
          else nextEvent = send;
        };
        send();
      }
    });
    gw = await startGateway({
      'services.yaml': serviceYaml('svc', [up.url]),
      'routes.yaml': `
routes:
  - { name: on, match: { path: / }, service: svc, compression: true }
  - { name: gzip-first, match: { path: /gz }, service: svc, stripPrefix: true, compression: { encodings: [gzip, br], minBytes: 100 } }
  - { name: off, match: { path: /off }, service: svc, stripPrefix: true }
`,
    });
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  async function get(
    path: string,
    acceptEncoding?: string,
    method: 'GET' | 'HEAD' = 'GET',
  ): Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }> {
    const res = await request(`${gw.url}${path}`, {
      method,
      headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding },
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: Buffer.from(await res.body.arrayBuffer()),
    };
  }

  test('br when the client accepts it: Content-Encoding, Vary, no Content-Length or Accept-Ranges, the same bytes decoded', async () => {
    const res = await get('/json', 'gzip, deflate, br');
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers.vary, 'Accept-Encoding');
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(res.headers['accept-ranges'], undefined);
    assert.equal(brotliDecompressSync(res.body).toString(), JSON_BODY);
    assert.ok(res.body.length < JSON_BODY.length / 3);
  });

  test('gzip when the client prefers it by q-value, and a strong ETag becomes weak', async () => {
    const res = await get('/json-etag', 'br;q=0.5, gzip');
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers.etag, 'W/"v1"');
    assert.equal(gunzipSync(res.body).toString(), JSON_BODY);
  });

  test("a tie goes to the route's encodings order", async () => {
    assert.equal((await get('/gz/json', 'br, gzip')).headers['content-encoding'], 'gzip');
    assert.equal((await get('/json', 'br, gzip')).headers['content-encoding'], 'br');
    assert.equal((await get('/json', '*')).headers['content-encoding'], 'br');
  });

  test("a streamed body of unknown length is compressed, and the upstream's Vary is kept", async () => {
    const res = await get('/chunked', 'gzip');
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers.vary, 'Cookie, Accept-Encoding');
    assert.equal(gunzipSync(res.body).toString(), JSON_BODY);
  });

  const untouched: Array<[string, string | undefined, 'GET' | 'HEAD', boolean]> = [
    // [path, accept-encoding, method, still says Vary: Accept-Encoding]
    ['/json', undefined, 'GET', true],
    ['/json', 'identity', 'GET', true],
    ['/json', 'br;q=0, gzip;q=0', 'GET', true],
    ['/small', 'br', 'GET', false],
    ['/png', 'br', 'GET', false],
    ['/no-transform', 'br', 'GET', false],
    ['/json', 'br', 'HEAD', false],
    ['/off/json', 'br', 'GET', false],
  ];
  for (const [path, accept, method, vary] of untouched) {
    test(`${method} ${path} with Accept-Encoding ${accept ?? '(none)'} is sent as the upstream sent it`, async () => {
      const res = await get(path, accept, method);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers.vary, vary ? 'Accept-Encoding' : undefined);
      if (method === 'GET' && path !== '/small') assert.equal(res.body.toString(), JSON_BODY);
    });
  }

  test('a body the upstream already encoded passes untouched', async () => {
    const res = await get('/encoded', 'br');
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(res.body).toString(), JSON_BODY);
  });

  for (const [path, status] of [
    ['/empty', 204],
    ['/not-modified', 304],
  ] as const) {
    test(`a ${status} passes untouched`, async () => {
      const res = await get(path, 'br');
      assert.equal(res.status, status);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers.vary, undefined);
      assert.equal(res.body.length, 0);
    });
  }

  for (const coding of ['br', 'gzip'] as const) {
    test(
      `an event stream in ${coding} reaches the client event by event (each flushed, never buffered)`,
      { timeout: 5000 },
      async () => {
        const res = await request(`${gw.url}/events`, { headers: { 'accept-encoding': coding } });
        assert.equal(res.headers['content-encoding'], coding);
        const decoded = res.body.pipe(coding === 'br' ? createBrotliDecompress() : createGunzip());
        const events: string[] = [];
        for await (const chunk of decoded) {
          events.push(
            ...String(chunk)
              .split('\n\n')
              .filter((part) => part !== ''),
          );
          // The upstream sends the next event only now: a gateway that buffered would never deliver this one.
          nextEvent();
        }
        assert.deepEqual(events, ['data: event 1', 'data: event 2', 'data: event 3']);
      },
    );
  }

  test(
    'a client that leaves a compressed stream ends the upstream request too',
    { timeout: 5000 },
    async () => {
      const closed = new Promise<void>((resolve) => (foreverClosed = resolve));
      const res = await request(`${gw.url}/forever`, { headers: { 'accept-encoding': 'gzip' } });
      const decoded = res.body.pipe(createGunzip());
      for await (const chunk of decoded) {
        assert.match(String(chunk), /first/);
        break;
      }
      res.body.destroy();
      await closed;
    },
  );

  test(
    'an upstream that dies mid-body cuts the compressed answer short, and the gateway keeps serving',
    { timeout: 5000 },
    async () => {
      // The encoder may not have sent a byte yet, headers included: the client sees the connection end either way.
      await assert.rejects(async () => {
        const res = await request(`${gw.url}/dies`, { headers: { 'accept-encoding': 'br' } });
        await res.body.arrayBuffer();
      });
      const next = await get('/json', 'br');
      assert.equal(brotliDecompressSync(next.body).toString(), JSON_BODY);
    },
  );
});
