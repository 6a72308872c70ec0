/** Checks that span keys (references, duplicates, combinations) after the schema has passed. */
import type { Config } from './schema.js';

/** One cross-field problem, at a key path of the merged config. */
export interface CrossIssue {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

const HASH_ON = /^(ip|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+|cookie:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$/;

function checkServices(config: Config, issues: CrossIssue[]): void {
  for (const [name, service] of Object.entries(config.services)) {
    if (service.discovery === 'static' && service.instances.length === 0) {
      issues.push({ path: ['services', name, 'instances'], message: 'a static service needs at least one instance' });
    }
    if (service.discovery === 'redis' && service.instances.length > 0) {
      issues.push({ path: ['services', name, 'instances'], message: 'instances are only for discovery: static; redis-discovered instances register themselves' });
    }
    const { policy, hashOn } = service.loadBalancer;
    if (policy === 'ring-hash' && hashOn === undefined) {
      issues.push({ path: ['services', name, 'loadBalancer', 'hashOn'], message: 'ring-hash needs hashOn: header:NAME, ip or cookie:NAME' });
    }
    if (hashOn !== undefined && !HASH_ON.test(hashOn)) {
      issues.push({ path: ['services', name, 'loadBalancer', 'hashOn'], message: `invalid hashOn "${hashOn}" (use header:NAME, ip or cookie:NAME)` });
    }
    if (hashOn !== undefined && policy !== 'ring-hash') {
      issues.push({ path: ['services', name, 'loadBalancer', 'hashOn'], message: `hashOn only applies to policy ring-hash, not ${policy}` });
    }
    const hc = service.healthCheck;
    if (hc && hc.timeout >= hc.interval) {
      issues.push({ path: ['services', name, 'healthCheck', 'timeout'], message: 'timeout must be shorter than interval' });
    }
  }
}

function checkRoutes(config: Config, issues: CrossIssue[]): void {
  const names = new Map<string, number>();
  const hasIssuers = config.auth.issuers.length > 0;
  config.routes.forEach((route, i) => {
    const first = names.get(route.name);
    if (first !== undefined) issues.push({ path: ['routes', i, 'name'], message: `duplicate route name "${route.name}" (also routes[${first}])` });
    else names.set(route.name, i);

    if (!(route.service in config.services)) {
      issues.push({ path: ['routes', i, 'service'], message: `unknown service "${route.service}"` });
    }
    let splitTotal = 0;
    route.split?.forEach((part, j) => {
      splitTotal += part.weight;
      if (!(part.service in config.services)) issues.push({ path: ['routes', i, 'split', j, 'service'], message: `unknown service "${part.service}"` });
    });
    if (splitTotal > 100) issues.push({ path: ['routes', i, 'split'], message: `split weights add up to ${splitTotal}%, more than 100` });
    if (route.auth?.required && !hasIssuers) {
      issues.push({ path: ['routes', i, 'auth'], message: 'auth is required but auth.issuers is empty' });
    }
    if (route.rateLimit?.key === 'consumer' && !route.auth?.required) {
      issues.push({ path: ['routes', i, 'rateLimit', 'key'], message: 'key consumer needs auth.required on the route (the consumer is the token sub)' });
    }
  });
}

/** Every cross-field problem of a schema-valid config, in document order. */
export function crossCheck(config: Config): CrossIssue[] {
  const issues: CrossIssue[] = [];
  if (config.gateway.tls && (config.gateway.tls.cert === undefined) !== (config.gateway.tls.key === undefined)) {
    issues.push({ path: ['gateway', 'tls'], message: 'tls needs both cert and key' });
  }
  config.auth.issuers.forEach((issuer, i) => {
    if (issuer.jwksUri === undefined && issuer.issuer !== 'edgeway') {
      issues.push({ path: ['auth', 'issuers', i, 'jwksUri'], message: 'an external issuer needs jwksUri (only the issuer "edgeway" uses edgeway\'s own keys)' });
    }
  });
  checkServices(config, issues);
  checkRoutes(config, issues);
  return issues;
}
