/**
 * A request body cut off on its way to an HTTP/2 instance (over the body limit, or its client gone) while
 * data waits on the instance's flow-control window must not freeze the gateway: it runs as a child process
 * so a frozen event loop shows as a gateway that stops answering, not as a hung test.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { createServer, type Http2Server } from 'node:http2';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

const MAX_BODY = 1_500_000;
let instance: Http2Server;
let child: ChildProcess;
let port: number;
let dir: string;

before(async () => {
  // An ordinary instance that reads every request body and answers once it ends; on /stall it never reads.
  instance = createServer((req, res) => {
    if (req.url === '/stall') return;
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((resolve) => instance.listen(0, '127.0.0.1', resolve));
  const address = instance.address() as { port: number };
  dir = mkdtempSync(join(tmpdir(), 'edgeway-h2-abort-'));
  writeFileSync(
    join(dir, 'c.yaml'),
    `gateway: { maxBodyBytes: ${MAX_BODY} }
services:
  raw: { protocol: h2c, instances: ["http://127.0.0.1:${address.port}"] }
routes:
  - { name: raw, match: { path: / }, service: raw, timeouts: { request: 5s } }
`,
  );
  port = await freePort();
  child = spawn(
    process.execPath,
    ['bin/edgeway.js', 'start', '--config', dir, '--port', String(port), '--admin-port', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL: '', EDGEWAY_DATA_DIR: join(dir, '.data') },
    },
  );
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${log}`);
      return log.includes('edgeway listening');
    },
    20_000,
    'edgeway listening',
    50,
  );
});

after(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    process.kill(child.pid as number, 'SIGKILL');
    await exited;
  }
  await new Promise((resolve) => instance.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** One request's status, or 0 if the gateway gave no answer within `timeoutMs`. */
function statusOf(method: string, body: Buffer[] | undefined, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/x',
        method,
        headers: body === undefined ? {} : { 'transfer-encoding': 'chunked' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve(0);
    });
    req.on('error', () => resolve(0));
    for (const chunk of body ?? []) req.write(chunk);
    req.end();
  });
}

test('a chunked body over maxBodyBytes to an h2c instance is 413 and the gateway keeps answering', async () => {
  assert.equal(await statusOf('GET', undefined, 3000), 200);
  const status = await statusOf(
    'POST',
    [Buffer.alloc(1_000_000, 97), Buffer.alloc(1_000_000, 97)],
    5000,
  );
  assert.equal(status, 413);
  for (let i = 0; i < 3; i++) assert.equal(await statusOf('GET', undefined, 3000), 200);
});

test('a client that leaves mid-upload to an h2c instance that stopped reading does not stop the gateway', async () => {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('POST /stall HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n');
  const chunk = Buffer.alloc(500_000, 98);
  socket.write(`${chunk.length.toString(16)}\r\n`);
  socket.write(chunk);
  socket.write('\r\n');
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (let i = 0; i < 3; i++) assert.equal(await statusOf('GET', undefined, 3000), 200);
});
