import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
    gw = await startGateway({
      'c.yaml': serviceYaml('svc', [up.url]) + serviceYaml('flaky', [dead, up.url]).replace('services:\n', '').replace('round-robin', 'round-robin }\n    retries: { attempts: 2, backoff: 1ms') + `routes:
  - { name: orders-read, match: { path: /orders }, service: svc, rateLimit: { capacity: 100, refillPerSecond: 10, key: ip } }
  - { name: flaky, match: { path: /flaky }, service: flaky }
`,
    }, { tracing: { spanExporter: exporter } });
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  test('one SERVER span per request with stage children and a CLIENT span whose context the upstream receives', async () => {
    exporter.reset();
    up.seen.length = 0;
    const incomingTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await request(`${gw.url}/orders/7`, { headers: { traceparent: `00-${incomingTrace}-00f067aa0ba902b7-01` } });
    await res.body.dump();
    await new Promise((r) => setTimeout(r, 50));
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.kind === 1 /* SERVER */);
    assert.ok(server, 'a server span');
    assert.equal(server.name, 'GET orders-read');
    assert.equal(server.attributes['http.route'], 'orders-read');
    assert.equal(server.spanContext().traceId, incomingTrace, 'the incoming trace is continued');
    assert.equal(parentOf(server), '00f067aa0ba902b7');
    const children = spans.filter((s) => parentOf(s) === server.spanContext().spanId).map((s) => s.name).sort();
    assert.deepEqual(children.filter((n) => n.startsWith('edgeway.')), ['edgeway.rate_limit', 'edgeway.select_instance']);
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
    assert.equal(clients.length, 2 + failed.length, 'every failed attempt was retried in a span of its own');
  });

  test('/metrics exposes request, upstream and rate-limit series', async () => {
    const res = await request(`${gw.adminUrl}/metrics`);
    const text = await res.body.text();
    assert.match(text, /edgeway_requests_total\{route="orders-read",method="GET",status="200",status_class="2xx"\} [1-9]/);
    assert.match(text, /edgeway_upstream_attempts_total\{service="flaky",instance="[^"]+",outcome="connect_error"\} [1-9]/);
    assert.match(text, /edgeway_rate_limit_decisions_total\{route="orders-read",outcome="allowed"\} [1-9]/);
    assert.match(text, /edgeway_retries_total\{service="flaky"\} [1-9]/);
    assert.match(text, /edgeway_instance_healthy\{service="svc",instance="[^"]+"\} 1/, 'a static instance reports its health');
  });

  test('one access-log line per request with request id and trace id, never the Authorization value', async () => {
    gw.accessLines.length = 0;
    const res = await request(`${gw.url}/orders/1?secret=x`, { headers: { authorization: 'Bearer abc.def.ghi', 'x-request-id': 'log-me-1' } });
    await res.body.dump();
    await new Promise((r) => setTimeout(r, 50));
    const lines = gw.accessLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.requestId === 'log-me-1');
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
    const g = await startGateway({ 'c.yaml': serviceYaml('svc', [up.url]) + 'telemetry: { serverTiming: true }\nroutes:\n  - { name: all, match: { path: / }, service: svc }\n' });
    try {
      const on = await request(`${g.url}/x`);
      await on.body.dump();
      assert.match(String(on.headers['server-timing']), /^edgeway;dur=\d+\.\d\d, upstream;dur=\d+\.\d\d$/);
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
