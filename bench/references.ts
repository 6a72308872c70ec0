/**
 * What edgeway is measured beside: the bare reference (the fastest plain Node forwarder), the logged
 * reference (the same plus an access line and metrics per request) and two Node gateways people know,
 * fast-gateway and @fastify/http-proxy, each with its defaults. All forward to the same upstreams.
 */
import { readFileSync } from 'node:fs';
import { compiled, freePort, startNode } from './processes.js';
import type { Scenario } from './scenarios.js';

/** The bare reference's scenario name. */
export const BARE = 'reference: bare';
/** The logged reference's scenario name. */
export const LOGGED = 'reference: logged';

function version(pkg: string): string {
  const { version } = JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')) as {
    version: string;
  };
  return version;
}

const PROXIES = [
  { name: BARE, script: 'bench/reference-proxy.ts', path: '/item' },
  { name: LOGGED, script: 'bench/logged-reference-proxy.ts', path: '/item' },
  {
    name: `peer: fast-gateway ${version('fast-gateway')}`,
    script: 'bench/peer-fast-gateway.ts',
    path: '/gw/item',
  },
  {
    name: `peer: @fastify/http-proxy ${version('@fastify/http-proxy')}`,
    script: 'bench/peer-fastify-http-proxy.ts',
    path: '/fp/item',
  },
] as const;

/** Starts the references and peers pinned to `cpu`; they live until the bench exits. */
export async function startReferences(
  upstreams: readonly string[],
  cpu: string,
): Promise<Scenario[]> {
  const scenarios: Scenario[] = [];
  for (const proxy of PROXIES) {
    const port = await freePort();
    const child = await startNode(
      cpu,
      [compiled(proxy.script), String(port), ...upstreams],
      'ready',
    );
    scenarios.push({
      name: proxy.name,
      url: `http://127.0.0.1:${port}${proxy.path}`,
      pid: child.pid,
      ...(proxy.name === BARE ? {} : { versus: [BARE] }),
    });
  }
  return scenarios;
}
