/** forward(): a failure edgeway causes before a byte reaches the instance is edgeway's, never the instance's. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { requestPickInput } from '../../src/balancing/pick-input.js';
import { configSchema } from '../../src/config/schema.js';
import { MemoryRegistry } from '../../src/discovery/memory-registry.js';
import { GatewayError } from '../../src/errors.js';
import { buildService } from '../../src/pipeline/build-service.js';
import type { RequestContext } from '../../src/request/context.js';
import type { ServiceRuntime } from '../../src/proxy/service-runtime.js';
import { forward } from '../../src/proxy/forward.js';
import type { AttemptObserver } from '../../src/request/observer.js';
import { UpstreamPools } from '../../src/proxy/upstream-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const plan = {
  requestTimeoutMs: 5_000,
  maxBodyBytes: 1024,
  perTryTimeoutMs: undefined,
  serverTiming: false,
  retryNonIdempotent: false,
  grpc: false,
  grpcWeb: false,
};
const observer: AttemptObserver = {
  select: (_ctx, pick) => pick(),
  begin: () => ({ headers: [], end: () => undefined }),
};

describe('forward() and failures edgeway causes', () => {
  let upstreams: Upstream[];
  let pools: UpstreamPools;
  let service: ServiceRuntime;
  let front: Server;
  let frontUrl: string;
  const thrown: unknown[] = [];

  before(async () => {
    upstreams = [await startUpstream(), await startUpstream()];
    const config = configSchema.parse({
      services: {
        svc: {
          discovery: 'static',
          instances: upstreams.map((u) => u.url),
          loadBalancer: { policy: 'round-robin' },
          // As sensitive as it gets: one failure ejects, retries try the other instance.
          outlierDetection: { consecutive5xx: 1, baseEjectionTime: '30s', maxEjectionPercent: 100 },
          retries: { attempts: 2, on: ['connect-failure', 'reset', 502, 503, 504] },
        },
      },
      routes: [],
    });
    pools = new UpstreamPools();
    service = buildService('svc', config.services.svc!, {
      pools,
      registry: new MemoryRegistry(),
      endpoints: new Map(),
      concurrencyLimiters: new Map(),
    });
    // A real front server: the request handed to forward() is a real IncomingMessage on a real socket.
    front = createServer((req, res) => {
      const extra = req.headers['x-test-bad'] === undefined ? [] : ['x-edgeway-sub', '山田'];
      const ctx = {
        req,
        res,
        requestId: 'r1',
        startedAt: process.hrtime.bigint(),
        responseHeaders: [],
      } as unknown as RequestContext;
      forward({
        ctx,
        service,
        plan,
        headers: ['host-note', 'x', ...extra],
        path: '/',
        input: requestPickInput(req.headers, '127.0.0.1', Date.now()),
        observer,
        grpcWeb: undefined,
      }).catch((err: unknown) => {
        thrown.push(err);
        const status = err instanceof GatewayError ? err.status : 599;
        res.writeHead(status).end();
      });
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });

  after(async () => {
    front.closeAllConnections();
    front.close();
    service.close();
    await pools.close(true);
    for (const upstream of upstreams) await upstream.close();
  });

  test('a header value undici cannot send: 500 internal_error, not retried, no instance blamed or ejected', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await request(frontUrl, { headers: { 'x-test-bad': '1' } });
      await res.body.dump();
      assert.equal(res.statusCode, 500);
    }
    const errors = thrown.map((err) => (err as GatewayError).code);
    assert.deepEqual(errors, ['internal_error', 'internal_error']);
    assert.equal(
      upstreams[0]!.seen.length + upstreams[1]!.seen.length,
      0,
      'nothing reached an instance',
    );
    const now = Date.now();
    for (const endpoint of service.endpoints()) {
      assert.equal(endpoint.consecutiveFailures, 0, `${endpoint.id} was blamed`);
      assert.ok(endpoint.available(now), `${endpoint.id} was ejected`);
      assert.equal(endpoint.inFlight, 0);
    }
    for (let i = 0; i < 4; i++) {
      const res = await request(frontUrl);
      await res.body.dump();
      assert.equal(res.statusCode, 200, 'other requests still reach both instances');
    }
    assert.equal(upstreams[0]!.seen.length, 2);
    assert.equal(upstreams[1]!.seen.length, 2);
  });
});
