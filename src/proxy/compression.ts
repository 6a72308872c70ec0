/** Response compression: gzip or br through node:zlib, streaming, negotiated per RFC 9110 12.5.3. */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { constants, createBrotliCompress, createGzip } from 'node:zlib';
import type { CompressionConfig } from '../config/policies-schema.js';
import type { RouteConfig } from '../config/schema.js';
import type { Stage } from '../request/context.js';
import type {
  CompressionPolicy,
  ContentCoding,
  ResponseCompression,
} from '../request/policy-state.js';

// Chosen by CPU per response (bench/compression-cpu.ts, README "Edge policies"): br quality 3 costs about
// what gzip does on a 10 KB JSON body and sends 35% fewer bytes; gzip level 1 costs half of level 4 and a
// quarter of level 6 at 100 KB for 4% and 12% more bytes, and is what clients without br get.
const BROTLI_QUALITY = 3;
const GZIP_LEVEL = 1;
// 256 KiB window: the memory a stream holds stays of the order of gzip's, whatever the body's length.
const BROTLI_WINDOW_BITS = 18;
const NEGOTIATION_CACHE = 256;
// Longer values are negotiated every time: a client cannot fill the cache with 16 KiB keys.
const CACHEABLE_LENGTH = 128;

/** Compiles a route's compression config. */
export function compileCompression(config: CompressionConfig): CompressionPolicy {
  const exactTypes = new Set<string>();
  const typePrefixes: string[] = [];
  const typeSuffixes: Array<readonly [string, string]> = [];
  for (const type of config.types) {
    const slash = type.indexOf('/');
    const sub = type.slice(slash + 1);
    if (sub === '*') typePrefixes.push(type.slice(0, slash + 1));
    else if (sub.startsWith('*+')) typeSuffixes.push([type.slice(0, slash + 1), sub.slice(1)]);
    else exactTypes.add(type);
  }
  return {
    encodings: config.encodings,
    minBytes: config.minBytes,
    exactTypes,
    typePrefixes,
    typeSuffixes,
    negotiated: new Map(),
  };
}

function parseAcceptEncoding(
  header: string,
  offered: readonly ContentCoding[],
): ContentCoding | undefined {
  const weights = new Map<string, number>();
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.split(';');
    let weight = 1;
    for (const param of params) {
      const [key = '', value = ''] = param.split('=');
      if (key.trim().toLowerCase() === 'q') weight = Number(value.trim()) || 0;
    }
    const name = coding.trim().toLowerCase();
    weights.set(name === 'x-gzip' ? 'gzip' : name, weight);
  }
  let best: ContentCoding | undefined;
  let bestWeight = 0;
  // Offered codings in preference order; a higher q wins, a tie goes to the route's preference.
  for (const coding of offered) {
    const weight = weights.get(coding) ?? weights.get('*') ?? 0;
    if (weight > bestWeight) {
      best = coding;
      bestWeight = weight;
    }
  }
  return best;
}

/** The coding to use for a client's Accept-Encoding (RFC 9110 12.5.3: q=0 refuses; `*` stands for the rest). */
export function negotiate(
  policy: CompressionPolicy,
  header: string | undefined,
): ContentCoding | undefined {
  if (header === undefined || header === '') return undefined;
  const known = policy.negotiated.get(header);
  if (known !== undefined) return known ?? undefined;
  const coding = parseAcceptEncoding(header, policy.encodings);
  if (header.length > CACHEABLE_LENGTH) return coding;
  if (policy.negotiated.size >= NEGOTIATION_CACHE) policy.negotiated.clear();
  policy.negotiated.set(header, coding ?? null);
  return coding;
}

/** The compression stage: negotiates the coding from the request; the forwarder compresses eligible responses. */
export function buildCompressionStage(route: RouteConfig): Stage | undefined {
  if (route.compression === undefined) return undefined;
  const policy = compileCompression(route.compression);
  const choices = {
    br: { policy, encoding: 'br' },
    gzip: { policy, encoding: 'gzip' },
    none: { policy, encoding: undefined },
  } as const satisfies Record<string, ResponseCompression>;
  return function compression(ctx) {
    ctx.compression = choices[negotiate(policy, ctx.req.headers['accept-encoding']) ?? 'none'];
  };
}

