/** A throwaway redis-server for the rate-limit suites, and connections to it set up as a gateway's. */
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/** The server of one test file and its gateway-style connections. */
export interface GatewayRedis {
  server(): TestRedis;
  /** A plain connection for the test's own reads (INFO, TIME, keys). */
  probe(): Redis;
  /** A connection set up as the gateway's: auto-pipelined, failing a command after one retry. */
  connect(): Redis;
}

/** Starts a redis-server before the file's tests; disconnects every connection and stops it after them. */
export function gatewayRedis(): GatewayRedis {
  let server: TestRedis;
  let probe: Redis;
  const connections: Redis[] = [];
  before(async () => {
    server = await startRedis();
    probe = server.client();
    probe.on('error', () => undefined);
    connections.push(probe);
  });
  after(async () => {
    for (const redis of connections) redis.disconnect();
    await server.stop();
  });
  return {
    server: () => server,
    probe: () => probe,
    connect() {
      const redis = new Redis({
        port: server.port,
        host: '127.0.0.1',
        enableAutoPipelining: true,
        maxRetriesPerRequest: 1,
      });
      // Reconnects are expected while a test kills the server.
      redis.on('error', () => undefined);
      connections.push(redis);
      return redis;
    },
  };
}
