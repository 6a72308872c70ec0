/** Config checks made by the runtime's own compilers, so `edgeway check`, start-up and reload judge alike. */
import type { CrossIssue } from '../config/cross-checks.js';
import type { ConfigCompiler } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { compileSplit } from '../balancing/split.js';
import { InstancePolicy } from '../discovery/instance-policy.js';
import { compileAddressList } from '../security/ip-rules.js';
import { TrustedProxies } from './client-ip.js';

/** What the compilers refuse in a schema-valid config, at the key paths of the values they refused. */
export function compileChecks(config: Config): CrossIssue[] {
  const issues: CrossIssue[] = [];
  config.gateway.trustedProxies.forEach((entry, i) => {
    try {
      new TrustedProxies([entry]);
    } catch (err) {
      issues.push({
        path: ['gateway', 'trustedProxies', i],
        message: `"${entry}" is not an IP address or CIDR (${(err as Error).message})`,
      });
    }
  });
  // A static instance at the admin port would serve the admin API (token minting) on the public port.
  const { listen, admin, tls } = config.gateway;
  const own = new InstancePolicy({
    ownPorts: [listen.port, admin.port, tls?.redirectHttpPort ?? 0],
  });
  for (const [name, service] of Object.entries(config.services)) {
    service.instances.forEach((instance, i) => {
      const refusal = own.refusal(typeof instance === 'string' ? instance : instance.url);
      if (refusal !== undefined)
        issues.push({ path: ['services', name, 'instances', i], message: refusal });
    });
  }
  config.routes.forEach((route, i) => {
    for (const key of ['ipAllow', 'ipDeny'] as const) {
      route[key]?.forEach((entry, j) => {
        try {
          compileAddressList([entry]);
        } catch (err) {
          issues.push({
            path: ['routes', i, key, j],
            message: `"${entry}" is not an IP address or CIDR (${(err as Error).message})`,
          });
        }
      });
    }
    const split = compileSplit(route.service, route.split);
    if (!split.ok) issues.push({ path: ['routes', i, 'split'], message: split.message });
  });
  return issues;
}

/** The compiler for commands that check a config without running it (`edgeway check`, the primary of `--workers`). */
export const checkOnly: ConfigCompiler<undefined> = {
  check: compileChecks,
  build: () => undefined,
};