function compressibleType(policy: CompressionPolicy, contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (policy.exactTypes.has(type)) return true;
  for (const prefix of policy.typePrefixes) if (type.startsWith(prefix)) return true;
  for (const [prefix, suffix] of policy.typeSuffixes)
    if (type.startsWith(prefix) && type.endsWith(suffix)) return true;
  return false;
}

/** Whether a response may be compressed at all, whatever the client accepts. */
function eligible(
  policy: CompressionPolicy,
  method: string,
  status: number,
  headers: IncomingHttpHeaders,
): boolean {
  // HEAD has no body; 204/304 none either; 206 is a byte range of the unencoded representation.
  if (method === 'HEAD' || status < 200 || status === 204 || status === 206 || status === 304)
    return false;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  // RFC 9111 5.2.2.6: no-transform forbids intermediaries to change the content coding.
  const cacheControl = headers['cache-control'];
  if (cacheControl !== undefined && /(^|[\s,])no-transform($|[\s,])/i.test(cacheControl))
    return false;
  const type = headers['content-type'];
  if (type === undefined || !compressibleType(policy, type)) return false;
  const length = headers['content-length'];
  return length === undefined || Number(length) >= policy.minBytes;
}

function addVary(headers: IncomingHttpHeaders): void {
  const vary = headers.vary;
  if (vary === undefined || vary.trim() === '') headers.vary = 'Accept-Encoding';
  else if (vary.trim() !== '*' && !/(^|,)\s*accept-encoding\s*(,|$)/i.test(vary))
    headers.vary = `${vary}, Accept-Encoding`;
}

function encoder(
  encoding: ContentCoding,
  eventStream: boolean,
  length: number | undefined,
): Transform {
  // An event stream is flushed on every upstream write, so each event reaches the client when it is sent.
  if (encoding === 'gzip')
    return createGzip({
      level: GZIP_LEVEL,
      flush: eventStream ? constants.Z_SYNC_FLUSH : constants.Z_NO_FLUSH,
    });
  const params: Record<number, number> = {
    [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
    [constants.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS,
    [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
  };
  if (length !== undefined) params[constants.BROTLI_PARAM_SIZE_HINT] = length;
  return createBrotliCompress({
    params,
    flush: eventStream ? constants.BROTLI_OPERATION_FLUSH : constants.BROTLI_OPERATION_PROCESS,
  });
}

/**
 * Prepares an upstream response for the client: for an eligible one, adds `Vary: Accept-Encoding` to
 * `headers` (edited in place, before they are written) and, when the client accepts a coding, sets
 * Content-Encoding, drops Content-Length and Accept-Ranges, weakens a strong ETag (RFC 9110 8.8.3: the
 * encoded bytes are another representation) and returns the compressed stream. Either end failing ends
 * the other: an upstream error reaches the relay through the encoder, and a client gone destroys the body.
 */
export function compressResponse(
  compression: ResponseCompression,
  method: string,
  status: number,
  headers: IncomingHttpHeaders,
  body: Readable,
): Readable {
  const { policy, encoding } = compression;
  if (!eligible(policy, method, status, headers)) return body;
  addVary(headers);
  if (encoding === undefined) return body;
  const length =
    headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  const type = headers['content-type'] as string;
  const stream = encoder(encoding, type.toLowerCase().startsWith('text/event-stream'), length);
  headers['content-encoding'] = encoding;
  delete headers['content-length'];
  delete headers['accept-ranges'];
  const etag = headers.etag;
  if (etag !== undefined && etag.startsWith('"')) headers.etag = `W/${etag}`;
  body.on('error', (err: Error) => stream.destroy(err));
  stream.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  body.pipe(stream);
  return stream;
}
