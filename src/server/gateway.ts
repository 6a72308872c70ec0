/** A running gateway: its listeners over the assembled parts, reload and graceful shutdown. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { PublicServer } from './public-listener.js';
import { serve } from '@hono/node-server';
import type { Registry as PromRegistry } from 'prom-client';
import { formatDiagnostic, type Diagnostic } from '../config/diagnostic.js';
import { acmeDomains } from '../config/acme-domains.js';
import { loadAndCompileWithPlugins } from '../plugins/compile.js';
import { watchModules } from '../plugins/watch.js';
import { watchConfig } from '../config/watch.js';
import type { RouteConfig } from '../config/schema.js';
import { createAdminApp } from '../admin/app.js';
import { createServicesApi } from '../admin/services-api.js';
import { tokensApi } from '../admin/tokens-api.js';
import { certsApi } from '../admin/certs-api.js';
import { apiKeysApi } from '../admin/apikeys-api.js';
import { telemetryApi } from '../admin/telemetry-api.js';
import { createRequestHandler } from '../pipeline/handle-request.js';
import type { RequestObserver } from '../request/observer.js';
import { WebSocketTracker } from '../proxy/websocket/tracker.js';
import { compileChecks } from '../pipeline/compile-checks.js';
import { buildSnapshot, type Snapshot } from '../pipeline/snapshot.js';
import type { Registry } from '../discovery/registry.js';
import { InstancePolicy } from '../discovery/instance-policy.js';
import type { StoreBackend } from '../store/backend.js';
import { requestObserver } from '../telemetry/request-observer.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { assemble, StartError, type GatewayOptions, type GatewayParts } from './assemble.js';
import type { Connections } from './connections.js';
import { createPublicApp } from './public-app.js';
import { answerParserErrors, createPublicServer } from './public-listener.js';
import type { AcmeManager } from './acme/manager.js';
import type { TlsTerminator } from './tls.js';

export { StartError, type GatewayOptions } from './assemble.js';

/** A header transform as the admin API shows it: the names it sets and removes. */
function headerTransformView(
  transform: RouteConfig['requestHeaders'],
): { set: string[]; remove: readonly string[] } | null {
  return transform === undefined
    ? null
    : { set: Object.keys(transform.set), remove: transform.remove };
}

/** A started gateway. */
export class Gateway {
  readonly publicServer: PublicServer;
  readonly adminServer: Server;
  readonly #connections: Connections;
  /** Open WebSocket connections: they outlive reloads and are drained on stop. */
  readonly #webSockets: WebSocketTracker;
  #inFlight = 0;
  #serving = false;
  #stopping = false;
  #stopWatching: () => void = () => undefined;
  #stopWatchingPlugins: () => void = () => undefined;
  /** Reloads run one after another (plugin imports are asynchronous), so an older config never lands last. */
  #reloading: Promise<unknown> = Promise.resolve();
  /** Which instance addresses registrations may use; rebuilt once the ports are bound and on each reload. */
  #instancePolicy: InstancePolicy | undefined;

