/**
 * What edgeway is measured beside: the bare reference (the fastest plain Node forwarder), the logged
 * reference (the same plus an access line and metrics per request) and two Node gateways people know,
 * fast-gateway and @fastify/http-proxy, each with its defaults. All forward to the same upstreams.
 */
import { readFileSync } from 'node:fs';
import { compiled, freePort, startNode } from './processes.js';
import type { ScenarioGroup } from './scenarios.js';

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

/** One reference or peer, a process of its own pinned to the proxy CPU. */
function referenceGroup(proxy: (typeof PROXIES)[number]): ScenarioGroup {
  return {
    scenarios: [{ name: proxy.name, ...(proxy.name === BARE ? {} : { versus: [BARE] }) }],
    async start(ctx) {
      const port = await freePort();
      const child = await startNode(
        ctx.proxyCpu,
        [compiled(proxy.script), String(port), ...ctx.upstreams],
        'ready',
        {},
        // Access lines go to /dev/null, as edgeway's: a bench process reading them would share the proxy's CPU.
        proxy.name === LOGGED ? 'ignore' : 'pipe',
      );
      return { [proxy.name]: { url: `http://127.0.0.1:${port}${proxy.path}`, pid: child.pid } };
    },
  };
}

/** The references and peers, each started only when measured. */
export const referenceGroups: readonly ScenarioGroup[] = PROXIES.map(referenceGroup);

/** The bare reference alone. */
export const bareReference = referenceGroup(PROXIES[0]);
