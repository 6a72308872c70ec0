/** The composition root: builds a gateway's long-lived parts from its options, in dependency order, before anything listens. */
import type { Logger } from 'pino';
import type { Diagnostic } from '../config/diagnostic.js';
import { loadAndCompileWithPlugins } from '../plugins/compile.js';
import { PluginHost } from '../plugins/host.js';
import type { Config } from '../config/schema.js';
import { isLoopbackHost } from '../admin/auth.js';
import { servicesStatus } from '../admin/services-api.js';
import { viewServices } from '../admin/telemetry-api.js';
import { createRegistry } from '../discovery/create-registry.js';
import type { Registry } from '../discovery/registry.js';
import { InstancePolicy } from '../discovery/instance-policy.js';
import { checkOnly } from '../pipeline/compile-checks.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import {
  buildSnapshot,
  retireSnapshot,
  type Snapshot,
  type SnapshotDeps,
} from '../pipeline/snapshot.js';
import { UpstreamPools } from '../proxy/upstream-client.js';
import { createSecurity, type Security } from '../security/index.js';
import type { StoreBackend } from '../store/backend.js';
import { closeBackend, connectBackend } from '../store/connect.js';
import type { AccessLogOptions } from '../telemetry/access-log.js';
import type { TracingOptions } from '../telemetry/tracing/otel.js';
import type { ServicesView } from '../telemetry/services-view.js';
import { createTelemetry, type Telemetry } from '../telemetry/telemetry.js';
import type { RateLimitOutcome } from '../traffic/rate-limit/counters.js';
import { createRateLimiterProvider } from '../traffic/rate-limit/provider.js';
import { createAcme } from './acme/create.js';
import type { AcmeManager, AcmeTiming } from './acme/manager.js';
import { TlsTerminator } from './tls.js';

/** How to run a gateway; CLI flags and environment resolved by the caller. */
export interface GatewayOptions {
  readonly configPath: string;
  readonly port?: number;
  readonly adminPort?: number;
  readonly redisUrl?: string;
  readonly adminToken?: string;
  readonly dataDir: string;
  readonly logger: Logger;
  /** Trace export settings (default: from the OTEL_* environment). */
  readonly tracing?: TracingOptions;
  /** Where access-log lines go (default: stdout, buffered). */
  readonly accessLog?: AccessLogOptions;
  /** Watch the config for edits (default true). */
  readonly watch?: boolean;
  /** Called after each successful reload (`--workers`: worker 1 relays it to the others). */
  readonly onReloaded?: () => void;
  /** What `GET /metrics` answers (default: this process's metrics; `--workers`: every worker's together). */
  readonly metricsExposition?: () => Promise<{ contentType: string; body: string }>;
  /** ACME retry and lock timing (tests shorten it). */
  readonly acme?: AcmeTiming;
}

/** Thrown when the gateway cannot start; the CLI prints it and exits 1. */
export class StartError extends Error {
  constructor(
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
    this.name = 'StartError';
  }
}

/** The live snapshot: read once per request, replaced whole by a reload. */
export class LiveSnapshot {
  constructor(private snapshot: Snapshot) {}

  /** The snapshot requests started now use. */
  get current(): Snapshot {
    return this.snapshot;
  }

  /** Makes `next` live and stops what the replaced one started; requests in flight keep the one they read. */
  replace(next: Snapshot): void {
    const previous = this.snapshot;
    this.snapshot = next;
    retireSnapshot(previous);
  }
}

/** Everything a gateway is made of except its listeners; each part outlives reloads. */
export interface GatewayParts {
  /** The config the gateway started with (listen addresses and limits that a reload does not change). */
  readonly config: Config;
  readonly backend: StoreBackend;
  readonly registry: Registry;
  readonly security: Security;
  readonly telemetry: Telemetry;
  /** Certificates, their file watch and the redirect listener, when `gateway.tls` is set. */
  readonly tls: TlsTerminator | undefined;
  /** The ACME certificates, when `gateway.tls.acme` is set. */
  readonly acme: AcmeManager | undefined;
  /** Shared objects every snapshot is compiled against. */
  readonly deps: SnapshotDeps;
  readonly live: LiveSnapshot;
  /** The configured services with their instances, for the dashboard, alerts and metrics. */
  readonly servicesView: ServicesView;
  /** The live snapshot's services. */
  readonly services: () => ReadonlyMap<string, ServiceRuntime>;
  /** Closes every part, the store last; `cutOff` aborts upstream requests still running. */
  close(cutOff: boolean): Promise<void>;
}

