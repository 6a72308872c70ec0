/** Request-target normalisation (RFC 3986 6.2.2): the one path every route decision and upstream sees. */

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HEX = '0123456789ABCDEF';

/** Why a request target was refused. */
export type PathError = 'invalid_target' | 'invalid_percent_encoding';

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * Decodes percent-encoded unreserved characters and upper-cases every other escape (RFC 3986 6.2.2.1-2).
 * `%2F` stays encoded, so an encoded slash never becomes a segment boundary.
 */
function normalizeEscapes(path: string): string | PathError {
  if (path.indexOf('%') === -1) return path;
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i] as string;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return 'invalid_percent_encoding';
    const decoded = String.fromCharCode(hi * 16 + lo);
    out += UNRESERVED.test(decoded) ? decoded : `%${HEX[hi]}${HEX[lo]}`;
    i += 2;
  }
  return out;
}

/** RFC 3986 5.2.4 remove_dot_segments, on a path whose empty segments are already merged. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const output: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment === '..') output.pop();
    else if (segment !== '.') output.push(segment);
  }
  const last = segments[segments.length - 1];
  const trailing = segments.length > 1 && (last === '.' || last === '..') ? '/' : '';
  const joined = '/' + output.join('/');
  return trailing !== '' && !joined.endsWith('/') ? joined + trailing : joined;
}

/**
 * Normalises an origin-form path: escapes of unreserved characters decoded, `//` merged, dot-segments
 * removed. Returns the normalised path or why the target is refused.
 */
export function normalizePath(rawPath: string): string | PathError {
  if (rawPath.charCodeAt(0) !== 47 /* / */) return 'invalid_target';
  const unescaped = normalizeEscapes(rawPath);
  if (unescaped === 'invalid_percent_encoding') return unescaped;
  if (unescaped.indexOf('//') === -1 && unescaped.indexOf('/.') === -1) return unescaped;
  return removeDotSegments(unescaped.replace(/\/{2,}/g, '/'));
}
