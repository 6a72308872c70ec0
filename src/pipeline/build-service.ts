/** Builds a service's runtime from its config: its instances, its balancer and its pooled client. */
import type { ServiceConfig } from '../config/schema.js';
import type { UpstreamPools } from '../proxy/upstream-client.js';
import type { ServiceRuntime, UpstreamTarget } from './service-runtime.js';

/** An upstream target parsed once from an instance URL. */
export function targetFromUrl(id: string, url: string): UpstreamTarget {
  const parsed = new URL(url);
  return { id, origin: parsed.origin, basePath: parsed.pathname.replace(/\/+$/, '') };
}

/** A static service: instances from config, picked round-robin. */
export function buildStaticService(name: string, config: ServiceConfig, pools: UpstreamPools): ServiceRuntime {
  const targets = config.instances.map((instance, i) => targetFromUrl(`${name}-${i}`, typeof instance === 'string' ? instance : instance.url));
  const poolOptions = { connectTimeoutMs: config.timeouts.connect, maxConnections: config.circuitBreaker?.maxConnections ?? 1024 };
  let next = 0;
  return {
    name,
    config,
    pick(_ctx, exclude) {
      for (let i = 0; i < targets.length; i++) {
        const target = targets[next++ % targets.length] as UpstreamTarget;
        if (!exclude.has(target)) return target;
      }
      return undefined;
    },
    pool: (target) => pools.get(target.origin, poolOptions),
    begin: () => () => undefined,
    close: () => undefined,
  };
}
