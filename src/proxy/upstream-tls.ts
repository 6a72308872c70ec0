/** TLS to upstreams (`services.*.upstreamTls`): trusted CA, client certificate for mTLS, server name. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { ServiceConfig } from '../config/schema.js';

/** A service's `upstreamTls` block. */
export type UpstreamTlsConfig = NonNullable<ServiceConfig['upstreamTls']>;

/**
 * TLS options for undici's `connect`, with the PEM files read now (paths resolved against the working
 * directory). Only used for https origins; plain http origins ignore them.
 */
export function upstreamConnectOptions(config: UpstreamTlsConfig): ConnectionOptions {
  const read = (path: string): string => readFileSync(resolve(path), 'utf8');
  return {
    ...(config.ca !== undefined ? { ca: read(config.ca) } : {}),
    ...(config.cert !== undefined ? { cert: read(config.cert) } : {}),
    ...(config.key !== undefined ? { key: read(config.key) } : {}),
    ...(config.serverName !== undefined ? { servername: config.serverName } : {}),
    // Verification stays on unless the config turns it off explicitly.
    rejectUnauthorized: config.rejectUnauthorized ?? true,
  };
}

/** A stable key for pool sharing: services with the same TLS settings share connections to an origin. */
export function upstreamTlsKey(config: UpstreamTlsConfig | undefined): string {
  if (config === undefined) return '';
  return JSON.stringify([
    config.ca,
    config.cert,
    config.key,
    config.serverName,
    config.rejectUnauthorized ?? true,
  ]);
}