  private constructor(
    private readonly options: GatewayOptions,
    private readonly parts: GatewayParts,
  ) {
    const { config, live, registry, security, telemetry, tls, acme } = parts;
    const telemetryObserver = requestObserver(telemetry);
    const observer: RequestObserver = {
      start: telemetryObserver.start,
      attempts: telemetryObserver.attempts,
      upgraded: telemetryObserver.upgraded,
      done: (outcome) => {
        this.#inFlight--;
        telemetryObserver.done(outcome);
      },
    };
    const handler = createRequestHandler(() => live.current, observer);
    this.#webSockets = new WebSocketTracker((route, delta) =>
      telemetry.metrics.webSocketConnections(route, delta),
    );
    const webSockets = this.#webSockets;
    // A socket opened with a token that is revoked afterwards is closed, wherever the revocation came from.
    security.revocations.onRevoked((jti) => webSockets.revoked(jti));
    const publicApp = createPublicApp(
      security,
      () => live.current.trustedProxies,
      telemetryObserver,
      (err) => options.logger.error({ err }, 'public endpoint failed'),
    );
    const listener = createPublicServer(
      publicApp,
      (req, res, head) => {
        this.#inFlight++;
        handler(req, res, head === undefined ? undefined : { head, webSockets });
      },
      {
        maxHeaderBytes: config.gateway.maxHeaderBytes,
        // HTTP/2 is offered by ALPN on TLS (gateway.http2) and by prior knowledge on plaintext (gateway.h2c).
        ...((tls !== undefined ? config.gateway.http2 : config.gateway.h2c)
          ? { http2: config.gateway.http2Limits, h2c: config.gateway.h2c }
          : {}),
      },
      tls?.createServer,
    );
    this.publicServer = listener.server;
    this.#connections = listener.connections;
    const adminApp = createAdminApp({
      adminToken: options.adminToken,
      listenHost: config.gateway.admin.host,
      onUnexpectedError: (err) => options.logger.error({ err }, 'admin request failed'),
      routes: () => this.routesView(),
      // Ready while Redis is away too (routing goes on from the last known set); the detail says so.
      ready: () => ({
        ready: this.#serving,
        detail: { store: parts.backend.kind, registry: registry.status() },
      }),
      reload: () => this.reload(),
      mounts: [
        [
          '/admin/services',
          createServicesApi({
            registry,
            services: parts.services,
            refusal: (url) => this.#instancePolicy?.refusal(url),
          }),
        ],
        ['/admin/tokens', tokensApi(security)],
        ...(parts.acme === undefined ? [] : [['/admin/certs', certsApi(parts.acme)] as const]),
        ['/admin/apikeys', apiKeysApi(security)],
        [
          '/',
          telemetryApi(
            telemetry,
            {
              services: parts.services,
              routes: () => live.current.table.routes,
              traceUrl: () => live.current.config.dashboard.traceUrl,
              store: () => ({
                kind: parts.backend.kind,
                state: parts.backend.kind === 'redis' ? parts.backend.redis.status : 'embedded',
              }),
              registry: () => ({ ...registry.status() }),
              ...(acme === undefined ? {} : { certificates: () => acme.certificates() }),
            },
            options.metricsExposition,
          ),
        ],
      ],
    });
    this.adminServer = serve({
      fetch: adminApp.fetch,
      port: options.adminPort ?? config.gateway.admin.port,
      hostname: config.gateway.admin.host,
    }) as Server;
    answerParserErrors(this.adminServer);
  }

  /** Loads config, connects the store, binds both listeners. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const parts = await assemble(options);
    const gateway = new Gateway(options, parts);
    await gateway.listen();
    return gateway;
  }

  /** Binds the listeners, then starts what runs in the background (telemetry, the TLS redirect, the config watch). */
  private async listen(): Promise<void> {
    const { config, tls } = this.parts;
    this.publicServer.listen(
      this.options.port ?? config.gateway.listen.port,
      config.gateway.listen.host,
    );
    try {
      await Promise.all([
        once(this.publicServer, 'listening'),
        once(this.adminServer, 'listening'),
      ]);
    } catch (err) {
      this.publicServer.close();
      this.adminServer.close();
      await this.parts.close(false);
      throw new StartError(`cannot listen: ${(err as Error).message}`);
    }
    this.#serving = true;
    this.parts.telemetry.start();
    if (tls !== undefined) {
      await tls.start(config.gateway.listen.host, this.port).catch(async (err: Error) => {
        await this.stop();
        throw new StartError(`cannot listen for the https redirect: ${err.message}`);
      });
    }
    this.#restrictInstances();
    if (this.options.watch !== false) {
      this.#stopWatching = watchConfig(this.options.configPath, () => this.#reloadDetached());
      this.#watchPlugins();
    }
  }

  /** The live snapshot. */
  current(): Snapshot {
    return this.parts.live.current;
  }

  /** The store the gateway runs on. */
  get backend(): StoreBackend {
    return this.parts.backend;
  }

  /** The discovery registry. */
  get registry(): Registry {
    return this.parts.registry;
  }

  /** Certificates, their file watch and the redirect listener, when `gateway.tls` is set. */
  get tls(): TlsTerminator | undefined {
    return this.parts.tls;
  }

  /** The ACME certificates, when `gateway.tls.acme` is set. */
  get acme(): AcmeManager | undefined {
    return this.parts.acme;
  }

  /** Metrics, stats and alerts of this process. */
  get telemetry(): Telemetry {
    return this.parts.telemetry;
  }

  /** This process's Prometheus registry. */
  get metricsRegistry(): PromRegistry {
    return this.parts.telemetry.metrics.registry;
  }

  /** The bound public port. */
  get port(): number {
    return (this.publicServer.address() as AddressInfo).port;
  }

  /** The bound admin port. */
  get adminPort(): number {
    return (this.adminServer.address() as AddressInfo).port;
  }

  /** Every port this gateway listens on, as configured and as bound: no instance may point at one. */
  #ownPorts(): number[] {
    const { listen, admin, tls } = this.parts.live.current.config.gateway;
    const { port, adminPort } = this.options;
    return [
      this.port,
      this.adminPort,
      this.parts.tls?.redirectPort ?? 0,
      listen.port,
      admin.port,
      tls?.redirectHttpPort ?? 0,
      port ?? 0,
      adminPort ?? 0,
    ];
  }

  /** Applies `discovery.allowedNetworks` and the bound ports to the admin API and the registry's view. */
  #restrictInstances(): void {
    this.#instancePolicy = new InstancePolicy({
      allowedNetworks: this.parts.live.current.config.discovery.allowedNetworks,
      ownPorts: this.#ownPorts(),
    });
    this.parts.registry.restrict(this.#instancePolicy);
    this.parts.deps.pools.restrict(this.#instancePolicy);
  }

  /**
   * Re-reads the config and re-imports changed plugin modules; an invalid config (or a plugin refusing it)
   * is refused and the last good snapshot keeps serving.
   */
  reload(): Promise<{ ok: true } | { ok: false; diagnostics: readonly Diagnostic[] }> {
    const next = this.#reloading.then(() => this.#reloadNow());
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  /** Saving a plugin module reloads too; the set of modules may change with each reload. */
  #watchPlugins(): void {
    this.#stopWatchingPlugins();
    this.#stopWatchingPlugins = watchModules(this.parts.deps.plugins.host.modules, () =>
      this.#reloadDetached(),
    );
  }

  #reloadDetached(): void {
    this.reload().catch((err: unknown) =>
      this.options.logger.error({ err }, 'config reload failed'),
    );
  }

  async #reloadNow(): Promise<{ ok: true } | { ok: false; diagnostics: readonly Diagnostic[] }> {
    const { telemetry, security, live, deps } = this.parts;
    const compiled = await loadAndCompileWithPlugins(
      this.options.configPath,
      {
        check: compileChecks,
        build: (config, files) => {
          // Before the stages are built: each auth stage takes the authenticator of its own snapshot's auth config.
          security.reconfigure(config.auth);
          return buildSnapshot(config, files, deps);
        },
      },
      deps.plugins.host,
    );
    if (!compiled.ok) {
      security.reconfigure(live.current.config.auth);
      this.options.logger.warn(
        { errors: compiled.diagnostics.map(formatDiagnostic) },
        'config reload rejected; still serving the last good config',
      );
      telemetry.metrics.configReload('failure');
      return compiled;
    }
    telemetry.metrics.configReload('success');
    live.replace(compiled.output);
    this.parts.acme?.setDomains(acmeDomains(compiled.config));
    this.#restrictInstances();
    this.options.logger.info(
      { routes: compiled.config.routes.length, files: compiled.files },
      'config reloaded',
    );
    if (this.options.watch !== false && !this.#stopping) this.#watchPlugins();
    this.options.onReloaded?.();
    return { ok: true };
  }

  /** SIGHUP: re-reads the config and the TLS certificates; a broken one is refused and the last good one keeps serving. */
  hangup(): void {
    this.#reloadDetached();
    this.parts.tls?.reload();
  }

  /** Routes as the admin API shows them. */
  routesView(): unknown {
    return this.parts.live.current.table.routes.map((route) => ({
      name: route.name,
      match: route.config.match,
      service: route.config.service,
      stripPrefix: route.config.stripPrefix,
      auth: route.config.auth ?? null,
      rateLimit: route.config.rateLimit ?? null,
      split: route.config.split ?? null,
      cors: route.config.cors ?? null,
      ipAllow: route.config.ipAllow ?? null,
      ipDeny: route.config.ipDeny ?? null,
      // Names only: a configured value may be a credential for the upstream.
      requestHeaders: headerTransformView(route.config.requestHeaders),
      responseHeaders: headerTransformView(route.config.responseHeaders),
      addPrefix: route.config.addPrefix ?? null,
      compression: route.config.compression ?? null,
    }));
  }

  /**
   * Stops accepting, drains in-flight requests and open WebSocket connections (no new upgrade is accepted) for at
   * most `gateway.shutdownTimeout`, then closes everything.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#serving = false;
    this.#stopWatching();
    this.#stopWatchingPlugins();
    const closed = once(this.publicServer, 'close');
    const { shutdownTimeout } = this.parts.live.current.config.gateway;
    await Promise.all([
      this.#connections.drain(shutdownTimeout),
      this.#webSockets.drain(shutdownTimeout),
    ]);
    this.#connections.closeAll();
    await closed;
    this.adminServer.closeAllConnections();
    await new Promise<void>((resolve) => this.adminServer.close(() => resolve()));
    // Whatever still runs after the drain deadline is cut off rather than waited for.
    await this.parts.close(this.#inFlight > 0);
  }
}
