/** The certificates of a set of domains as the store holds them, for `edgeway certs list` on any host. */
import type { CertificateView } from '../../telemetry/certificates.js';
import { certificateInfo } from './certificate-info.js';
import type { AcmeStore } from './store.js';

/** Issuer, serial, expiry and the last order outcome of each domain; never a key. */
export async function storedCertificates(
  store: AcmeStore,
  domains: readonly string[],
): Promise<CertificateView[]> {
  return Promise.all(
    domains.map(async (domain): Promise<CertificateView> => {
      const [stored, status] = await Promise.all([store.certificate(domain), store.status(domain)]);
      const info = stored === undefined ? undefined : certificateInfo(stored.cert);
      const state: CertificateView['state'] =
        status?.state === 'failed'
          ? info === undefined
            ? 'failed'
            : 'renewing-failed'
          : (status?.state ?? (info === undefined ? 'pending' : 'valid'));
      return {
        domain,
        state,
        ...(info === undefined
          ? {}
          : { issuer: info.issuer, serial: info.serial, notAfter: info.notAfter }),
        ...(status?.lastError === undefined ? {} : { lastError: status.lastError }),
        ...(status?.retryAt === undefined ? {} : { retryAt: status.retryAt }),
      };
    }),
  );
}
