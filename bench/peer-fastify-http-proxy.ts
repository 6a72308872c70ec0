/**
 * Peer: fastify with @fastify/http-proxy (over @fastify/reply-from and undici), logging off as by default,
 * prefix `/fp` to the upstreams through an undici BalancedPool (port, then upstream origins, from argv;
 * "ready" on stdout).
 */
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import { BalancedPool } from 'undici';

const upstreams = process.argv.slice(3);
const app = Fastify();
await app.register(proxy, {
  upstream: upstreams[0] as string,
  prefix: '/fp',
  undici: new BalancedPool(upstreams, { connections: 128, pipelining: 1 }),
});
await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
process.stdout.write('ready\n');
