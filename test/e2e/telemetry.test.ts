import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/redis-server.js';

const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

describe('telemetry through the gateway', () => {
  let up: Upstream;
  let gw: TestGateway;
  const exporter = new InMemorySpanExporter();

  before(async () => {
    up = await startUpstream();
    const dead = `http://127.0.0.1:${await freePort()}`;
    gw = await startGateway(
      {
        'c.yaml':
          serviceYaml('svc', [up.url]) +
          serviceYaml('flaky', [dead, up.url])
            .replace('services:\n', '')
            .replace('round-robin', 'round-robin }\n    retries: { attempts: 2, backoff: 1ms') +
          `routes:
  - { name: orders-read, match: { path: /orders }, service: svc, rateLimit: { capacity: 100, refillPerSecond: 10, key: ip } }
  - { name: flaky, match: { path: /flaky }, service: flaky }
`,
      },
      { tracing: { spanExporter: exporter } },
    );
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  test('one SERVER span per request with stage children and a CLIENT span whose context the upstream receives', async () => {
    exporter.reset();
    up.seen.length = 0;
    const incomingTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await request(`${gw.url}/orders/7`, {
      headers: { traceparent: `00-${incomingTrace}-00f067aa0ba902b7-01` },
    });
    await res.body.dump();
    await new Promise((r) => setTimeout(r, 50));
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.kind === 1 /* SERVER */);
    assert.ok(server, 'a server span');
    assert.equal(server.name, 'GET orders-read');
    assert.equal(server.attributes['http.route'], 'orders-read');
    assert.equal(server.spanContext().traceId, incomingTrace, 'the incoming trace is continued');
    assert.equal(parentOf(server), '00f067aa0ba902b7');
    const children = spans
      .filter((s) => parentOf(s) === server.spanContext().spanId)
      .map((s) => s.name)
      .sort();
    assert.deepEqual(
      children.filter((n) => n.startsWith('edgeway.')),
      ['edgeway.rate_limit', 'edgeway.select_instance'],
    );
    const client = spans.find((s) => s.kind === 2 /* CLIENT */);
    assert.ok(client);
    const sent = up.seen[0]?.headers.traceparent;
    assert.equal(sent, `00-${incomingTrace}-${client.spanContext().spanId}-01`);
  });

  test('a retried request has one CLIENT span per attempt', async () => {
    exporter.reset();
    for (let i = 0; i < 2; i++) {
      const res = await request(`${gw.url}/flaky`);
      assert.equal(res.statusCode, 200);
      await res.body.dump();
    }
    await new Promise((r) => setTimeout(r, 50));
    const clients = exporter.getFinishedSpans().filter((s) => s.kind === 2);
    const failed = clients.filter((s) => s.status.code === 2 /* ERROR */);
    assert.ok(failed.length >= 1, 'round-robin sent at least one attempt to the dead instance');
    assert.equal(
      clients.length,
      2 + failed.length,
      'every failed attempt was retried in a span of its own',
    );
  });

  test('/metrics exposes request, upstream and rate-limit series', async () => {
    const res = await request(`${gw.adminUrl}/metrics`);
    const text = await res.body.text();
    assert.match(
      text,
      /edgeway_requests_total\{route="orders-read",method="GET",status="200",status_class="2xx"\} [1-9]/,
    );
    assert.match(
      text,
      /edgeway_upstream_attempts_total\{service="flaky",instance="[^"]+",outcome="connect_error"\} [1-9]/,
    );
    assert.match(
      text,
      /edgeway_rate_limit_decisions_total\{route="orders-read",outcome="allowed"\} [1-9]/,
    );
    assert.match(text, /edgeway_retries_total\{service="flaky"\} [1-9]/);
    assert.match(
      text,
      /edgeway_instance_healthy\{service="svc",instance="[^"]+"\} 1/,
      'a static instance reports its health',
    );
  });

  test('one access-log line per request with request id and trace id, never the Authorization value', async () => {
    gw.accessLines.length = 0;
    const res = await request(`${gw.url}/orders/1?secret=x`, {
      headers: { authorization: 'Bearer abc.def.ghi', 'x-request-id': 'log-me-1' },
    });
    await res.body.dump();
    await new Promise((r) => setTimeout(r, 50));
    const lines = gw.accessLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.requestId === 'log-me-1');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.route, 'orders-read');
    assert.equal(lines[0]?.status, 200);
    assert.match(String(lines[0]?.traceId), /^[0-9a-f]{32}$/);
    assert.equal(lines[0]?.path, '/orders/1');
    assert.ok(!gw.accessLines.join('').includes('abc.def.ghi'));
  });

  test('Server-Timing is opt-in: absent by default, gateway and upstream durations when switched on', async () => {
    const off = await request(`${gw.url}/orders/1`);
    await off.body.dump();
    assert.equal(off.headers['server-timing'], undefined);
    const g = await startGateway({
      'c.yaml':
        serviceYaml('svc', [up.url]) +
        'telemetry: { serverTiming: true }\nroutes:\n  - { name: all, match: { path: / }, service: svc }\n',
    });
    try {
      const on = await request(`${g.url}/x`);
      await on.body.dump();
      assert.match(
        String(on.headers['server-timing']),
        /^edgeway;dur=\d+\.\d\d, upstream;dur=\d+\.\d\d$/,
      );
    } finally {
      await g.stop();
    }
  });

  test('the dashboard page and its stats endpoint are on the admin listener only', async () => {
    const page = await request(`${gw.adminUrl}/`);
    assert.equal(page.statusCode, 200);
    assert.match(await page.body.text(), /<html/i);
    const stats = await request(`${gw.adminUrl}/admin/stats`);
    const body = (await stats.body.json()) as { routes: Array<{ name: string }> };
    assert.ok(body.routes.some((r) => r.name === 'orders-read'));
  });
});