function registryLogger(logger: Logger): {
  warn(message: string, detail?: unknown): void;
  info(message: string): void;
} {
  return {
    warn: (message, detail) => logger.warn({ detail }, message),
    info: (message) => logger.info(message),
  };
}

/** Loads and checks the config, connects the store and starts every long-lived part; throws StartError on a refusal. */
export async function assemble(options: GatewayOptions): Promise<GatewayParts> {
  const plugins = new PluginHost();
  const loaded = await loadAndCompileWithPlugins(options.configPath, checkOnly, plugins);
  if (!loaded.ok) throw new StartError('invalid config', loaded.diagnostics);
  const { config } = loaded;
  const adminHost = config.gateway.admin.host;
  if (!isLoopbackHost(adminHost) && !options.adminToken) {
    throw new StartError(
      `admin listener on ${adminHost} is reachable off loopback: set EDGEWAY_ADMIN_TOKEN`,
    );
  }
  const backend = connectBackend(options.redisUrl, options.dataDir);
  let tls: TlsTerminator | undefined;
  let acme: AcmeManager | undefined;
  try {
    acme = await createAcme(config, backend, options.logger, options.acme);
    tls = config.gateway.tls
      ? new TlsTerminator(config.gateway.tls, options.logger, acme)
      : undefined;
  } catch (err) {
    await closeBackend(backend);
    throw new StartError((err as Error).message);
  }
  if (backend.kind === 'memory')
    options.logger.info(
      'no Redis configured (--redis or REDIS_URL): running on the embedded in-memory store, one instance only',
    );
  const registry = createRegistry(backend, { logger: registryLogger(options.logger) });
  // Refused from the first record on; the gateway narrows it again once its ports are bound.
  registry.restrict(
    new InstancePolicy({
      allowedNetworks: config.discovery.allowedNetworks,
      ownPorts: [
        options.port ?? config.gateway.listen.port,
        options.adminPort ?? config.gateway.admin.port,
        config.gateway.tls?.redirectHttpPort ?? 0,
      ],
    }),
  );
  await registry.start();
  const security = await createSecurity(backend, config.auth, {
    onError: (err) => options.logger.warn({ err }, 'security background task failed'),
  });
  const rateLimiters = createRateLimiterProvider({ backend, logger: options.logger });
  await rateLimiters.start();
  // Read only at scrape and alert time, once `live` below exists.
  const services = (): ReadonlyMap<string, ServiceRuntime> => live.current.services;
  const servicesView: ServicesView = () => viewServices(servicesStatus({ registry, services }));
  const pools = new UpstreamPools();
  const telemetry = createTelemetry({
    backend,
    upstreamPools: () => pools.size,
    logger: options.logger,
    alerts: config.alerts,
    servicesView,
    ...(acme === undefined ? {} : { certificates: () => acme.certificates() }),
    spans: { stages: config.telemetry.stageSpans },
    ...(options.accessLog === undefined ? {} : { accessLog: options.accessLog }),
    ...(options.tracing === undefined ? {} : { tracing: options.tracing }),
  });
  const deps: SnapshotDeps = {
    pools,
    registry,
    endpoints: new Map(),
    concurrencyLimiters: new Map(),
    spans: telemetry.spans,
    onHealthChange: (service, endpoint, healthy) =>
      telemetry.metrics.setInstanceHealthy(service, endpoint.id, healthy),
    security,
    rateLimit: {
      limiters: rateLimiters,
      counters: {
        count: (route: string, outcome: RateLimitOutcome) =>
          telemetry.forRoute(route).metrics.rateLimit(outcome),
      },
    },
    plugins: {
      host: plugins,
      onFailure: (plugin, route, reason, err) => {
        telemetry.metrics.pluginError(plugin, reason);
        const what = `${reason === 'timeout' ? 'took longer than gateway.pluginTimeout' : 'threw'}; answered 500 internal_error`;
        options.logger.error({ plugin, route, reason, err }, `plugin "${plugin}" ${what}`);
      },
    },
  };
  const live = new LiveSnapshot(buildSnapshot(config, loaded.files, deps));
  return {
    config,
    backend,
    registry,
    security,
    telemetry,
    tls,
    acme,
    deps,
    live,
    servicesView,
    services,
    async close(cutOff) {
      retireSnapshot(live.current);
      await deps.pools.close(cutOff);
      await Promise.allSettled([
        rateLimiters.close(),
        security.close(),
        telemetry.shutdown(),
        tls?.close(),
      ]);
      await registry.close();
      await closeBackend(backend);
    },
  };
}
