/** The certificates a gateway serves as telemetry sees them: for the expiry metric and the certificate-expiry alert. */

/** One ACME domain. */
export interface CertificateView {
  readonly domain: string;
  /** pending: no certificate yet; ordering; valid; failed: no certificate and the last order failed; renewing-failed: serving the last good one. */
  readonly state: 'pending' | 'ordering' | 'valid' | 'failed' | 'renewing-failed';
  readonly issuer?: string;
  readonly serial?: string;
  /** Epoch ms of the served certificate's notAfter. */
  readonly notAfter?: number;
  readonly lastError?: string;
  /** Epoch ms of the next order attempt after a failure (back-off, or the CA's Retry-After). */
  readonly retryAt?: number;
}

/** Reads the current list; called at scrape and alert time only. */
export type CertificatesView = () => readonly CertificateView[];
