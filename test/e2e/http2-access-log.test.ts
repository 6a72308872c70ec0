/** Access-log bytes of HTTP/2 requests: each stream's DATA payload, both ways, with a real node:http2 client. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait-for.js';

interface Line {
  requestId: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
}

describe('HTTP/2 access-log bytes (h2c)', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let session: ClientHttp2Session;

  before(async () => {
    // Streams 30,000 bytes in three writes, with no content-length.
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(10_000, 'a'));
      res.write(Buffer.alloc(10_000, 'b'));
      res.end(Buffer.alloc(10_000, 'c'));
    });
    gw = await startGateway({
      'gateway.yaml': 'gateway:\n  h2c: true\n',
      'services.yaml': `services:
  svc: { instances: ["${upstream.url}"] }
routes:
  - { name: stream, match: { path: /stream }, service: svc }
`,
    });
    session = await h2Connect(gw.url);
  });

  after(async () => {
    session.close();
    await gw.stop();
    await upstream.close();
  });

  async function lineOf(requestId: string): Promise<Line> {
    const find = (): Line | undefined =>
      gw.accessLines
        .map((l) => JSON.parse(l) as Line)
        .find((entry) => entry.requestId === requestId);
    await waitFor(() => find() !== undefined, 5000, `the access-log line of ${requestId}`);
    return find() as Line;
  }

  test('a streamed request body and a streamed response: bytesIn and bytesOut are their DATA payloads', async () => {
    const answer = await new Promise<{ status: number; length: number }>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/stream',
        'x-request-id': 'h2-bytes-1',
      });
      stream.on('error', reject);
      let status = 0;
      let length = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => (length += chunk.length));
      stream.on('end', () => resolve({ status, length }));
      // No content-length: the body's end is END_STREAM, after two DATA frames.
      stream.write(Buffer.alloc(3000, 'x'));
      setTimeout(() => stream.end(Buffer.alloc(2000, 'y')), 20);
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.length, 30_000);
    assert.equal(upstream.seen.at(-1)?.body.length, 5000);
    const line = await lineOf('h2-bytes-1');
    assert.equal(line.bytesIn, 5000);
    assert.equal(line.bytesOut, 30_000);
  });

  test("an error edgeway answers itself: bytesOut is the JSON body's length, bytesIn 0 without a body", async () => {
    const answer = await h2Request(session, {
      ':method': 'GET',
      ':path': '/nowhere',
      'x-request-id': 'h2-bytes-404',
    });
    assert.equal(answer.status, 404);
    const line = await lineOf('h2-bytes-404');
    assert.equal(line.bytesIn, 0);
    assert.equal(line.bytesOut, Buffer.byteLength(answer.body));
    assert.ok(line.bytesOut > 0);
  });

  test('streams on one session count only their own bytes', async () => {
    const sizes = [100, 2000, 7000];
    await Promise.all(
      sizes.map((size) =>
        h2Request(
          session,
          { ':method': 'POST', ':path': '/stream', 'x-request-id': `h2-many-${size}` },
          Buffer.alloc(size, 'z'),
        ),
      ),
    );
    for (const size of sizes) {
      const line = await lineOf(`h2-many-${size}`);
      assert.deepEqual([line.bytesIn, line.bytesOut], [size, 30_000]);
    }
  });
});
