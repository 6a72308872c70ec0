/** A self-signed stand-in for a domain whose first certificate is still being ordered. */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { StoredCertificate } from './store.js';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * Lets the listener start and complete handshakes before any CA answered (clients see an untrusted
 * certificate, not a refused connection); replaced as soon as the real one is stored.
 */
export async function placeholderCertificate(
  domains: readonly string[],
): Promise<StoredCertificate> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: webcrypto
        .getRandomValues(new Uint8Array(8))
        .reduce((hex, b) => hex + b.toString(16).padStart(2, '0'), '01'),
      name: 'CN=edgeway placeholder',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 7 * 86_400_000),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.SubjectAlternativeNameExtension(
          domains.map((value) => ({ type: 'dns' as const, value })),
        ),
      ],
    },
    webcrypto as unknown as Crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}
