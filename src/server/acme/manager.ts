/** Keeps one certificate per ACME domain: loads it from the store, orders and renews it, serves it by SNI. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { ACME_DIRECTORIES, type Config } from '../../config/schema.js';
import type { CertificateView } from '../../telemetry/certificates.js';
import { certificateInfo, type CertificateInfo } from './certificate-info.js';
import { AcmeOrderError, orderCertificate, type OrderOptions } from './order.js';
import { placeholderCertificate } from './placeholder.js';
import type { AcmeStore, StoredCertificate } from './store.js';

/** The `gateway.tls.acme` block. */
export type AcmeConfig = NonNullable<NonNullable<Config['gateway']['tls']>['acme']>;

/** Timing of orders and retries; the defaults suit a public CA. */
export interface AcmeTiming {
  /** First retry after a failed order, doubled per failure up to `maxRetryMs`, milliseconds (default 60 s). */
  readonly retryMs?: number;
  /** Longest wait between attempts (default 6 h). */
  readonly maxRetryMs?: number;
  /** Lease of the order lock: an instance that dies mid-order blocks the others this long (default 10 min). */
  readonly leaseMs?: number;
  /** How often an instance that lost the lock looks for the winner's certificate (default 2 s). */
  readonly waitMs?: number;
}

interface Domain {
  readonly name: string;
  stored: StoredCertificate | undefined;
  info: CertificateInfo | undefined;
  context: SecureContext | undefined;
  lastError: string | undefined;
  retryAt: number | undefined;
  state: CertificateView['state'];
  timer: NodeJS.Timeout | undefined;
  running: boolean;
  again: boolean;
}

// setTimeout holds at most 2^31-1 ms (24.8 days); longer waits are re-evaluated at this cap.
const MAX_TIMER_MS = 24 * 3_600_000;
const START_LOAD_MS = 2000;

function newDomain(name: string): Domain {
  return {
    name,
    stored: undefined,
    info: undefined,
    context: undefined,
    lastError: undefined,
    retryAt: undefined,
    state: 'pending',
    timer: undefined,
    running: false,
    again: false,
  };
}

/** Resolves `directory` (`production`, `staging` or a URL) to the directory URL. */
export function directoryUrl(directory: AcmeConfig['directory']): string {
  return directory === 'production' || directory === 'staging'
    ? ACME_DIRECTORIES[directory]
    : directory;
}

/**
 * Orders run in the background: start-up never waits for a CA. Until a domain has a certificate, its
 * handshakes get a self-signed placeholder; a failed renewal keeps the last good certificate serving.
 */
export class AcmeManager {
  readonly #domains = new Map<string, Domain>();
  readonly #order: OrderOptions;
  readonly #timing: Required<AcmeTiming>;
  readonly #placeholder: SecureContext;
  #closed = false;
  /** Orders this process completed (tests count them). */
  ordersPlaced = 0;

  /** Creates the manager with its placeholder certificate; nothing is fetched or ordered before {@link start}. */
  static async create(
    config: AcmeConfig,
    domains: readonly string[],
    store: AcmeStore,
    logger: Logger,
    timing: AcmeTiming = {},
  ): Promise<AcmeManager> {
    return new AcmeManager(
      config,
      domains,
      store,
      logger,
      timing,
      await placeholderCertificate(domains),
    );
  }

