/** Schema blocks of the per-route edge policies: cors, ipAllow/ipDeny, header transforms, addPrefix, compression. */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration } from './duration.js';
import { HOP_BY_HOP } from './hop-by-hop.js';
import { TOKEN } from './http-token.js';

/** Headers edgeway itself writes upstream; a transform could only forge or break them. */
const EDGEWAY_REQUEST_HEADERS = [
  'host',
  'content-length',
  'expect',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'traceparent',
  'tracestate',
];
/** Headers edgeway itself writes to the client (framing, compression, the request id every answer carries). */
const EDGEWAY_RESPONSE_HEADERS = ['content-length', 'content-encoding', 'x-request-id'];

/** An address or CIDR, IPv4 or IPv6 (`::ffff:a.b.c.d/n` spellings included). */
export const addressOrCidr = z.string().refine(
  (entry) => {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || extra !== undefined) return false;
    return (
      bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))
    );
  },
  {
    error: (issue) =>
      `"${String(issue.input)}" is not an IP address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)`,
  },
);

/**
 * Why a transform may not touch `name` (lower-case, `_` read as `-` the way CGI-style stacks read it), or
 * undefined when it may.
 */
function refusal(name: string, owned: readonly string[]): string | undefined {
  const dashed = name.replaceAll('_', '-');
  if (dashed.startsWith('x-edgeway-'))
    return `${name}: x-edgeway-* headers are edgeway's own (identity headers) and cannot be set or removed`;
  if ((HOP_BY_HOP as readonly string[]).includes(dashed))
    return `${name}: hop-by-hop headers (RFC 9110 7.6.1) end at the gateway and cannot be set or removed`;
  if (owned.includes(dashed))
    return `${name}: edgeway writes this header itself and it cannot be set or removed`;
  return undefined;
}

// RFC 9110 5.5: a field value is visible characters, spaces and tabs, without leading or trailing whitespace.
const FIELD_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;

function headerTransform(owned: readonly string[]) {
  const value = z
    .union([z.string(), z.number()])
    .transform(String)
    .refine(
      (text) => FIELD_VALUE.test(text),
      'header values are visible characters without line breaks or surrounding spaces (RFC 9110 5.5)',
    );
  return z
    .strictObject({
      set: z.record(z.string(), value).default({}),
      remove: z.array(z.string()).default([]),
    })
    .superRefine((transform, ctx) => {
      const set = new Set<string>();
      for (const name of Object.keys(transform.set)) {
        const lower = name.toLowerCase();
        const problem = !TOKEN.test(name)
          ? `"${name}" is not a header name (RFC 9110 5.1)`
          : set.has(lower)
            ? `${lower} is set twice`
            : refusal(lower, owned);
        if (problem !== undefined)
          ctx.addIssue({ code: 'custom', path: ['set', name], message: problem });
        set.add(lower);
      }
      transform.remove.forEach((name, i) => {
        const lower = name.toLowerCase();
        const problem = !TOKEN.test(name)
          ? `"${name}" is not a header name (RFC 9110 5.1)`
          : set.has(lower)
            ? `${lower} is both set and removed`
            : refusal(lower, owned);
        if (problem !== undefined)
          ctx.addIssue({ code: 'custom', path: ['remove', i], message: problem });
      });
    });
}

/** `requestHeaders`: applied after edgeway's own request header rules. */
export const requestHeadersSchema = headerTransform(EDGEWAY_REQUEST_HEADERS);
/** `responseHeaders`: applied to proxied responses and edgeway's own answers. */
export const responseHeadersSchema = headerTransform(EDGEWAY_RESPONSE_HEADERS);
export type HeaderTransformConfig = z.output<typeof requestHeadersSchema>;

/** An origin the way a browser serialises it in `Origin` (Fetch standard): scheme://host[:port]. */
const origin = z.string().refine(
  (text) => {
    if (text === '*') return true;
    try {
      return new URL(text).origin === text;
    } catch {
      return false;
    }
  },
  {
    error: (issue) =>
      `"${String(issue.input)}" is not an origin as browsers send it: scheme://host[:port], lower-case, no path or trailing slash`,
  },
);

/** `cors`: the Fetch standard's CORS protocol answered at the edge. */
export const corsSchema = z
  .strictObject({
    origins: z.array(origin).min(1),
    methods: z
      .array(z.string().regex(/^[A-Z]+$/, 'methods are upper-case tokens'))
      .min(1)
      .default(['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE']),
    headers: z.array(z.string().regex(TOKEN, 'not a header name (RFC 9110 5.1)')).default([]),
    exposeHeaders: z.array(z.string().regex(TOKEN, 'not a header name (RFC 9110 5.1)')).default([]),
    credentials: z.boolean().default(false),
    maxAge: duration.optional(),
  })
  .superRefine((cors, ctx) => {
    // Fetch standard 3.2.5: a credentialed response with Access-Control-Allow-Origin `*` is refused by every browser.
    if (cors.credentials && cors.origins.includes('*'))
      ctx.addIssue({
        code: 'custom',
        path: ['origins'],
        message:
          'origins "*" cannot be combined with credentials: true (browsers refuse credentialed responses to any origin); list the origins',
      });
  });

/** A path prefix with whole, already-normalised segments: `/v2`, `/api/internal`. */
export const addPrefixSchema = z
  .string()
  .refine(
    (text) => /^(\/[A-Za-z0-9\-_~!$&'()*+,;=:@]+)+$/.test(text) && !/\/\.\.?(\/|$)/.test(text),
    'addPrefix is a path of whole segments such as /v2: it starts with "/", has no trailing "/", no dot-segments, no query and no percent-encoding',
  );

/** Content types compressed by default: text and the structured syntaxes that compress well. */
const COMPRESSIBLE_TYPES = [
  'text/*',
  'application/json',
  'application/*+json',
  'application/javascript',
  'application/xml',
  'application/*+xml',
  'image/svg+xml',
];

const mediaRange = z
  .string()
  .regex(
    /^[a-z0-9!#$&^_.+-]+\/([a-z0-9!#$&^_.+-]+|\*|\*\+[a-z0-9!#$&^_.-]+)$/,
    'a content type such as application/json, text/* or application/*+json (lower-case, no parameters)',
  );

/** `compression`: true for the defaults, false for none, or the settings (each error at its own key). */
export const compressionSchema = z.preprocess(
  (value) => (value === true ? {} : value === false ? undefined : value),
  z
    .strictObject(
      {
        // Preference order when the client accepts both equally.
        encodings: z
          .array(z.enum(['br', 'gzip']))
          .min(1)
          .default(['br', 'gzip']),
        minBytes: z.number().int().min(0).default(1024), // 1 KiB: smaller bodies barely shrink
        types: z.array(mediaRange).min(1).default(COMPRESSIBLE_TYPES),
      },
      {
        error: (issue) =>
          issue.code === 'invalid_type'
            ? 'compression is true, false or { encodings, minBytes, types }'
            : undefined,
      },
    )
    .optional(),
);
export type CompressionConfig = NonNullable<z.output<typeof compressionSchema>>;
