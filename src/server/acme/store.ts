/** Where ACME state lives: the account key, certificates, challenge answers, order locks and status. */

/** A certificate chain and its private key, PEM. */
export interface StoredCertificate {
  readonly cert: string;
  readonly key: string;
}

/** The last order outcome of a domain, shared so that `edgeway certs list` shows it from any host. */
export interface OrderStatus {
  readonly state: 'ordering' | 'valid' | 'failed';
  readonly lastError?: string;
  /** Epoch ms of the outcome. */
  readonly at: number;
  /** After a failure: epoch ms of the next attempt, by whichever instance (the back-off is shared). */
  readonly retryAt?: number;
  /** Failed attempts in a row, across instances. */
  readonly failures?: number;
}

/**
 * One interface over Redis (shared by every gateway instance) and `EDGEWAY_DATA_DIR` files (one
 * instance). Nothing here logs: the account key and certificate keys never reach a logger.
 */
export interface AcmeStore {
  readonly kind: 'redis' | 'files';
  /** The account key, PEM. */
  accountKey(): Promise<string | undefined>;
  /** Stores `pem` unless a key exists; returns the key that is stored afterwards (first writer wins). */
  saveAccountKey(pem: string): Promise<string>;
  certificate(domain: string): Promise<StoredCertificate | undefined>;
  /** Stores a certificate and tells every instance. */
  saveCertificate(domain: string, certificate: StoredCertificate): Promise<void>;
  status(domain: string): Promise<OrderStatus | undefined>;
  saveStatus(domain: string, status: OrderStatus): Promise<void>;
  /** HTTP-01 key authorization for `token` (RFC 8555 8.3). */
  httpChallenge(token: string): Promise<string | undefined>;
  saveHttpChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void>;
  deleteHttpChallenge(token: string): Promise<void>;
  /** The TLS-ALPN-01 certificate for `domain` (RFC 8737 3). */
  alpnChallenge(domain: string): Promise<StoredCertificate | undefined>;
  saveAlpnChallenge(domain: string, certificate: StoredCertificate, ttlMs: number): Promise<void>;
  deleteAlpnChallenge(domain: string): Promise<void>;
  /** Takes the order lock of `domain` for `leaseMs` unless someone holds it; returns whether it did. */
  lock(domain: string, holder: string, leaseMs: number): Promise<boolean>;
  unlock(domain: string, holder: string): Promise<void>;
  /** Asks for a renewal of `domain` now, done by whichever instance takes the lock first. */
  requestRenewal(domain: string): Promise<void>;
  /** Whether a renewal was asked for `domain` and no attempt has started since. */
  renewalRequested(domain: string): Promise<boolean>;
  /** Marks the renewal request taken up (an attempt starts). */
  clearRenewal(domain: string): Promise<void>;
  /** Calls `onChange(domain)` when another process saved a certificate or asked for a renewal (`*`: recheck every domain). */
  watch(onChange: (domain: string) => void, onError: (err: unknown) => void): Promise<void>;
  close(): Promise<void>;
}