describe('access-log lines and span attributes for streams, failures and authenticated callers', () => {
  let up: Upstream;
  let streamer: Upstream;
  let dead: string;
  let gw: TestGateway;
  const exporter = new InMemorySpanExporter();
  const chunk = Buffer.alloc(10_000, 'x');

  before(async () => {
    up = await startUpstream();
    // No content-length: the response is streamed in chunks (RFC 9112 7.1).
    streamer = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(chunk);
      setTimeout(() => {
        res.write(chunk);
        res.end(chunk);
      }, 10);
    });
    dead = `http://127.0.0.1:${await freePort()}`;
    gw = await startGateway(
      {
        'c.yaml': `auth:
  issuers:
    - { issuer: edgeway, audience: api }
services:
  svc: { instances: [${up.url}] }
  stream: { instances: [${streamer.url}] }
  dead:
    instances: [${dead}]
    retries: { attempts: 2, backoff: 1ms }
routes:
  - { name: stream, match: { path: /stream }, service: stream }
  - { name: dead, match: { path: /dead }, service: dead }
  - { name: private, match: { path: /private }, service: svc, auth: { required: true, scopes: [orders:read] }, rateLimit: { capacity: 5, refillPerSecond: 1, key: consumer } }
`,
      },
      { tracing: { spanExporter: exporter } },
    );
  });
  after(async () => {
    await gw.stop();
    await up.close();
    await streamer.close();
  });

  /** The access-log line of the request with `id` (lines are written when the response is done). */
  async function lineOf(id: string): Promise<Record<string, unknown>> {
    await new Promise((r) => setTimeout(r, 50));
    const lines = gw.accessLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.requestId === id);
    assert.equal(lines.length, 1, id);
    return lines[0] as Record<string, unknown>;
  }

  test('bytes are counted for a chunked request body and a streamed response, and level is a word', async () => {
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(3000, 'a');
      yield Buffer.alloc(2000, 'b');
    }
    const res = await request(`${gw.url}/stream`, {
      method: 'POST',
      body: Readable.from(body()),
      headers: { 'x-request-id': 'bytes-1' },
    });
    assert.equal(res.headers['content-length'], undefined, 'the response is streamed');
    assert.equal((await res.body.arrayBuffer()).byteLength, 30_000);
    assert.equal(streamer.seen.at(-1)?.body.length, 5000);
    const line = await lineOf('bytes-1');
    assert.equal(line.level, 'info');
    // Wire bytes: the body plus the head and chunk framing (a few hundred bytes here).
    assert.ok(
      Number(line.bytesIn) >= 5000 && Number(line.bytesIn) < 5000 + 1024,
      `bytesIn ${String(line.bytesIn)}`,
    );
    assert.ok(
      Number(line.bytesOut) >= 30_000 && Number(line.bytesOut) < 30_000 + 1024,
      `bytesOut ${String(line.bytesOut)}`,
    );
  });

  test('a body still arriving after an early answer is not counted towards the next request on the connection', async () => {
    const socket = connect(gw.gateway.port, '127.0.0.1');
    let reply = '';
    socket.on('data', (data: Buffer) => (reply += data.toString('latin1')));
    const answers = async (count: number): Promise<boolean> => {
      const deadline = Date.now() + 5000;
      while (
        (reply.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0) < count &&
        !socket.destroyed &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 20));
      return (reply.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0) >= count;
    };
    try {
      await once(socket, 'connect');
      socket.write(
        'POST /private HTTP/1.1\r\nHost: gw\r\nContent-Length: 50000\r\nx-request-id: early-1\r\n\r\n' +
          'a'.repeat(10),
      );
      assert.ok(await answers(1), 'the 401 comes before the body is complete');
      socket.write(
        'b'.repeat(49_990) + 'GET /private HTTP/1.1\r\nHost: gw\r\nx-request-id: early-2\r\n\r\n',
      );
      // A gateway that closes the connection after an early answer leaves no next request to miscount.
      if (!(await answers(2))) return;
      assert.ok(Number((await lineOf('early-1')).bytesIn) < 1024);
      const next = Number((await lineOf('early-2')).bytesIn);
      assert.ok(next > 0 && next < 1024, `the next request's bytesIn ${next}`);
    } finally {
      socket.destroy();
    }
  });

  test('a 502 line carries the failure reason and the attempts; spans follow the HTTP conventions', async () => {
    exporter.reset();
    const res = await request(`${gw.url}/dead?page=2`, { headers: { 'x-request-id': 'dead-1' } });
    assert.equal(res.statusCode, 502);
    await res.body.dump();
    const line = await lineOf('dead-1');
    const spans = exporter.getFinishedSpans();
    const clients = spans.filter((s) => s.kind === 2 /* CLIENT */);
    assert.ok(clients.length >= 2, 'the attempt was retried');
    assert.equal(line.attempts, clients.length);
    assert.equal(line.reason, 'connect-failure');
    assert.match(String(line.error), /refused the connection/);
    const port = Number(new URL(dead).port);
    for (const client of clients) {
      assert.equal(client.attributes['error.type'], 'connect-failure');
      assert.equal(client.attributes['server.address'], '127.0.0.1');
      assert.equal(client.attributes['server.port'], port);
      assert.equal(client.attributes['url.full'], `${dead}/dead?page=2`);
    }
    const server = spans.find((s) => s.kind === 1 /* SERVER */);
    assert.equal(server?.status.code, 2 /* ERROR */);
    assert.equal(server?.attributes['error.type'], '502');
    assert.equal(server?.attributes['url.query'], 'page=2');
    assert.equal(server?.attributes['server.port'], gw.gateway.port);
    assert.equal(server?.attributes['network.protocol.version'], '1.1');
  });

  test('an authenticated line carries the sub; auth and rate_limit spans say what they decided; a 401 span stays UNSET', async () => {
    const minted = await request(`${gw.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'client-42', scopes: ['orders:read'], ttl: '10m', aud: 'api' }),
    });
    const { token } = (await minted.body.json()) as { token: string };
    exporter.reset();
    const ok = await request(`${gw.url}/private`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'auth-1' },
    });
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
    assert.equal((await lineOf('auth-1')).sub, 'client-42');
    const denied = await request(`${gw.url}/private`, { headers: { 'x-request-id': 'auth-2' } });
    assert.equal(denied.statusCode, 401);
    await denied.body.dump();
    assert.equal((await lineOf('auth-2')).sub, undefined);

    const spans = exporter.getFinishedSpans();
    const named = (name: string) => spans.filter((s) => s.name === name);
    const [allowed, refused] = named('edgeway.auth');
    assert.equal(allowed?.attributes['edgeway.auth.outcome'], 'authenticated');
    assert.equal(allowed?.attributes['edgeway.auth.issuer'], 'edgeway');
    assert.equal(refused?.attributes['edgeway.auth.outcome'], 'unauthorized');
    assert.equal(refused?.status.code, 0 /* UNSET */);
    assert.deepEqual(refused?.events, []);
    const limit = named('edgeway.rate_limit')[0];
    assert.deepEqual(
      [
        limit?.attributes['edgeway.rate_limit.key'],
        limit?.attributes['edgeway.rate_limit.mode'],
        limit?.attributes['edgeway.rate_limit.outcome'],
        limit?.attributes['edgeway.rate_limit.remaining'],
      ],
      ['consumer', 'enforce', 'allowed', 4],
    );
    const servers = spans.filter((s) => s.kind === 1 /* SERVER */);
    assert.deepEqual(
      servers.map((s) => [
        s.attributes['http.response.status_code'],
        s.status.code,
        s.events.length,
      ]),
      [
        [200, 0, 0],
        [401, 0, 0],
      ],
    );
    assert.ok(!JSON.stringify(spans.map((s) => s.attributes)).includes(token), 'never the token');
  });
});

test('a quiet gateway writing its access log to a file shows each line within about a second, and the last one on SIGTERM', async () => {
  const up = await startUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-log-'));
  writeFileSync(
    join(dir, 'c.yaml'),
    `services:\n  svc:\n    instances: [${up.url}]\nroutes:\n  - { name: all, match: { path: / }, service: svc }\n`,
  );
  const logFile = join(dir, 'access.log');
  const out = openSync(logFile, 'a');
  const [port, adminPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      'bin/edgeway.js',
      'start',
      '--config',
      dir,
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
    ],
    {
      stdio: ['ignore', out, 'pipe'],
      env: {
        ...process.env,
        REDIS_URL: '',
        EDGEWAY_DATA_DIR: join(dir, '.data'),
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        OTEL_TRACES_EXPORTER: 'none',
      },
    },
  );
  closeSync(out);
  const logged = (id: string): boolean =>
    readFileSync(logFile, 'utf8').includes(`"requestId":"${id}"`);
  try {
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
    while (!stderr.includes('edgeway listening')) {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const res = await request(`http://127.0.0.1:${port}/one`, {
      headers: { 'x-request-id': 'quiet-1' },
    });
    await res.body.dump();
    const answered = Date.now();
    while (!logged('quiet-1') && Date.now() - answered < 1500)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(logged('quiet-1'), 'the line reached the file within 1.5 s of the response');

    const last = await request(`http://127.0.0.1:${port}/two`, {
      headers: { 'x-request-id': 'quiet-2' },
    });
    await last.body.dump();
    process.kill(child.pid as number, 'SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    assert.ok(logged('quiet-2'), 'the last line was flushed on SIGTERM');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
