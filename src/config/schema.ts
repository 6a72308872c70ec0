/** The config schema: the single source of truth for keys, defaults and types of edgeway's YAML. */
import { z } from 'zod';
import { duration } from './duration.js';
import { httpUrlProblem } from './http-url.js';
import { MAX_INSTANCE_CAPACITY, MAX_INSTANCE_WEIGHT } from './instance-limits.js';
import { TOKEN_PATTERN } from './http-token.js';
import { adaptiveConcurrencySchema } from './adaptive-concurrency-schema.js';
import { alertsSchema } from './alerts-schema.js';
import {
  addPrefixSchema,
  addressOrCidr,
  compressionSchema,
  corsSchema,
  requestHeadersSchema,
  responseHeadersSchema,
} from './policies-schema.js';

export { duration };

const httpUrl = z.string().superRefine((value, ctx) => {
  const problem = httpUrlProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const port = z.number().int().min(0).max(65535);
const hostPort = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  port: port.default(8080),
});

const tlsCert = z.strictObject({ cert: z.string().min(1), key: z.string().min(1) });
/** Let's Encrypt's directories by one word (`directory: staging` while testing a setup); any other value is a URL. */
export const ACME_DIRECTORIES = {
  production: 'https://acme-v02.api.letsencrypt.org/directory',
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

const acme = z.strictObject({
  email: z.string().min(1).optional(),
  domains: z
    .array(
      z
        .string()
        .min(1)
        .regex(/^[A-Za-z0-9.-]+$/, 'ACME domains are exact host names'),
    )
    .min(1)
    .optional(),
  directory: z.union([z.enum(['production', 'staging']), httpUrl]).default('production'),
  challenge: z.enum(['http-01', 'tls-alpn-01']).default('http-01'),
  ca: z.string().min(1).optional(),
  renewBefore: duration.default(30 * 86_400_000), // 30 days
});

const tls = z.strictObject({
  acme: acme.optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  redirectHttpPort: port.optional(),
  sni: z.array(tlsCert.extend({ hosts: z.array(z.string().min(1)).min(1) })).optional(),
});

const gateway = z.strictObject({
  listen: hostPort.default({ host: '0.0.0.0', port: 8080 }),
  tls: tls.optional(),
  trustedProxies: z.array(z.string().min(1)).default([]),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024), // 10 MiB
  maxHeaderBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * 1024), // 16 KiB, Node's default
  admin: z
    .strictObject({ host: z.string().min(1).default('127.0.0.1'), port: port.default(9901) })
    .default({ host: '127.0.0.1', port: 9901 }),
  shutdownTimeout: duration.default(10_000),
  /** The longest a plugin hook may take before the request is answered 500. */
  pluginTimeout: duration.default(50),
  /** A TLS listener offers h2 beside http/1.1 by ALPN (RFC 9113 3.2). */
  http2: z.boolean().default(true),
  /** The plaintext listener also takes HTTP/2 with prior knowledge (RFC 9113 3.3). */
  h2c: z.boolean().default(false),
  http2Limits: z
    .strictObject({
      maxConcurrentStreams: z.number().int().min(1).default(100),
      /** Client RST_STREAMs per second on one connection beyond which it gets GOAWAY (CVE-2023-44487). */
      maxResetsPerSecond: z.number().int().min(1).default(200),
      /** A connection with no frame either way for this long is closed with GOAWAY. */
      idleTimeout: duration.default(300_000),
    })
    .default({ maxConcurrentStreams: 100, maxResetsPerSecond: 200, idleTimeout: 300_000 }),
});

const issuer = z.strictObject({
  issuer: z.string().min(1),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  jwksUri: httpUrl.optional(),
});

const auth = z.strictObject({
  issuers: z.array(issuer).default([]),
  algorithms: z
    .array(
      z.enum([
        'RS256',
        'RS384',
        'RS512',
        'PS256',
        'PS384',
        'PS512',
        'ES256',
        'ES384',
        'ES512',
        'EdDSA',
      ]),
    )
    .min(1)
    .default(['RS256', 'ES256', 'EdDSA']),
  clockSkew: duration.default(30_000),
});

const instance = z.union([
  httpUrl,
  z.strictObject({
    url: httpUrl,
    weight: z.number().int().min(1).max(MAX_INSTANCE_WEIGHT).default(1),
    capacity: z.number().int().min(1).max(MAX_INSTANCE_CAPACITY).default(100),
  }),
]);

const policy = z.enum(['round-robin', 'weighted', 'least-request', 'ring-hash']);

/** The timing of active health checks, whatever they ask. */
interface HealthCheckTiming {
  readonly interval: number;
  readonly timeout: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
}

