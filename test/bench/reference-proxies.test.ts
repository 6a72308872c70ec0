/**
 * The bench's references must forward like a proxy, or every ratio against them is void: hop-by-hop headers
 * dropped both ways, bodies passed on, upstreams taken in turn, 502 when the upstream is gone; the logged
 * reference writes one JSON access line per request, flushed within a second or so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { startUpstream, type UpstreamHandler } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait-for.js';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startProxy(
  script: string,
  origins: readonly string[],
): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(port), ...origins], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // "ready" comes on stdout, or on stderr from the logged reference, whose stdout carries its access lines.
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(() => out.includes('ready'), 30_000, `${script} to listen`);
  return { url: `http://127.0.0.1:${port}`, child, output: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Answers with hop-by-hop fields that must not reach the client, and which upstream answered. */
const answerWithHopByHop: UpstreamHandler = (req, res) => {
  res.writeHead(200, {
    'content-type': 'text/plain',
    'proxy-authenticate': 'Basic',
    trailer: 'x-checksum',
    'x-from': String(req.socket.localPort),
  });
  res.end('ok');
};

for (const script of ['bench/reference-proxy.ts', 'bench/logged-reference-proxy.ts']) {
  test(`${script} forwards like a proxy`, async () => {
    const upstreams = [
      await startUpstream(answerWithHopByHop),
      await startUpstream(answerWithHopByHop),
    ];
    const proxy = await startProxy(
      script,
      upstreams.map((u) => u.url),
    );
    try {
      const first = await fetch(`${proxy.url}/item?q=1`, {
        headers: { te: 'trailers', 'proxy-authorization': 'Basic eA==', 'x-client': 'yes' },
      });
      assert.equal(first.status, 200);
      assert.equal(await first.text(), 'ok');
      assert.equal(first.headers.get('proxy-authenticate'), null);
      assert.equal(first.headers.get('trailer'), null);
      const second = await fetch(`${proxy.url}/upload`, { method: 'POST', body: 'hello' });
      assert.equal(await second.text(), 'ok');
      // One request each: the upstreams are taken in turn.
      assert.deepEqual(
        [first.headers.get('x-from'), second.headers.get('x-from')].sort(),
        upstreams.map((u) => String(u.port)).sort(),
      );
      const [get, post] = upstreams
        .flatMap((u) => u.seen)
        .sort((a, b) => a.url.localeCompare(b.url));
      assert.equal(get?.url, '/item?q=1');
      assert.equal(get?.headers['x-client'], 'yes');
      assert.equal(get?.headers.te, undefined);
      assert.equal(get?.headers['proxy-authorization'], undefined);
      assert.equal(post?.method, 'POST');
      assert.equal(post?.body.toString(), 'hello');
    } finally {
      await stop(proxy.child);
      await Promise.all(upstreams.map((u) => u.close()));
    }
  });
}

test('the reference answers 502 when its upstream is gone', async () => {
  const proxy = await startProxy('bench/reference-proxy.ts', [
    `http://127.0.0.1:${await freePort()}`,
  ]);
  try {
    const res = await fetch(`${proxy.url}/item`);
    assert.equal(res.status, 502);
  } finally {
    await stop(proxy.child);
  }
});

test('the logged reference writes one JSON access line per request within ~1 s', async () => {
  const upstream = await startUpstream();
  const proxy = await startProxy('bench/logged-reference-proxy.ts', [upstream.url]);
  try {
    const res = await fetch(`${proxy.url}/logged`);
    assert.equal(res.status, 200);
    await res.text();
    const lines = () =>
      proxy
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'));
    await waitFor(() => lines().length === 1, 2_500, 'the access line');
    const line = JSON.parse(lines()[0] as string) as Record<string, unknown>;
    assert.equal(line.status, 200);
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/logged');
    assert.equal(line.level, 'info');
    assert.equal(typeof line.durationMs, 'number');
  } finally {
    await stop(proxy.child);
    await upstream.close();
  }
});
