/** The snapshot compilers that need no running parts, run by `edgeway check`, start-up and every reload alike. */
import { CompileIssue } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { TrustedProxies } from './client-ip.js';

/**
 * Compiles what a schema cannot judge with the runtime's own code, so `check` refuses exactly what a
 * start or reload would, at the same key path. Throws CompileIssue.
 */
export function precompile(config: Config): void {
  config.gateway.trustedProxies.forEach((entry, i) => {
    try {
      new TrustedProxies([entry]);
    } catch (err) {
      throw new CompileIssue(['gateway', 'trustedProxies', i], `"${entry}" is not an IP address or CIDR (${(err as Error).message})`);
    }
  });
}
