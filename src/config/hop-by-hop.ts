/** The header fields that end at the gateway in both directions: the one list config checks and the proxy share. */

/** RFC 9110 7.6.1 hop-by-hop fields (and HTTP/2's connection-specific ones, RFC 9113 8.2.2). */
export const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
] as const;
