/** ACME state in Redis: every gateway instance serves the same certificates and answers any challenge. */
import { listen } from '../../security/channel.js';
import type { RedisClient } from '../../store/backend.js';
import { defineScript, type ScriptCommand } from '../../store/lua-script.js';
import type { AcmeStore, OrderStatus, StoredCertificate } from './store.js';

const PREFIX = 'edgeway:{acme}:';
/** Pushes a domain name (`*` after a reconnect: recheck all) whenever a certificate is saved or a renewal is asked for. */
export const ACME_CHANNEL = `${PREFIX}changes`;

function parse<T>(text: string | null): T | undefined {
  return text === null ? undefined : (JSON.parse(text) as T);
}

/** {@link AcmeStore} on the backend's Redis connections. */
export class RedisAcmeStore implements AcmeStore {
  readonly kind = 'redis';
  readonly #unlock: ScriptCommand<number>;
  #stop: (() => Promise<void>) | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
  ) {
    this.#unlock = defineScript<number>(redis, 'edgewayAcmeUnlock', 'acme-unlock.lua', 1);
  }

  async accountKey(): Promise<string | undefined> {
    return (await this.redis.get(`${PREFIX}account-key`)) ?? undefined;
  }

  async saveAccountKey(pem: string): Promise<string> {
    await this.redis.set(`${PREFIX}account-key`, pem, 'NX');
    return (await this.accountKey()) ?? pem;
  }

  async certificate(domain: string): Promise<StoredCertificate | undefined> {
    return parse<StoredCertificate>(await this.redis.get(`${PREFIX}cert:${domain}`));
  }

  async saveCertificate(domain: string, certificate: StoredCertificate): Promise<void> {
    await this.redis.set(
      `${PREFIX}cert:${domain}`,
      JSON.stringify({ cert: certificate.cert, key: certificate.key }),
    );
    await this.redis.publish(ACME_CHANNEL, domain);
  }

  async status(domain: string): Promise<OrderStatus | undefined> {
    return parse<OrderStatus>(await this.redis.get(`${PREFIX}status:${domain}`));
  }

  async saveStatus(domain: string, status: OrderStatus): Promise<void> {
    await this.redis.set(`${PREFIX}status:${domain}`, JSON.stringify(status));
  }

  async httpChallenge(token: string): Promise<string | undefined> {
    return (await this.redis.get(`${PREFIX}http-01:${token}`)) ?? undefined;
  }

  async saveHttpChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void> {
    await this.redis.set(`${PREFIX}http-01:${token}`, keyAuthorization, 'PX', ttlMs);
  }

  async deleteHttpChallenge(token: string): Promise<void> {
    await this.redis.del(`${PREFIX}http-01:${token}`);
  }

  async alpnChallenge(domain: string): Promise<StoredCertificate | undefined> {
    return parse<StoredCertificate>(await this.redis.get(`${PREFIX}tls-alpn-01:${domain}`));
  }

  async saveAlpnChallenge(
    domain: string,
    certificate: StoredCertificate,
    ttlMs: number,
  ): Promise<void> {
    await this.redis.set(
      `${PREFIX}tls-alpn-01:${domain}`,
      JSON.stringify(certificate),
      'PX',
      ttlMs,
    );
  }

  async deleteAlpnChallenge(domain: string): Promise<void> {
    await this.redis.del(`${PREFIX}tls-alpn-01:${domain}`);
  }

  async lock(domain: string, holder: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.set(`${PREFIX}lock:${domain}`, holder, 'PX', leaseMs, 'NX')) === 'OK';
  }

  async unlock(domain: string, holder: string): Promise<void> {
    await this.#unlock(`${PREFIX}lock:${domain}`, holder);
  }

  async requestRenewal(domain: string): Promise<void> {
    await this.redis.set(`${PREFIX}renew:${domain}`, String(Date.now()));
    await this.redis.publish(ACME_CHANNEL, domain);
  }

  async renewalRequested(domain: string): Promise<boolean> {
    return (await this.redis.exists(`${PREFIX}renew:${domain}`)) > 0;
  }

  async clearRenewal(domain: string): Promise<void> {
    await this.redis.del(`${PREFIX}renew:${domain}`);
  }

  async watch(onChange: (domain: string) => void, onError: (err: unknown) => void): Promise<void> {
    this.#stop = await listen(this.subscriber, ACME_CHANNEL, {
      onMessage: onChange,
      onReconnect: () => onChange('*'),
      onError,
    });
  }

  async close(): Promise<void> {
    await this.#stop?.().catch(() => undefined);
  }
}
