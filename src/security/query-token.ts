/** RFC 6750 2.3: a bearer token sent as the `access_token` query parameter, read by auth and removed before forwarding. */

const NAME = 'access_token';

/** The parameters of `query` (with its leading "?", or "") as raw `name=value` strings. */
function params(query: string): string[] {
  return query.length <= 1 ? [] : query.slice(1).split('&');
}

function isAccessToken(param: string): boolean {
  return (
    param.startsWith(NAME) &&
    (param.length === NAME.length || param.charCodeAt(NAME.length) === 61) /* = */
  );
}

/**
 * The token of the first `access_token` parameter, form-decoded (RFC 6750 2.3 sends it
 * application/x-www-form-urlencoded); undefined when there is none, it is empty or it does not decode.
 */
export function queryAccessToken(query: string): string | undefined {
  const param = params(query).find(isAccessToken);
  if (param === undefined) return undefined;
  try {
    const token = decodeURIComponent(param.slice(NAME.length + 1).replaceAll('+', ' '));
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

/** `query` without any `access_token` parameter, byte for byte otherwise ("" when nothing is left). */
export function withoutAccessToken(query: string): string {
  if (!query.includes(NAME)) return query;
  const kept = params(query).filter((param) => !isAccessToken(param));
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}
