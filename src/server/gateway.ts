/** A running gateway: config snapshot, listeners, reload and graceful shutdown. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { formatDiagnostic, type Diagnostic } from '../config/diagnostic.js';
import { loadAndCompile } from '../config/load.js';
import { watchConfig } from '../config/watch.js';
import { createAdminApp } from '../admin/app.js';
import { createServicesApi, servicesStatus } from '../admin/services-api.js';
import { isLoopbackHost } from '../admin/auth.js';
import { createRequestHandler, type RequestObserver } from '../pipeline/handle-request.js';
import { checkOnly, compileChecks } from '../pipeline/compile-checks.js';
import { buildSnapshot, retireSnapshot, type Snapshot, type SnapshotDeps } from '../pipeline/snapshot.js';
import type { ServiceRuntime } from '../pipeline/service-runtime.js';
import { UpstreamPools } from '../proxy/upstream-client.js';
import type { StoreBackend } from '../store/backend.js';
import { closeBackend, connectBackend } from '../store/connect.js';
import { createPublicServer } from './public-listener.js';
import { TlsTerminator } from './tls.js';
import { createRegistry } from '../discovery/create-registry.js';
import { tokensApi } from '../admin/tokens-api.js';
import { buildAuthStage } from '../security/auth-stage.js';
import { createSecurity, type Security } from '../security/index.js';
import { createPublicApp } from './public-app.js';
import { createRateLimiterProvider } from '../traffic/rate-limit/provider.js';
import type { RateLimitOutcome } from '../traffic/rate-limit/counters.js';
import { createTelemetry, type Telemetry } from '../telemetry/telemetry.js';
import type { AccessLogOptions } from '../telemetry/access-log.js';
import type { TracingOptions } from '../telemetry/otel.js';
import { requestObserver } from '../telemetry/request-observer.js';
import type { ServicesView } from '../telemetry/services-view.js';
import { telemetryApi, viewServices } from '../admin/telemetry-api.js';
import { buildRateLimitStage } from '../traffic/rate-limit/stage.js';
import type { Registry } from '../discovery/registry.js';

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
}

/** Thrown when the gateway cannot start; the CLI prints it and exits 1. */
export class StartError extends Error {
  constructor(message: string, readonly diagnostics: readonly Diagnostic[] = []) {
    super(message);
    this.name = 'StartError';
  }
}

function registryLogger(logger: Logger): { warn(message: string, detail?: unknown): void; info(message: string): void } {
  return { warn: (message, detail) => logger.warn({ detail }, message), info: (message) => logger.info(message) };
}

/** A started gateway. */
export class Gateway {
  private snapshot: Snapshot;
  private inFlight = 0;
  private stopWatching: () => void = () => undefined;
  private stopping = false;
  /** Parts to close on stop, before the registry and the store connections. */
  private readonly closers: Array<() => Promise<void>> = [];
  private security: Security | undefined;
  private telemetry: Telemetry | undefined;
  /** Certificates, their file watch and the redirect listener, when `gateway.tls` is set. */
  tls: TlsTerminator | undefined;

  private constructor(
    private readonly options: GatewayOptions,
    readonly backend: StoreBackend,
    readonly registry: Registry,
    private readonly deps: SnapshotDeps,
    initial: Snapshot,
    readonly publicServer: Server,
    readonly adminServer: Server,
  ) {
    this.snapshot = initial;
  }

