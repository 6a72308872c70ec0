/** The relay holds an upstream body back while the client reads slowly, and still delivers all of it. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';

const TOTAL = 48 * 1024 * 1024;
const CHUNK = 64 * 1024;

let up: Upstream;
let gw: TestGateway;
let written = 0;

before(async () => {
  up = await startUpstream((_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(TOTAL),
    });
    const chunk = Buffer.alloc(CHUNK, 7);
    const pump = (): void => {
      while (written < TOTAL) {
        written += CHUNK;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  gw = await startGateway({
    'c.yaml':
      serviceYaml('svc', [up.url]) +
      'routes:\n  - { name: all, match: { path: / }, service: svc }\n',
  });
});

after(async () => {
  await gw.stop();
  await up.close();
});

test('a client that stops reading stops the upstream too, and gets every byte once it reads again', async () => {
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    get(`${gw.url}/big`, { agent: false }, resolve).once('error', reject),
  );
  res.pause();
  assert.equal(res.statusCode, 200);
  await sleep(1500);
  // Socket buffers and stream high-water marks hold a few MB at most; without backpressure the gateway would
  // read the whole body off the upstream into memory.
  assert.ok(
    written < TOTAL / 3,
    `the upstream wrote ${written} of ${TOTAL} bytes to a stalled client`,
  );
  let received = 0;
  res.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  res.resume();
  await once(res, 'end');
  assert.equal(received, TOTAL);
});
