/** The one rule for URLs edgeway connects to (instances from config or registration, JWKS): http(s), no credentials. */

/** Why `value` is not a usable http(s) URL, or undefined when it is. */
export function httpUrlProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return 'url must be an absolute URL';
  const url = new URL(value);
  // WHATWG URL parsing refuses http(s) URLs without a host, so the scheme check also guarantees one.
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'url must use http or https';
  // Credentials in a URL would be logged and shown on the dashboard (and fetch refuses such URLs).
  if (url.username !== '' || url.password !== '')
    return 'url must not carry credentials (user:password@)';
  return undefined;
}
