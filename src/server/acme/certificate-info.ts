/** What `certs list`, the metric and the renewal schedule read from a certificate PEM. */
import { X509Certificate } from 'node:crypto';

/** The leaf certificate's facts. */
export interface CertificateInfo {
  readonly issuer: string;
  readonly serial: string;
  /** Epoch ms. */
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Reads the first certificate of a PEM chain (the leaf, RFC 8555 9.1). */
export function certificateInfo(pem: string): CertificateInfo {
  const leaf = new X509Certificate(pem);
  const issuerCn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.issuer)?.[1];
  return {
    issuer: issuerCn ?? leaf.issuer.replace(/\n/g, ', '),
    serial: leaf.serialNumber,
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
  };
}