/** `http`: GET `path`, a 2xx passes. `grpc`: grpc.health.v1.Health/Check for `service` ('' is the whole server), SERVING passes. */
export type HealthCheck =
  | (HealthCheckTiming & { readonly type: 'http'; readonly path: string })
  | (HealthCheckTiming & { readonly type: 'grpc'; readonly service: string });

const healthCheck = z
  .strictObject({
    type: z.enum(['http', 'grpc']).default('http'),
    path: z.string().startsWith('/').optional(),
    service: z.string().optional(),
    interval: duration.default(5000),
    timeout: duration.default(1000),
    unhealthyThreshold: z.number().int().min(1).default(3),
    healthyThreshold: z.number().int().min(1).default(2),
  })
  .superRefine((check, ctx) => {
    if (check.type === 'http' && check.path === undefined)
      ctx.addIssue({ code: 'custom', path: ['path'], message: 'an http health check needs path' });
    if (check.type === 'grpc' && check.path !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['path'],
        message: 'path is for type http; a grpc check calls grpc.health.v1.Health/Check',
      });
    if (check.type === 'http' && check.service !== undefined)
      ctx.addIssue({ code: 'custom', path: ['service'], message: 'service is for type grpc' });
  })
  .transform(({ type, path, service, ...timing }): HealthCheck =>
    type === 'grpc'
      ? { type, service: service ?? '', ...timing }
      : { type, path: path as string, ...timing },
  );

const service = z.strictObject({
  /** How edgeway talks to instances: HTTP/1.1, HTTP/2 over TLS (ALPN), or HTTP/2 with prior knowledge. */
  protocol: z.enum(['http1', 'h2', 'h2c']).default('http1'),
  discovery: z.enum(['redis', 'static']).default('static'),
  instances: z.array(instance).default([]),
  loadBalancer: z
    .strictObject({
      policy: policy.default('least-request'),
      hashOn: z.string().min(1).optional(),
      slowStart: duration.optional(),
    })
    .default({ policy: 'least-request' }),
  healthCheck: healthCheck.optional(),
  outlierDetection: z
    .strictObject({
      consecutive5xx: z.number().int().min(1).default(5),
      baseEjectionTime: duration.default(30_000),
      maxEjectionPercent: z.number().int().min(0).max(100).default(50),
    })
    .optional(),
  timeouts: z
    .strictObject({ connect: duration.default(1000), request: duration.default(15_000) })
    .default({ connect: 1000, request: 15_000 }),
  retries: z
    .strictObject({
      attempts: z.number().int().min(0).max(10).default(2),
      // YAML reads a bare 502 as a number; both spellings mean the status.
      on: z
        .array(
          z.union([
            z.enum(['connect-failure', 'reset', 'timeout', '502', '503', '504']),
            z.literal([502, 503, 504]).transform((n) => String(n) as '502' | '503' | '504'),
          ]),
        )
        .default(['connect-failure', 'reset', '502', '503', '504']),
      perTryTimeout: duration.optional(),
      backoff: duration.default(25),
    })
    .optional(),
  circuitBreaker: z
    .strictObject({
      maxConnections: z.number().int().min(1).default(1024),
      maxPendingRequests: z.number().int().min(1).default(1024),
    })
    .optional(),
  adaptiveConcurrency: adaptiveConcurrencySchema.optional(),
  // PEM paths for https instances: the CA to trust, a client certificate for mTLS, the name to verify.
  upstreamTls: z
    .strictObject({
      ca: z.string().min(1).optional(),
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      serverName: z.string().min(1).optional(),
      rejectUnauthorized: z.boolean().optional(),
    })
    .optional(),
});

const rateLimit = z.strictObject({
  capacity: z.number().int().min(1),
  refillPerSecond: z.number().positive(),
  key: z
    .string()
    .regex(
      new RegExp(`^(consumer|ip|route|header:${TOKEN_PATTERN})$`),
      'key must be consumer, ip, route or header:NAME',
    )
    .default('ip'),
  onStoreFailure: z.enum(['local', 'open', 'closed']).default('local'),
  mode: z.enum(['enforce', 'shadow']).default('enforce'),
});

const webSocketDefaults = { idleTimeout: 600_000, maxConnections: 10_000 }; // 10 min; per route and process
const webSocket = z.union([
  z.literal(true).transform(() => webSocketDefaults),
  z.strictObject({
    idleTimeout: duration.default(webSocketDefaults.idleTimeout),
    maxConnections: z.number().int().min(1).default(webSocketDefaults.maxConnections),
  }),
]);