  /** Loads config, connects the store, binds both listeners. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const loaded = loadAndCompile(options.configPath, checkOnly);
    if (!loaded.ok) throw new StartError('invalid config', loaded.diagnostics);
    const { config } = loaded;
    const adminHost = config.gateway.admin.host;
    if (!isLoopbackHost(adminHost) && !options.adminToken) {
      throw new StartError(`admin listener on ${adminHost} is reachable off loopback: set EDGEWAY_ADMIN_TOKEN`);
    }
    let tls: TlsTerminator | undefined;
    try {
      tls = config.gateway.tls ? new TlsTerminator(config.gateway.tls, options.logger) : undefined;
    } catch (err) {
      throw new StartError((err as Error).message);
    }
    const backend = connectBackend(options.redisUrl, options.dataDir);
    if (backend.kind === 'memory') options.logger.info('no Redis configured (--redis or REDIS_URL): running on the embedded in-memory store, one instance only');
    const registry = createRegistry(backend, { logger: registryLogger(options.logger) });
    await registry.start();
    const security = await createSecurity(backend, config.auth, { onError: (err) => options.logger.warn({ err }, 'security background task failed') });
    const rateLimiters = createRateLimiterProvider({ backend, logger: options.logger });
    await rateLimiters.start();
    let gateway: Gateway | undefined;
    const liveServices = (): ReadonlyMap<string, ServiceRuntime> => (gateway?.snapshot ?? snapshot).services;
    const servicesView: ServicesView = () => viewServices(servicesStatus({ registry, services: liveServices }));
    const telemetry = createTelemetry({
      backend,
      logger: options.logger,
      alerts: config.alerts,
      servicesView,
      spans: { stages: config.telemetry.stageSpans },
      ...(options.accessLog === undefined ? {} : { accessLog: options.accessLog }),
      ...(options.tracing === undefined ? {} : { tracing: options.tracing }),
    });
    const rateLimitMetrics = { count: (route: string, outcome: RateLimitOutcome) => telemetry.forRoute(route).metrics.rateLimit(outcome) };
    const deps: SnapshotDeps = {
      pools: new UpstreamPools(),
      registry,
      endpoints: new Map(),
      concurrencyLimiters: new Map(),
      spans: telemetry.spans,
      onHealthChange: (service, endpoint, healthy) => telemetry.metrics.setInstanceHealthy(service, endpoint.id, healthy),
      stageKinds: [
        { span: 'edgeway.auth', build: (route) => buildAuthStage(route.config, security) },
        { span: 'edgeway.rate_limit', build: (route) => buildRateLimitStage(route.config, { limiters: rateLimiters, counters: rateLimitMetrics }) },
      ],
    };
    const snapshot = buildSnapshot(config, loaded.files, deps);

    const telemetryObserver = requestObserver(telemetry);
    const observer: RequestObserver = {
      start: telemetryObserver.start,
      attempts: telemetryObserver.attempts,
      done(outcome) {
        gateway?.requestDone();
        telemetryObserver.done(outcome);
      },
    };
    const handler = createRequestHandler(() => (gateway as Gateway).snapshot, observer);
    const publicApp = createPublicApp(security, () => (gateway as Gateway).snapshot.trustedProxies);
    const publicServer = createPublicServer(publicApp, (req, res) => {
      (gateway as Gateway).inFlight++;
      handler(req, res);
    }, { maxHeaderBytes: config.gateway.maxHeaderBytes }, tls?.createServer);

    const adminApp = createAdminApp({
      adminToken: options.adminToken,
      routes: () => gateway?.routesView() ?? [],
      // Ready while Redis is away too (routing goes on from the last known set); the detail says so.
      ready: () => ({ ready: gateway !== undefined && !gateway.stopping, detail: { store: backend.kind, registry: registry.status() } }),
      reload: () => (gateway as Gateway).reload(),
      mounts: [
        ['/admin/services', createServicesApi({ registry, services: liveServices })],
        ['/admin/tokens', tokensApi(security)],
        ['/', telemetryApi(telemetry, servicesView, () => (gateway?.snapshot ?? snapshot).table.routes.map((route) => route.name))],
      ],
    });
    const adminServer = serve({ fetch: adminApp.fetch, port: options.adminPort ?? config.gateway.admin.port, hostname: adminHost });
    publicServer.listen(options.port ?? config.gateway.listen.port, config.gateway.listen.host);
    try {
      await Promise.all([once(publicServer, 'listening'), once(adminServer, 'listening')]);
    } catch (err) {
      publicServer.close();
      adminServer.close();
      retireSnapshot(snapshot);
      await Promise.allSettled([rateLimiters.close(), security.close(), telemetry.shutdown(), tls?.close()]);
      await registry.close();
      await closeBackend(backend);
      throw new StartError(`cannot listen: ${(err as Error).message}`);
    }
    gateway = new Gateway(options, backend, registry, deps, snapshot, publicServer, adminServer as Server);
    gateway.closers.push(() => rateLimiters.close(), () => security.close(), () => telemetry.shutdown());
    gateway.telemetry = telemetry;
    telemetry.start();
    gateway.security = security;
    if (tls !== undefined) {
      gateway.tls = tls;
      gateway.closers.push(() => tls.close());
      await tls.start(config.gateway.listen.host, gateway.port).catch(async (err: Error) => {
        await gateway?.stop();
        throw new StartError(`cannot listen for the https redirect: ${err.message}`);
      });
    }
    if (options.watch !== false) gateway.stopWatching = watchConfig(options.configPath, () => gateway?.reload());
    return gateway;
  }

  /** The live snapshot. */
  current(): Snapshot {
    return this.snapshot;
  }

  /** The bound public port. */
  get port(): number {
    return (this.publicServer.address() as AddressInfo).port;
  }

  /** The bound admin port. */
  get adminPort(): number {
    return (this.adminServer.address() as AddressInfo).port;
  }

  private requestDone(): void {
    this.inFlight--;
  }

  /** Re-reads the config; an invalid one is refused and the last good snapshot keeps serving. */
  reload(): { ok: true } | { ok: false; diagnostics: readonly Diagnostic[] } {
    const compiled = loadAndCompile(this.options.configPath, {
      check: compileChecks,
      build: (config, files) => buildSnapshot(config, files, this.deps),
    });
    if (!compiled.ok) {
      this.options.logger.warn({ errors: compiled.diagnostics.map(formatDiagnostic) }, 'config reload rejected; still serving the last good config');
      this.telemetry?.metrics.configReload('failure');
      return compiled;
    }
    this.telemetry?.metrics.configReload('success');
    const previous = this.snapshot;
    this.security?.reconfigure(compiled.config.auth);
    this.snapshot = compiled.output;
    retireSnapshot(previous);
    this.options.logger.info({ routes: compiled.config.routes.length, files: compiled.files }, 'config reloaded');
    return { ok: true };
  }

  /** Routes as the admin API shows them. */
  routesView(): unknown {
    return this.snapshot.table.routes.map((route) => ({
      name: route.name,
      match: route.config.match,
      service: route.config.service,
      stripPrefix: route.config.stripPrefix,
      auth: route.config.auth ?? null,
      rateLimit: route.config.rateLimit ?? null,
      split: route.config.split ?? null,
    }));
  }

  /** Stops accepting, drains in-flight requests for at most `gateway.shutdownTimeout`, then closes everything. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopWatching();
    const closed = new Promise<void>((resolve) => this.publicServer.close(() => resolve()));
    this.publicServer.closeIdleConnections();
    const deadline = Date.now() + this.snapshot.config.gateway.shutdownTimeout;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      this.publicServer.closeIdleConnections();
    }
    this.publicServer.closeAllConnections();
    await closed;
    this.adminServer.closeAllConnections();
    await new Promise<void>((resolve) => this.adminServer.close(() => resolve()));
    retireSnapshot(this.snapshot);
    // Whatever still runs after the drain deadline is cut off rather than waited for.
    await this.deps.pools.close(this.inFlight > 0);
    for (const close of this.closers) await close();
    await this.registry.close();
    await closeBackend(this.backend);
  }
}
