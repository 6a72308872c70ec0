/** TLS termination for the public listener: default and SNI certificates, hot-reloaded from their PEM files. */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { Server } from 'node:http';
import {
  createServer as createHttpsServer,
  type Server as HttpsServer,
  type ServerOptions as HttpsServerOptions,
} from 'node:https';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { CreateServer } from './public-listener.js';
import type { AcmeManager } from './acme/manager.js';
import { listenRedirect } from './tls-redirect.js';
import { SniTable } from './tls-sni.js';

/** The `gateway.tls` block. */
export type TlsConfig = NonNullable<Config['gateway']['tls']>;

/** PEM text of one certificate chain and its private key. */
interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** Everything read from disk for one generation of certificates. */
interface TlsMaterial {
  readonly fallback: KeyPair | undefined;
  readonly sni: SniTable<SecureContext>;
}

/** Timing of the certificate file watch. */
export interface TlsWatchOptions {
  /** How often the files are stat'ed; polling survives editors and tools that replace files by rename. */
  readonly intervalMs?: number;
  /** Quiet time before reloading, so a cert and key written one after the other load together. */
  readonly debounceMs?: number;
}

/** Every PEM file a `gateway.tls` block names, resolved against the working directory. */
export function tlsFiles(config: TlsConfig): string[] {
  const paths = [
    config.cert,
    config.key,
    ...(config.sni ?? []).flatMap((entry) => [entry.cert, entry.key]),
  ];
  return [...new Set(paths.filter((p): p is string => p !== undefined).map((p) => resolve(p)))];
}

function readPair(certPath: string, keyPath: string): KeyPair {
  const pair = {
    cert: readFileSync(resolve(certPath), 'utf8'),
    key: readFileSync(resolve(keyPath), 'utf8'),
  };
  // Building a context parses both PEMs and checks that the key belongs to the certificate.
  createSecureContext(pair);
  return pair;
}

/**
 * Reads and checks every certificate; throws with the failing file named if one is missing or broken.
 * With ACME and no files, there is no default pair: the ACME placeholder stands in.
 */
export function loadTlsMaterial(config: TlsConfig): TlsMaterial {
  const sni = (config.sni ?? []).map((entry) => {
    try {
      return { hosts: entry.hosts, pair: readPair(entry.cert, entry.key) };
    } catch (err) {
      throw new Error(`TLS certificate ${entry.cert} / ${entry.key}: ${(err as Error).message}`);
    }
  });
  let fallback: KeyPair | undefined = sni[0]?.pair;
  if (config.cert !== undefined && config.key !== undefined) {
    try {
      fallback = readPair(config.cert, config.key);
    } catch (err) {
      throw new Error(`TLS certificate ${config.cert} / ${config.key}: ${(err as Error).message}`);
    }
  }
  if (fallback === undefined && config.acme === undefined)
    throw new Error('gateway.tls needs cert and key, at least one sni entry, or acme');
  return {
    fallback,
    sni: new SniTable(
      sni.map((entry) => ({ hosts: entry.hosts, value: createSecureContext(entry.pair) })),
    ),
  };
}

// RFC 8737 3: a validation handshake offers only "acme-tls/1". OpenSSL runs the ALPN callback before
// the certificate callback (SNICallback) of the same handshake, so the socket is marked here and read there.
const ACME_TLS = Symbol('edgeway.acme-tls');
type AcmeSocket = TLSSocket & { [ACME_TLS]?: boolean };

/** The ALPN choice when edgeway answers TLS-ALPN-01 itself: the challenge, else h2 where offered, else HTTP/1.1. */
function alpnSelector(http2: boolean) {
  return function selectAlpn(
    this: TLSSocket,
    { protocols }: { servername: string; protocols: string[] },
  ): string | undefined {
    if (protocols.includes('acme-tls/1')) {
      (this as AcmeSocket)[ACME_TLS] = true;
      return 'acme-tls/1';
    }
    if (http2 && protocols.includes('h2')) return 'h2';
    // An ALPNCallback must pick one of the client's protocols, or the handshake fails (no_application_protocol).
    return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
  };
}

/**
 * Owns the live certificates of one HTTPS listener, their file watch and the redirect listener. A reload swaps the default context with
 * `server.setSecureContext` and the SNI table by assignment: handshakes already done keep their session, so
 * open connections are never dropped; a broken replacement is logged and the previous certificates stay.
 */
