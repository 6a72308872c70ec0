/** The Prometheus exposition of one gateway's registry, parsed and checked series by series. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayMetrics } from '../../src/telemetry/metrics/metrics.js';
import type { InstanceView, ServiceView } from '../../src/telemetry/services-view.js';

/** Parses exposition text into `name{labels}` -> value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

describe('gateway metrics', () => {
  test('requests, durations, upstream attempts, retries and rate-limit decisions carry the documented labels', async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    const orders = metrics.route('orders-read');
    assert.equal(metrics.route('orders-read'), orders, 'route recorders are cached');
    orders.request('GET', 200, 0.004);
    orders.request('GET', 200, 0.03);
    orders.request('GET', 204, 0.02);
    orders.request('GET', 503, 1.5);
    orders.request('BREW', 418, 0.001);
    orders.rateLimit('allowed');
    orders.rateLimit('limited');
    orders.rateLimit('limited');
    const upstream = metrics.upstream('orders', 'i-1');
    upstream.attempt('http_error', 0.3);
    upstream.attempt('success', 0.01);
    metrics.retry('orders');
    metrics.requestStarted();
    metrics.requestStarted();
    metrics.requestEnded();
    metrics.setInstanceHealthy('orders', 'i-1', true);
    metrics.setInstanceHealthy('orders', 'i-2', false);
    metrics.configReload('success');
    metrics.configReload('failure');

    const { contentType, body } = await metrics.exposition();
    assert.match(contentType, /^text\/plain/);
    const s = parse(body);
    const cases: Array<[string, number]> = [
      [
        'edgeway_requests_total{route="orders-read",method="GET",status="200",status_class="2xx"}',
        2,
      ],
      [
        'edgeway_requests_total{route="orders-read",method="GET",status="204",status_class="2xx"}',
        1,
      ],
      [
        'edgeway_requests_total{route="orders-read",method="GET",status="503",status_class="5xx"}',
        1,
      ],
      [
        'edgeway_requests_total{route="orders-read",method="_OTHER",status="418",status_class="4xx"}',
        1,
      ],
      [
        'edgeway_request_duration_seconds_count{route="orders-read",method="GET",status="200",status_class="2xx"}',
        2,
      ],
      [
        'edgeway_request_duration_seconds_count{route="orders-read",method="GET",status="204",status_class="2xx"}',
        1,
      ],
      [
        'edgeway_request_duration_seconds_bucket{le="0.005",route="orders-read",method="GET",status="200",status_class="2xx"}',
        1,
      ],
      [
        'edgeway_request_duration_seconds_bucket{le="+Inf",route="orders-read",method="GET",status="503",status_class="5xx"}',
        1,
      ],
      ['edgeway_rate_limit_decisions_total{route="orders-read",outcome="allowed"}', 1],
      ['edgeway_rate_limit_decisions_total{route="orders-read",outcome="limited"}', 2],
      ['edgeway_upstream_attempts_total{service="orders",instance="i-1",outcome="http_error"}', 1],
      ['edgeway_upstream_attempts_total{service="orders",instance="i-1",outcome="success"}', 1],
      ['edgeway_upstream_duration_seconds_count{service="orders",instance="i-1"}', 2],
      ['edgeway_retries_total{service="orders"}', 1],
      ['edgeway_in_flight_requests', 1],
      ['edgeway_instance_healthy{service="orders",instance="i-1"}', 1],
      ['edgeway_instance_healthy{service="orders",instance="i-2"}', 0],
      ['edgeway_config_reloads_total{result="success"}', 1],
      ['edgeway_config_reloads_total{result="failure"}', 1],
    ];
    for (const [series, value] of cases) assert.equal(s.get(series), value, series);
    assert.equal(
      Math.round(
        (s.get(
          'edgeway_request_duration_seconds_sum{route="orders-read",method="GET",status="200",status_class="2xx"}',
        ) ?? 0) * 1000,
      ),
      34,
    );
  });

  test('two gateways in one process keep separate registries, and default Node metrics are included', async () => {
    const a = new GatewayMetrics();
    const b = new GatewayMetrics();
    a.route('r').request('GET', 200, 0.01);
    const bodyA = (await a.exposition()).body;
    const bodyB = (await b.exposition()).body;
    assert.equal(
      parse(bodyA).get(
        'edgeway_requests_total{route="r",method="GET",status="200",status_class="2xx"}',
      ),
      1,
    );
    assert.equal(
      parse(bodyB).has(
        'edgeway_requests_total{route="r",method="GET",status="200",status_class="2xx"}',
      ),
      false,
    );
    assert.match(bodyA, /^process_cpu_user_seconds_total /m);
    assert.match(bodyA, /^nodejs_eventloop_lag_seconds /m);
  });

  test('edgeway_redis_up is absent without a Redis probe (the in-memory store), as its HELP says', async () => {
    const body = (await new GatewayMetrics({ defaultMetrics: false }).exposition()).body;
    assert.doesNotMatch(body, /edgeway_redis_up/);
  });

  test('edgeway_redis_up follows the probe at every scrape', async () => {
    let up = true;
    const metrics = new GatewayMetrics({ defaultMetrics: false, redisUp: () => up });
    assert.equal(parse((await metrics.exposition()).body).get('edgeway_redis_up'), 1);
    up = false;
    assert.equal(parse((await metrics.exposition()).body).get('edgeway_redis_up'), 0);
  });

  test('edgeway_spans_dropped_total reads the export queue drops at every scrape, and is absent without tracing', async () => {
    assert.doesNotMatch(
      (await new GatewayMetrics({ defaultMetrics: false }).exposition()).body,
      /edgeway_spans_dropped_total/,
    );
    let dropped = 0;
    const metrics = new GatewayMetrics({ defaultMetrics: false, spansDropped: () => dropped });
    assert.equal(parse((await metrics.exposition()).body).get('edgeway_spans_dropped_total'), 0);
    dropped = 7;
    assert.equal(parse((await metrics.exposition()).body).get('edgeway_spans_dropped_total'), 7);
  });

  test('a removed instance disappears from /metrics', async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    metrics.setInstanceHealthy('orders', 'i-9', true);
    metrics.upstream('orders', 'i-9').attempt('timeout', 2);
    metrics.removeInstance('orders', 'i-9');
    assert.doesNotMatch((await metrics.exposition()).body, /i-9/);
  });

  test('with a services view, every known instance reports its health at scrape, static ones included', async () => {
    const instance = (id: string, healthy: boolean): InstanceView => ({
      id,
      url: `http://127.0.0.1/${id}`,
      healthy,
      weight: 1,
      inFlight: 0,
      latencyMs: undefined,
    });
    let services: ServiceView[] = [
      { name: 'orders', instances: [instance('static-1', true), instance('static-2', false)] },
      { name: 'users', instances: [instance('u-1', true)] },
    ];
    const metrics = new GatewayMetrics({ defaultMetrics: false, services: () => services });
    let s = parse((await metrics.exposition()).body);
    assert.equal(s.get('edgeway_instance_healthy{service="orders",instance="static-1"}'), 1);
    assert.equal(s.get('edgeway_instance_healthy{service="orders",instance="static-2"}'), 0);
    assert.equal(s.get('edgeway_instance_healthy{service="users",instance="u-1"}'), 1);
    services = [{ name: 'orders', instances: [instance('static-1', false)] }];
    s = parse((await metrics.exposition()).body);
    assert.equal(s.get('edgeway_instance_healthy{service="orders",instance="static-1"}'), 0);
    assert.equal(
      s.has('edgeway_instance_healthy{service="users",instance="u-1"}'),
      false,
      'a departed instance drops out',
    );
  });
});
