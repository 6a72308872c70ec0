/**
 * What a finished exchange leaves behind: the client's response outlives its request (the connection tracker
 * keeps it until the connection's next request, and undici's handler stays on it), so it must not keep the
 * request's context alive, or every request's objects move to the old generation.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { requestPickInput } from '../../src/balancing/pick-input.js';
import { configSchema } from '../../src/config/schema.js';
import { MemoryRegistry } from '../../src/discovery/memory-registry.js';
import { buildService } from '../../src/pipeline/build-service.js';
import { forward } from '../../src/proxy/forward.js';
import type { ServiceRuntime } from '../../src/proxy/service-runtime.js';
import { UpstreamPools } from '../../src/proxy/upstream-client.js';
import type { RequestContext } from '../../src/request/context.js';
import type { AttemptObserver } from '../../src/request/observer.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

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

let upstream: Upstream;
let pools: UpstreamPools;
let service: ServiceRuntime;
let front: Server;
let frontUrl: string;
/** What the connection tracker does: the latest response of a connection stays referenced. */
const kept: ServerResponse[] = [];
const contexts: Array<WeakRef<RequestContext>> = [];

before(async () => {
  upstream = await startUpstream();
  const config = configSchema.parse({
    services: { svc: { discovery: 'static', instances: [upstream.url] } },
    routes: [],
  });
  pools = new UpstreamPools();
  service = buildService('svc', config.services.svc!, {
    pools,
    registry: new MemoryRegistry(),
    endpoints: new Map(),
    concurrencyLimiters: new Map(),
  });
  front = createServer((req, res) => {
    kept.push(res);
    const ctx = {
      req,
      res,
      requestId: 'r1',
      startedAt: process.hrtime.bigint(),
      responseHeaders: [],
      // Stands for everything a request carries (its span, headers, stage results).
      payload: Buffer.alloc(64 * 1024),
    } as unknown as RequestContext;
    contexts.push(new WeakRef(ctx));
    void forward({
      ctx,
      service,
      plan,
      headers: [],
      path: '/',
      input: requestPickInput(req.headers, '127.0.0.1', Date.now()),
      observer,
      grpcWeb: undefined,
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
  await upstream.close();
});

test('a relayed response, still referenced after it finished, lets its request context go', async () => {
  for (let i = 0; i < 5; i++) {
    const res = await request(frontUrl);
    assert.equal(res.statusCode, 200);
    await res.body.text();
  }
  // The exchange's last callbacks run after the client read the answer.
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(kept.length, 5);
  const alive = contexts.filter((ref) => ref.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of 5 request contexts kept alive by their finished responses`);
});