  private constructor(
    private readonly config: AcmeConfig,
    domains: readonly string[],
    private readonly store: AcmeStore,
    private readonly logger: Logger,
    timing: AcmeTiming,
    /** The self-signed pair served for a domain without a certificate, and as the default without `tls.cert`. */
    readonly placeholder: StoredCertificate,
  ) {
    this.#placeholder = createSecureContext(placeholder);
    for (const name of domains) this.#domains.set(name, newDomain(name));
    this.#order = {
      directoryUrl: directoryUrl(config.directory),
      email: config.email,
      challenge: config.challenge,
      ca: config.ca === undefined ? undefined : readFileSync(resolve(config.ca), 'utf8'),
    };
    this.#timing = {
      retryMs: 60_000,
      maxRetryMs: 6 * 3_600_000,
      leaseMs: 10 * 60_000,
      waitMs: 2000,
      ...timing,
    };
  }

  /** The challenge type this gateway answers. */
  get challenge(): AcmeConfig['challenge'] {
    return this.config.challenge;
  }

  /** Loads stored certificates (waiting at most 2 s for the store), then checks every domain in the background. */
  async start(): Promise<void> {
    // listen() subscribes at once when Redis is ready, else on its `ready`: start-up never waits for Redis.
    const failed = (err: unknown): void =>
      this.logger.warn(
        { err: (err as Error).message },
        'ACME: cannot subscribe to certificate changes',
      );
    await this.store.watch((name) => this.#changed(name), failed).catch(failed);
    const loads = Promise.allSettled(
      [...this.#domains.values()].map((domain) => this.#load(domain)),
    );
    await Promise.race([loads, new Promise((done) => setTimeout(done, START_LOAD_MS).unref())]);
    for (const domain of this.#domains.values()) this.#check(domain);
  }

  /** The context for `servername`: its certificate, the placeholder while none exists, undefined for other names. */
  context(servername: string): SecureContext | undefined {
    const domain = this.#domains.get(servername) ?? this.#domains.get(servername.toLowerCase());
    return domain === undefined ? undefined : (domain.context ?? this.#placeholder);
  }

  /** The TLS-ALPN-01 certificate (RFC 8737 3) for `servername`, only for domains this gateway orders. */
  async alpnContext(servername: string): Promise<SecureContext | undefined> {
    const name = servername.toLowerCase();
    if (!this.#domains.has(name)) return undefined;
    const challenge = await this.store.alpnChallenge(name);
    return challenge === undefined ? undefined : createSecureContext(challenge);
  }

  /** The HTTP-01 key authorization for `token` (RFC 8555 8.3), whichever instance published it. */
  httpChallenge(token: string): Promise<string | undefined> {
    return this.store.httpChallenge(token);
  }

  /** Every domain with its certificate's expiry and the state of its orders. */
  certificates(): CertificateView[] {
    return [...this.#domains.values()].map((d) => ({
      domain: d.name,
      state: d.state,
      ...(d.info === undefined
        ? {}
        : { issuer: d.info.issuer, serial: d.info.serial, notAfter: d.info.notAfter }),
      ...(d.lastError === undefined ? {} : { lastError: d.lastError }),
      ...(d.retryAt === undefined ? {} : { retryAt: d.retryAt }),
    }));
  }

  /** A reload's domain list: new domains are loaded or ordered, dropped ones stop serving and renewing. */
  setDomains(domains: readonly string[]): void {
    const wanted = new Set(domains);
    for (const [name, domain] of this.#domains) {
      if (wanted.has(name)) continue;
      clearTimeout(domain.timer);
      this.#domains.delete(name);
    }
    for (const name of wanted) {
      if (this.#domains.has(name)) continue;
      const domain = newDomain(name);
      this.#domains.set(name, domain);
      this.#check(domain);
    }
  }

  /** Asks every instance to renew `domain` (all domains when undefined) now; returns the domains asked for. */
  async renew(domain?: string): Promise<string[]> {
    const names =
      domain === undefined
        ? [...this.#domains.keys()]
        : [domain].filter((name) => this.#domains.has(name));
    for (const name of names) await this.store.requestRenewal(name);
    if (this.store.kind === 'files') for (const name of names) this.#changed(name);
    return names;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const domain of this.#domains.values()) clearTimeout(domain.timer);
    await this.store.close();
  }

  #changed(name: string): void {
    if (name === '*') for (const domain of this.#domains.values()) this.#check(domain);
    else {
      const domain = this.#domains.get(name);
      if (domain !== undefined) this.#check(domain);
    }
  }

  /** Installs the stored certificate if it differs from the one serving. */
  async #load(domain: Domain): Promise<void> {
    const stored = await this.store.certificate(domain.name);
    if (stored === undefined || stored.cert === domain.stored?.cert) return;
    try {
      const context = createSecureContext(stored);
      domain.info = certificateInfo(stored.cert);
      domain.stored = stored;
      domain.context = context;
      domain.state = 'valid';
      this.logger.info(
        {
          domain: domain.name,
          serial: domain.info.serial,
          notAfter: new Date(domain.info.notAfter).toISOString(),
        },
        'ACME certificate loaded',
      );
    } catch (err) {
      this.logger.warn(
        { domain: domain.name, err: (err as Error).message },
        'ACME: the stored certificate is unusable; ordering a new one',
      );
    }
  }

  #schedule(domain: Domain, delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(domain.timer);
    domain.timer = setTimeout(
      () => this.#check(domain),
      Math.min(Math.max(delayMs, 0), MAX_TIMER_MS),
    );
    domain.timer.unref();
  }

  /** Loads the stored certificate and orders a new one when it is missing, due, or a renewal was asked for. */
  #check(domain: Domain): void {
    if (this.#closed || this.#domains.get(domain.name) !== domain) return;
    if (domain.running) {
      domain.again = true;
      return;
    }
    domain.running = true;
    domain.again = false;
    this.#checkNow(domain)
      .catch((err: Error) => {
        this.logger.warn(
          { domain: domain.name, err: err.message },
          'ACME: certificate check failed; retrying',
        );
        this.#schedule(domain, this.#timing.waitMs);
      })
      .finally(() => {
        domain.running = false;
        if (domain.again) this.#check(domain);
      });
  }

  /** Milliseconds until `domain` should be ordered: 0 when missing, due, or asked for; the shared back-off after a failure. */
  async #wait(domain: Domain): Promise<number> {
    if (await this.store.renewalRequested(domain.name)) return 0;
    const info = domain.info;
    // A renewBefore longer than the certificate lives (short-lived certificates) would reorder at once,
    // forever: renewal waits at least a third of the lifetime.
    const renewAt =
      info === undefined
        ? 0
        : info.notAfter -
          Math.min(this.config.renewBefore, ((info.notAfter - info.notBefore) * 2) / 3);
    const status = await this.store.status(domain.name);
    const backoffUntil = status?.state === 'failed' ? (status.retryAt ?? 0) : 0;
    return Math.max(renewAt, backoffUntil) - Date.now();
  }

  async #checkNow(domain: Domain): Promise<void> {
    await this.#load(domain);
    const wait = await this.#wait(domain);
    if (wait > 0) return this.#schedule(domain, wait);
    const holder = randomUUID();
    // One instance orders a domain at a time (SET NX PX with a lease); the others wait for its result.
    if (!(await this.store.lock(domain.name, holder, this.#timing.leaseMs)))
      return this.#schedule(domain, this.#timing.waitMs);
    try {
      await this.#load(domain);
      const stillWait = await this.#wait(domain);
      if (stillWait > 0) return this.#schedule(domain, stillWait);
      await this.store.clearRenewal(domain.name);
      await this.#orderNow(domain);
    } finally {
      await this.store.unlock(domain.name, holder);
    }
  }

  async #orderNow(domain: Domain): Promise<void> {
    domain.state = 'ordering';
    await this.store.saveStatus(domain.name, { state: 'ordering', at: Date.now() });
    try {
      const issued = await orderCertificate(domain.name, this.store, this.#order);
      await this.store.saveCertificate(domain.name, issued);
      await this.store.saveStatus(domain.name, { state: 'valid', at: Date.now() });
      this.ordersPlaced++;
      domain.lastError = undefined;
      domain.retryAt = undefined;
      await this.#load(domain);
      this.#schedule(domain, await this.#wait(domain));
    } catch (err) {
      const failures =
        ((await this.store.status(domain.name).catch(() => undefined))?.failures ?? 0) + 1;
      domain.lastError = (err as Error).message;
      domain.state = domain.context === undefined ? 'failed' : 'renewing-failed';
      // Exponential back-off shared by every instance, never sooner than the CA's Retry-After (RFC 8555 6.6: rate limits send one).
      const backoff = Math.min(this.#timing.retryMs * 2 ** (failures - 1), this.#timing.maxRetryMs);
      const delay = Math.max(backoff, err instanceof AcmeOrderError ? (err.retryAfterMs ?? 0) : 0);
      domain.retryAt = Date.now() + delay;
      await this.store
        .saveStatus(domain.name, {
          state: 'failed',
          lastError: domain.lastError,
          at: Date.now(),
          retryAt: domain.retryAt,
          failures,
        })
        .catch(() => undefined);
      this.logger.warn(
        {
          domain: domain.name,
          err: domain.lastError,
          failures,
          retryInMs: delay,
          serving: domain.context === undefined ? 'placeholder' : 'last good certificate',
        },
        'ACME order failed',
      );
      this.#schedule(domain, delay);
    }
  }
}