const route = z.strictObject({
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._-]+$/, 'route names use letters, digits, ".", "_" and "-"'),
  match: z
    .strictObject({
      host: z.string().min(1).optional(),
      path: z.string().startsWith('/', 'path must start with "/"').default('/'),
      methods: z.array(z.string().regex(/^[A-Z]+$/, 'methods are upper-case tokens')).optional(),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .default({ path: '/' }),
  service: z.string().min(1),
  stripPrefix: z.boolean().default(false),
  auth: z
    .strictObject({
      required: z.boolean().default(true),
      scopes: z.array(z.string().min(1)).default([]),
      /** Token claims sent upstream as headers; names must start with x-edgeway- so client copies are always stripped. */
      claimHeaders: z
        .record(
          z
            .string()
            .regex(
              /^x-edgeway-[a-z0-9-]+$/,
              'claim header names are lower-case and start with x-edgeway-',
            ),
          z.string().min(1),
        )
        .default({}),
      /** Also accept an API key in `x-api-key` (edgeway apikeys issue). */
      apiKeys: z.boolean().default(false),
      /** RFC 6750 2.3: the bearer token may come as the `access_token` query parameter (browsers' WebSocket). */
      queryToken: z.boolean().default(false),
    })
    .optional(),
  rateLimit: rateLimit.optional(),
  split: z
    .array(z.strictObject({ service: z.string().min(1), weight: z.number().min(0).max(100) }))
    .optional(),
  timeouts: z.strictObject({ request: duration.optional() }).optional(),
  /** Retry POST/PATCH too (only when no body was streamed): for routes whose upstream deduplicates. */
  retryNonIdempotent: z.boolean().default(false),
  /** Plugins declared at the top level, run in this order after auth and rate limiting, each with its config. */
  plugins: z
    .array(z.strictObject({ name: z.string().min(1), config: z.unknown().optional() }))
    .default([]),
  /** `Upgrade: websocket` requests are relayed (RFC 6455); `true` takes the defaults. */
  websocket: webSocket.optional(),
  // Edge policies (SPEC "Edge policies (per route)"); their blocks live in policies-schema.ts.
  cors: corsSchema.optional(),
  ipAllow: z.array(addressOrCidr).min(1).optional(),
  ipDeny: z.array(addressOrCidr).min(1).optional(),
  requestHeaders: requestHeadersSchema.optional(),
  responseHeaders: responseHeadersSchema.optional(),
  addPrefix: addPrefixSchema.optional(),
  compression: compressionSchema.optional(),
  /** gRPC over HTTP/2: trailers relayed, grpc-timeout honoured, gateway refusals as gRPC status. */
  grpc: z.boolean().default(false),
  /** gRPC-Web (browsers): such calls go upstream as gRPC, answers carry their trailers in the body; implies grpc. */
  grpcWeb: z.boolean().default(false),
});

const plugin = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'plugin names use letters, digits, ".", "_" and "-"'),
  /** Path relative to the config file that declares it. */
  module: z.string().regex(/\.(mjs|js|ts)$/, 'a plugin module is a .mjs, .js or .ts file'),
});

const cidr = z
  .string()
  .refine(
    (value) => z.cidrv4().safeParse(value).success || z.cidrv6().safeParse(value).success,
    'entries are CIDRs such as 10.0.0.0/8 or fd00::/8',
  );

/** The whole config document, after merging every file of a config folder. */
export const configSchema = z.strictObject({
  gateway: gateway.default(gateway.parse({})),
  auth: auth.default(auth.parse({})),
  services: z
    .record(
      z.string().regex(/^[A-Za-z0-9._-]+$/, 'service names use letters, digits, ".", "_" and "-"'),
      service,
    )
    .default({}),
  routes: z.array(route).default([]),
  /** Registered (not static) instances must have an address in one of these networks; unset: any address. */
  discovery: z.strictObject({ allowedNetworks: z.array(cidr).min(1).optional() }).default({}),
  plugins: z.array(plugin).default([]),
  alerts: alertsSchema,
  telemetry: z
    .strictObject({
      /** Child spans for auth, rate limit and instance selection; off for high-volume sites. */
      stageSpans: z.boolean().default(true),
      /** Opt-in Server-Timing response header (time spent in the gateway and waiting on the upstream). */
      serverTiming: z.boolean().default(false),
    })
    .default({ stageSpans: true, serverTiming: false }),
  dashboard: z
    .strictObject({
      /** Link for a trace id in the dashboard, e.g. https://jaeger.example.com/trace/{traceId}. */
      traceUrl: z
        .url({ protocol: /^https?$/ })
        .refine((url) => url.includes('{traceId}'), 'traceUrl must contain {traceId}')
        .optional(),
    })
    .default({}),
});

/** Config as validated, with defaults applied and durations in milliseconds. */
export type Config = z.output<typeof configSchema>;
export type ServiceConfig = Config['services'][string];
export type RouteConfig = Config['routes'][number];
export type RateLimitConfig = z.output<typeof rateLimit>;
