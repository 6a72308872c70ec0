/** TLS to upstreams (`services.*.upstreamTls`): trusted CA, client certificate for mTLS, server name. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { ServiceConfig } from '../config/schema.js';

/** A service's `upstreamTls` block. */
export type UpstreamTlsConfig = NonNullable<ServiceConfig['upstreamTls']>;

/** A service's upstream TLS with its PEM files read: what pools, upgrades and health checks connect with. */
export interface UpstreamTls {
  /** Options for undici's `connect` and `tls.connect`; only https origins use them. */
  readonly connect: ConnectionOptions;
  /**
   * Equal for equal settings and equal file contents, so services share pools by it, and a certificate
   * rotated at the same path (then a reload) gets new pools instead of the ones holding the old one.
   */
  readonly key: string;
}

/** Reads the PEM files now (paths resolved against the working directory): call at config load, never per request. */
export function loadUpstreamTls(config: UpstreamTlsConfig): UpstreamTls {
  const read = (path: string): string => readFileSync(resolve(path), 'utf8');
  const connect: ConnectionOptions = {
    ...(config.ca !== undefined ? { ca: read(config.ca) } : {}),
    ...(config.cert !== undefined ? { cert: read(config.cert) } : {}),
    ...(config.key !== undefined ? { key: read(config.key) } : {}),
    ...(config.serverName !== undefined ? { servername: config.serverName } : {}),
    // Verification stays on unless the config turns it off explicitly.
    rejectUnauthorized: config.rejectUnauthorized ?? true,
  };
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        connect.ca,
        connect.cert,
        connect.key,
        connect.servername,
        connect.rejectUnauthorized,
      ]),
    )
    .digest('base64url');
  return { connect, key };
}
