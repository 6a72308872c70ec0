/** The edge policies' stage spans through a real gateway: each names its decision, never the origin or address. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const APP = 'https://app.example.com';

describe('policy stage spans', () => {
  let up: Upstream;
  let gw: TestGateway;
  const exporter = new InMemorySpanExporter();

  before(async () => {
    up = await startUpstream();
    gw = await startGateway(
      {
        'c.yaml':
          serviceYaml('svc', [up.url]) +
          `gateway: { trustedProxies: [127.0.0.1] }
routes:
  - name: web
    match: { path: /web }
    service: svc
    cors: { origins: ["${APP}"] }
    ipAllow: [127.0.0.1, 203.0.113.0/24]
    requestHeaders: { set: { x-api-version: "2" } }
    responseHeaders: { remove: [server] }
    compression: true
`,
      },
      { tracing: { spanExporter: exporter } },
    );
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  /** Sends a request and returns the stage spans of its trace by name. */
  async function stageSpans(
    headers: Record<string, string>,
    method: 'GET' | 'OPTIONS' = 'GET',
  ): Promise<Map<string, ReadableSpan>> {
    exporter.reset();
    const res = await request(`${gw.url}/web`, { method, headers });
    await res.body.dump();
    await waitFor(
      () => exporter.getFinishedSpans().some((s) => s.kind === 1 /* SERVER */),
      2000,
      'the SERVER span',
    );
    return new Map(
      exporter
        .getFinishedSpans()
        .filter((s) => s.name.startsWith('edgeway.'))
        .map((s) => [s.name, s]),
    );
  }

  test('an allowed request runs every policy stage in its own span, in registry order, with its decision', async () => {
    const spans = await stageSpans({ origin: APP, 'accept-encoding': 'gzip' });
    assert.deepEqual(
      [...spans.keys()].filter((name) => name !== 'edgeway.select_instance'),
      [
        'edgeway.response_headers',
        'edgeway.ip_rules',
        'edgeway.cors',
        'edgeway.request_headers',
        'edgeway.compression',
      ],
    );
    assert.equal(spans.get('edgeway.ip_rules')?.attributes['edgeway.ip_rules.outcome'], 'allowed');
    assert.equal(spans.get('edgeway.cors')?.attributes['edgeway.cors.outcome'], 'allowed');
    assert.equal(
      spans.get('edgeway.compression')?.attributes['edgeway.compression.accepted'],
      'gzip',
    );
  });

  test('a preflight, another origin and a refused address are decisions, not errors, and name no origin or address', async () => {
    const preflight = await stageSpans(
      { origin: APP, 'access-control-request-method': 'GET' },
      'OPTIONS',
    );
    assert.equal(preflight.get('edgeway.cors')?.attributes['edgeway.cors.outcome'], 'preflight');
    assert.equal(preflight.has('edgeway.compression'), false, 'nothing runs after the answer');
    const refusedPreflight = await stageSpans(
      { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      'OPTIONS',
    );
    assert.equal(
      refusedPreflight.get('edgeway.cors')?.attributes['edgeway.cors.outcome'],
      'forbidden',
    );
    assert.equal(refusedPreflight.get('edgeway.cors')?.status.code, 0 /* UNSET */);
    const other = await stageSpans({ origin: 'https://evil.example' });
    assert.equal(other.get('edgeway.cors')?.attributes['edgeway.cors.outcome'], 'other_origin');
    assert.equal(
      other.get('edgeway.compression')?.attributes['edgeway.compression.accepted'],
      'identity',
    );
    const denied = await stageSpans({ 'x-forwarded-for': '198.51.100.7' });
    assert.equal(
      denied.get('edgeway.ip_rules')?.attributes['edgeway.ip_rules.outcome'],
      'forbidden',
    );
    assert.equal(denied.has('edgeway.cors'), false);
    for (const span of [
      ...preflight.values(),
      ...refusedPreflight.values(),
      ...other.values(),
      ...denied.values(),
    ]) {
      const text = JSON.stringify(span.attributes);
      assert.equal(
        text.includes('evil.example') || text.includes('198.51.100.7'),
        false,
        span.name,
      );
    }
  });
});
