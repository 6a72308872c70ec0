/** Admin `/admin/services`: lists services with live instance state; registers, heartbeats and deregisters instances. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Endpoint } from '../balancing/endpoint.js';
import { duration } from '../config/duration.js';
import { GatewayError } from '../errors.js';
import { checkRegistration, checkTtl, type InstanceRecord } from '../discovery/instance.js';
import type { Registry } from '../discovery/registry.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import { readJson } from './json-body.js';

/** TTL of an admin registration without `ttl`, ms (SPEC: 30s). */
export const DEFAULT_ADMIN_TTL_MS = 30_000;

/** What the services API reads and writes. */
export interface ServicesApiDeps {
  readonly registry: Registry;
  /** The configured services of the live snapshot. */
  services(): ReadonlyMap<string, ServiceRuntime>;
  /** Why an instance URL may not be registered (it points at edgeway itself, or outside `discovery.allowedNetworks`). */
  refusal(url: string): string | undefined;
  readonly now?: () => number;
}

/** One instance as `GET /admin/services` shows it; run-time fields are null for services no route config uses. */
export interface InstanceStatus {
  readonly id: string;
  readonly url: string;
  readonly weight: number;
  readonly capacity: number;
  readonly meta: Readonly<Record<string, string>>;
  readonly draining: boolean;
  readonly healthy: boolean | null;
  readonly ejected: boolean;
  readonly inFlight: number;
  /** Time-decayed average latency, ms; null before the first response. */
  readonly latencyMs: number | null;
  /** When the registration lapses without a heartbeat, ms since epoch; null for static instances. */
  readonly expiresAt: number | null;
}

/** One service as `GET /admin/services` shows it. */
export interface ServiceStatus {
  readonly name: string;
  /** True when the loaded config defines the service (routes can reach it). */
  readonly configured: boolean;
  readonly discovery: 'redis' | 'static' | null;
  readonly instances: readonly InstanceStatus[];
}

function expiry(record: InstanceRecord | undefined): number | null {
  return record === undefined || !Number.isFinite(record.expiresAt) ? null : record.expiresAt;
}

function fromEndpoint(
  endpoint: Endpoint,
  record: InstanceRecord | undefined,
  now: number,
): InstanceStatus {
  return {
    id: endpoint.id,
    url: endpoint.url,
    weight: endpoint.weight,
    capacity: endpoint.capacity,
    meta: record?.meta ?? {},
    draining: endpoint.draining,
    healthy: endpoint.healthy,
    ejected: endpoint.ejectedUntil > now,
    inFlight: endpoint.inFlight,
    latencyMs: endpoint.ewmaLatencyMs > 0 ? Math.round(endpoint.ewmaLatencyMs * 10) / 10 : null,
    expiresAt: expiry(record),
  };
}

/** An instance only the registry knows of (no route config uses its service, or no gateway was asked). */
export function fromRecord(record: InstanceRecord): InstanceStatus {
  const { id, url, weight, capacity, meta, draining } = record;
  return {
    id,
    url,
    weight,
    capacity,
    meta,
    draining,
    healthy: null,
    ejected: false,
    inFlight: 0,
    latencyMs: null,
    expiresAt: expiry(record),
  };
}

/** Every configured service and every service with registered instances, sorted by name. */
export function servicesStatus(
  deps: Pick<ServicesApiDeps, 'registry' | 'services' | 'now'>,
): ServiceStatus[] {
  const now = (deps.now ?? Date.now)();
  const configured = deps.services();
  const names = new Set([...configured.keys(), ...deps.registry.services()]);
  return [...names].sort().map((name): ServiceStatus => {
    const records = new Map(deps.registry.list(name).map((record) => [record.id, record]));
    const runtime = configured.get(name);
    if (runtime === undefined) {
      return {
        name,
        configured: false,
        discovery: null,
        instances: [...records.values()].map(fromRecord),
      };
    }
    const instances = runtime
      .endpoints()
      .map((endpoint) => fromEndpoint(endpoint, records.get(endpoint.id), now));
    return { name, configured: true, discovery: runtime.config.discovery, instances };
  });
}

/** The PUT body (SPEC: `{url, weight?, capacity?, meta?, ttl?}`); discovery/instance checks the values it shares with Redis records. */
const registrationBody = z.strictObject({
  url: z.string(),
  weight: z.number().optional(),
  capacity: z.number().optional(),
  meta: z.record(z.string(), z.string()).optional(),
  ttl: duration.default(DEFAULT_ADMIN_TTL_MS),
  draining: z.boolean().optional(),
});

/** Builds the sub-app; mount it at `/admin/services` (the admin app applies auth to `/admin/*`). */
export function createServicesApi(deps: ServicesApiDeps): Hono {
  const app = new Hono();

  app.get('/', (c) => c.json({ services: servicesStatus(deps) }));

  app.put('/:service/instances/:id', async (c) => {
    const { ttl, ...fields } = await readJson(c, registrationBody);
    const registration = checkRegistration({
      ...fields,
      service: c.req.param('service'),
      id: c.req.param('id'),
    });
    const ttlMs = checkTtl(ttl);
    const refused = deps.refusal(registration.url);
    if (refused !== undefined)
      throw new GatewayError('forbidden', `registration refused: ${refused}`);
    try {
      await deps.registry.register(registration, ttlMs);
    } catch (err) {
      throw new GatewayError(
        'unavailable',
        `the registry refused the registration: ${(err as Error).message}`,
        [],
        { cause: err },
      );
    }
    return c.json({ ...registration, ttlMs, expiresAt: (deps.now ?? Date.now)() + ttlMs });
  });

  app.delete('/:service/instances/:id', async (c) => {
    const service = c.req.param('service');
    const id = c.req.param('id');
    let removed: boolean;
    try {
      removed = await deps.registry.deregister(service, id);
    } catch (err) {
      throw new GatewayError(
        'unavailable',
        `the registry refused the deregistration: ${(err as Error).message}`,
        [],
        { cause: err },
      );
    }
    if (!removed)
      throw new GatewayError('not_found', `no instance ${id} of service ${service} is registered`);
    return c.body(null, 204);
  });

  return app;
}
