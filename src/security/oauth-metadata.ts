/** RFC 8414 authorization server metadata, so standard OAuth clients discover edgeway's token endpoint and keys. */

/** RFC 8414 3: the well-known path of the metadata document. */
export const OAUTH_METADATA_PATH = '/.well-known/oauth-authorization-server';

/** A Host value that may become part of a URL: a DNS name or IPv4 address, or a bracketed IPv6 literal, with an optional port. */
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The public origin a client reached edgeway at, or undefined when the Host cannot be part of a URL. */
export function publicOrigin(proto: string, host: string | undefined): string | undefined {
  if (host === undefined || !HOST.test(host)) return undefined;
  return `${proto === 'https' ? 'https' : 'http'}://${host.toLowerCase()}`;
}

/**
 * The metadata document for `origin`. RFC 8414 3.3: `issuer` must equal the URL the document was fetched
 * under, so it is the public origin; edgeway's tokens themselves carry `iss: edgeway` (the SPEC's issuer name).
 */
export function authorizationServerMetadata(origin: string): Record<string, unknown> {
  return {
    issuer: origin,
    token_endpoint: `${origin}/oauth/token`,
    jwks_uri: `${origin}/.well-known/jwks.json`,
    grant_types_supported: ['client_credentials'],
    // RFC 6749 2.3.1: HTTP Basic, or client_id and client_secret in the form body.
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    // RFC 8414 2 requires the member; edgeway has no authorization endpoint, so it supports no response type.
    response_types_supported: [],
  };
}
