/**
 * Example plugin: a request names its tenant in a header, and only a caller holding the scope
 * `tenant:<that tenant>` may act for it. Declare it and use it on a route with auth:
 *
 *   plugins:
 *     - { name: tenant-check, module: ../examples/plugins/tenant-check.ts }
 *   routes:
 *     - { name: api, match: { path: /api }, service: api, auth: { required: true },
 *         plugins: [{ name: tenant-check, config: { header: x-tenant } }] }
 */
import type { Plugin } from 'edgeway/plugin';

/** The plugin's config (`routes[].plugins[].config`); every key is optional. */
export interface TenantCheckConfig {
  /** The header carrying the tenant id. Default `x-tenant`. */
  readonly header?: string;
  /** The scope prefix that grants a tenant. Default `tenant:`. */
  readonly scopePrefix?: string;
}

const HEADER_NAME = /^[a-z0-9-]+$/;
const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

const tenantCheck: Plugin<TenantCheckConfig | undefined> = {
  name: 'tenant-check',
  // Runs once per route at config load: a throw here is a config error pointing at the route's entry.
  create(config = {}) {
    if (typeof config !== 'object' || config === null) throw new Error('config must be a mapping');
    const header = (config.header ?? 'x-tenant').toLowerCase();
    if (!HEADER_NAME.test(header))
      throw new Error(`header must be a lower-case header name, not "${config.header}"`);
    const prefix = config.scopePrefix ?? 'tenant:';
    if (typeof prefix !== 'string' || prefix === '')
      throw new Error('scopePrefix must be a non-empty string');
    return {
      // Synchronous on purpose: a hook that returns no promise is not awaited and costs no timer.
      onRequest(req) {
        const tenant = req.headers.get(header);
        if (tenant === undefined || !TENANT_ID.test(tenant))
          return req.reject(400, 'bad_request', `${header} must name a tenant`);
        if (req.principal === undefined)
          return req.reject(401, 'unauthorized', 'a tenant request needs an authenticated caller');
        if (!req.principal.scopes.includes(`${prefix}${tenant}`))
          return req.reject(403, 'forbidden', `not allowed to act for tenant ${tenant}`);
        req.headers.set('x-tenant-verified', tenant);
      },
    };
  },
};

export default tenantCheck;
