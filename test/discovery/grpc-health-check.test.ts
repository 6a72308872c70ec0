/** gRPC health checks (grpc.health.v1.Health/Check) against a real @grpc/grpc-js server, directly and through the gateway. */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Endpoint } from '../../src/balancing/endpoint.js';
import { HealthChecker } from '../../src/discovery/health-check.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

// The two messages of grpc/health/v1/health.proto, encoded by hand here (independently of edgeway's coder):
// HealthCheckRequest { string service = 1; }  HealthCheckResponse { ServingStatus status = 1; }
const UNKNOWN = 0;
const SERVING = 1;
const NOT_SERVING = 2;

function decodeRequest(bytes: Buffer): { service: string } {
  // Field 1, wire type 2, a length under 128: one tag byte, one length byte (the names here are short).
  if (bytes.length === 0) return { service: '' };
  assert.equal(bytes[0], 0x0a);
  return { service: bytes.subarray(2, 2 + (bytes[1] as number)).toString('utf8') };
}

function encodeRequest(request: { service: string }): Buffer {
  const name = Buffer.from(request.service, 'utf8');
  return name.length === 0 ? name : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
}

function encodeResponse(response: { status: number }): Buffer {
  return response.status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, response.status]);
}

const healthService: grpc.ServiceDefinition = {
  check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeRequest,
    requestDeserialize: decodeRequest,
    responseSerialize: encodeResponse,
    responseDeserialize: (bytes: Buffer) => ({ status: bytes[1] ?? 0 }),
  } as grpc.MethodDefinition<{ service: string }, { status: number }>,
};

/** A grpc-js server with the health service: `status` per service name; an unknown name is NOT_FOUND, as the spec says. */
async function healthServer(statuses: Map<string, number | 'hang'>): Promise<{
  port: number;
  asked: string[];
  server: grpc.Server;
}> {
  const asked: string[] = [];
  const server = new grpc.Server();
  server.addService(healthService, {
    check(
      call: grpc.ServerUnaryCall<{ service: string }, { status: number }>,
      callback: grpc.sendUnaryData<{ status: number }>,
    ) {
      asked.push(call.request.service);
      const status = statuses.get(call.request.service);
      if (status === 'hang') return;
      if (status === undefined)
        callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else callback(null, { status });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return { port, asked, server };
}

const fast = {
  type: 'grpc' as const,
  interval: 20,
  timeout: 300,
  unhealthyThreshold: 1,
  healthyThreshold: 1,
};

describe('gRPC health checks', () => {
  const statuses = new Map<string, number | 'hang'>();
  let health: Awaited<ReturnType<typeof healthServer>>;

  before(async () => {
    health = await healthServer(statuses);
  });
  after(() => health.server.forceShutdown());

  async function verdict(service: string, status: number | 'hang' | undefined): Promise<boolean> {
    if (status === undefined) statuses.delete(service);
    else statuses.set(service, status);
    const endpoint = new Endpoint({
      id: 'a',
      url: `http://127.0.0.1:${health.port}`,
      weight: 1,
      capacity: 10,
      draining: false,
    });
    // Start from the opposite state so that the first probe's verdict shows as a flip.
    const start = status !== SERVING;
    endpoint.healthy = start;
    const checker = new HealthChecker({ ...fast, service });
    const asked = health.asked.length;
    checker.start([endpoint]);
    try {
      await waitFor(() => health.asked.length > asked + 1, 5000, 'two probes');
      return endpoint.healthy;
    } finally {
      checker.stop();
    }
  }

  test('SERVING passes; NOT_SERVING, UNKNOWN and an unknown service (NOT_FOUND) fail', async () => {
    assert.equal(await verdict('helloworld.Greeter', SERVING), true);
    assert.equal(health.asked.at(-1), 'helloworld.Greeter', 'the service name reaches the server');
    assert.equal(await verdict('helloworld.Greeter', NOT_SERVING), false);
    assert.equal(await verdict('helloworld.Greeter', UNKNOWN), false);
    assert.equal(await verdict('nobody.Knows', undefined), false);
    assert.equal(await verdict('', SERVING), true, 'the empty name asks about the whole server');
  });

  test('an answer later than the timeout fails', async () => {
    assert.equal(await verdict('slow', 'hang'), false);
  });

  test('an instance that does not speak gRPC fails', async () => {
    const http1 = createHttpServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => http1.listen(0, '127.0.0.1', resolve));
    const endpoint = new Endpoint({
      id: 'h1',
      url: `http://127.0.0.1:${(http1.address() as AddressInfo).port}`,
      weight: 1,
      capacity: 10,
      draining: false,
    });
    const checker = new HealthChecker({ ...fast, service: '' });
    try {
      checker.start([endpoint]);
      await waitFor(() => !endpoint.healthy, 5000, 'the HTTP/1.1 instance to be marked down');
    } finally {
      checker.stop();
      http1.closeAllConnections();
      http1.close();
    }
  });
});

describe('gRPC health checks in the gateway', () => {
  const statuses = new Map<string, number | 'hang'>([['helloworld.Greeter', SERVING]]);
  let health: Awaited<ReturnType<typeof healthServer>>;
  let gw: TestGateway;

  before(async () => {
    health = await healthServer(statuses);
    gw = await startGateway({
      'gateway.yaml': 'gateway:\n  h2c: true\n',
      'services.yaml': `services:
  greeter:
    protocol: h2c
    instances: ["http://127.0.0.1:${health.port}"]
    healthCheck: { type: grpc, service: helloworld.Greeter, interval: 50ms, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 2 }
routes:
  - { name: greeter, match: { path: /grpc.health.v1.Health }, service: greeter, grpc: true }
`,
    });
  });
  after(async () => {
    await gw.stop();
    health.server.forceShutdown();
  });

  /** Health/Check called through the gateway (h2c) with a grpc-js client. */
  function check(
    service: string,
  ): Promise<{ err: grpc.ServiceError | null; reply: { status: number } | undefined }> {
    const Client = grpc.makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');
    const client = new Client(`127.0.0.1:${gw.gateway.port}`, grpc.credentials.createInsecure());
    return new Promise((resolve) => {
      (
        client as unknown as {
          check(
            request: { service: string },
            callback: (err: grpc.ServiceError | null, reply?: { status: number }) => void,
          ): void;
        }
      ).check({ service }, (err, reply) => {
        client.close();
        resolve({ err, reply });
      });
    });
  }

  async function healthy(): Promise<boolean[]> {
    const body = (await (await fetch(`${gw.adminUrl}/admin/services`)).json()) as {
      services: Array<{ instances: Array<{ healthy: boolean }> }>;
    };
    return body.services.flatMap((s) => s.instances).map((i) => i.healthy);
  }

  test('NOT_SERVING takes the instance out of rotation; SERVING again brings it back', async () => {
    await waitFor(() => health.asked.length >= 2, 5000, 'the first probes');
    assert.deepEqual(await healthy(), [true]);
    assert.deepEqual(new Set(health.asked), new Set(['helloworld.Greeter']));
    statuses.set('helloworld.Greeter', NOT_SERVING);
    await waitFor(async () => (await healthy())[0] === false, 5000, 'the instance marked down');
    // A call through the gateway finds no instance to send it to.
    const refused = await check('helloworld.Greeter');
    assert.equal(refused.err?.code, grpc.status.UNAVAILABLE);
    statuses.set('helloworld.Greeter', SERVING);
    await waitFor(async () => (await healthy())[0] === true, 5000, 'the instance restored');
    const served = await check('helloworld.Greeter');
    assert.equal(served.err, null);
    assert.equal(served.reply?.status, SERVING);
  });
});