export class TlsTerminator {
  private material: TlsMaterial;
  private server: HttpsServer | Http2SecureServer | undefined;
  private redirect: Server | undefined;
  private stopWatch: () => void = () => undefined;

  constructor(
    private readonly config: TlsConfig,
    private readonly logger: Logger,
    private readonly acme?: AcmeManager,
  ) {
    this.material = loadTlsMaterial(config);
  }

  /** The default pair: the configured files, else the ACME placeholder. */
  #fallback(material: TlsMaterial): KeyPair | undefined {
    return material.fallback ?? this.acme?.placeholder;
  }

  /**
   * Options to spread into `https.createServer`: the default pair and the SNI lookup (files first, then ACME).
   * `http2`: the server also speaks h2, which the TLS-ALPN-01 selector must keep choosing.
   */
  serverOptions(http2 = false): HttpsServerOptions {
    const acme = this.acme;
    const material = (): TlsMaterial => this.material;
    return {
      ...this.#fallback(this.material),
      // No context (an unlisted name) leaves the handshake on the default one: the server's current context.
      SNICallback: function sniCallback(
        this: TLSSocket,
        servername: string,
        callback: (err: Error | null, context?: SecureContext) => void,
      ) {
        if (acme !== undefined && (this as AcmeSocket)[ACME_TLS] === true) {
          acme.alpnContext(servername).then(
            (context) => callback(null, context),
            (err: Error) => callback(err),
          );
          return;
        }
        callback(null, material().sni.lookup(servername) ?? acme?.context(servername));
      } as HttpsServerOptions['SNICallback'],
      ...(acme?.challenge === 'tls-alpn-01' ? { ALPNCallback: alpnSelector(http2) } : {}),
    };
  }

  /**
   * Creates the TLS server (for `createPublicServer`) and remembers it: a reload replaces its default context.
   * Options with HTTP/2 settings make it offer `h2` and `http/1.1` by ALPN (RFC 7301, RFC 9113 3.2).
   */
  readonly createServer: CreateServer = (options, listener) => {
    const server =
      options.settings === undefined
        ? createHttpsServer({ ...options, ...this.serverOptions() }, listener)
        : createSecureServer(
            { ...options, ...this.serverOptions(true), allowHTTP1: true },
            listener as unknown as (...args: unknown[]) => void,
          );
    this.server = server;
    return server;
  };

  /**
   * Starts watching the files and, with `redirectHttpPort`, the plain-HTTP redirect listener on `host`,
   * pointing at the bound HTTPS port. Rejects if the redirect port cannot be bound.
   */
  async start(host: string, httpsPort: number, watch: TlsWatchOptions = {}): Promise<void> {
    this.watch(watch);
    const acme = this.acme;
    const challenge =
      acme?.challenge === 'http-01' ? (token: string) => acme.httpChallenge(token) : undefined;
    if (this.config.redirectHttpPort !== undefined)
      this.redirect = await listenRedirect(
        this.config.redirectHttpPort,
        host,
        httpsPort,
        challenge,
      );
    await acme?.start();
  }

  /** The bound port of the redirect listener, if one runs. */
  get redirectPort(): number | undefined {
    return (this.redirect?.address() as AddressInfo | null)?.port;
  }

  /** Re-reads every file; returns whether the new certificates are now serving. */
  reload(): boolean {
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.config);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message },
        'TLS certificate reload rejected; still serving the previous certificates',
      );
      return false;
    }
    const fallback = this.#fallback(next);
    if (fallback !== undefined) this.server?.setSecureContext({ ...fallback });
    this.material = next;
    this.logger.info({ files: tlsFiles(this.config) }, 'TLS certificates reloaded');
    return true;
  }

  private watch(options: TlsWatchOptions = {}): void {
    const intervalMs = options.intervalMs ?? 1000;
    const debounceMs = options.debounceMs ?? 200;
    let timer: NodeJS.Timeout | undefined;
    const changed = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => this.reload(), debounceMs);
    };
    const files = tlsFiles(this.config);
    for (const file of files) watchFile(file, { interval: intervalMs, persistent: false }, changed);
    this.stopWatch = () => {
      clearTimeout(timer);
      for (const file of files) unwatchFile(file, changed);
    };
  }

  /** Stops watching the files, ACME's timers and the redirect listener. */
  async close(): Promise<void> {
    this.stopWatch();
    await this.acme?.close();
    const redirect = this.redirect;
    if (redirect === undefined) return;
    redirect.closeAllConnections();
    await new Promise<void>((done) => redirect.close(() => done()));
  }
}
