import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAndCompile } from '../../src/config/load.js';
import { checkOnly } from '../../src/pipeline/compile-checks.js';
import { formatDiagnostic } from '../../src/config/diagnostic.js';

function errorsOf(files: Record<string, string>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-cfg-'));
  try {
    for (const [name, yaml] of Object.entries(files)) writeFileSync(join(dir, name), yaml);
    const loaded = loadAndCompile(dir, checkOnly);
    return loaded.ok
      ? []
      : loaded.diagnostics.map((d) =>
          formatDiagnostic({ ...d, file: d.file.slice(d.file.lastIndexOf('/') + 1) }),
        );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SERVICE = 'services:\n  orders:\n    instances: [http://127.0.0.1:9001]\n';

const cases: Array<{
  name: string;
  files: Record<string, string>;
  errors: Array<string | RegExp>;
}> = [
  {
    name: 'a health check: path is for http checks (which need it), service for grpc ones',
    files: {
      'a.yaml': `services:
  mixed:
    protocol: h2c
    instances: [http://127.0.0.1:9001]
    healthCheck: { type: grpc, path: /healthz }
  pathless:
    instances: [http://127.0.0.1:9001]
    healthCheck: { interval: 1s, service: orders }
`,
    },
    errors: [
      /services\.mixed\.healthCheck\.path: path is for type http/,
      /services\.pathless\.healthCheck\.path: an http health check needs path/,
      /services\.pathless\.healthCheck\.service: service is for type grpc/,
    ],
  },
  {
    name: 'a grpc health check on an http1 service is a config error',
    files: {
      'a.yaml':
        'services:\n  plain:\n    instances: [http://127.0.0.1:9001]\n    healthCheck: { type: grpc }\n',
    },
    errors: [/services\.plain\.healthCheck\.type: a grpc health check needs protocol h2 or h2c/],
  },
  {
    name: 'a grpc route on an http1 service is a config error',
    files: {
      'a.yaml': SERVICE,
      'b.yaml': 'routes:\n  - name: greeter\n    service: orders\n    grpc: true\n',
    },
    errors: [/routes\[0\]\.grpc: grpc needs service "orders" to use protocol h2 or h2c, not http1/],
  },
  {
    name: 'a grpcWeb route on an http1 service is a config error (gRPC-Web goes upstream as gRPC)',
    files: {
      'a.yaml': SERVICE,
      'b.yaml': 'routes:\n  - name: web\n    service: orders\n    grpcWeb: true\n',
    },
    errors: [
      /routes\[0\]\.grpcWeb: grpcWeb needs service "orders" to use protocol h2 or h2c, not http1/,
    ],
  },
  {
    name: 'a grpc route on an h2c service is valid',
    files: {
      'a.yaml': 'services:\n  orders:\n    protocol: h2c\n    instances: [http://127.0.0.1:9001]\n',
      'b.yaml': 'routes:\n  - name: greeter\n    service: orders\n    grpc: true\n',
    },
    errors: [],
  },
  {
    name: 'unknown service names the route, file and line',
    files: {
      'a.yaml': SERVICE,
      'b.yaml': 'routes:\n  - name: ok\n    service: orders\n  - name: typo\n    service: ordrs\n',
    },
    errors: ['b.yaml:5: routes[1].service: unknown service "ordrs"'],
  },
  {
    name: 'bad duration',
    files: { 'a.yaml': SERVICE + '    timeouts: { connect: 5 seconds }\n' },
    errors: [/^a\.yaml:4: services\.orders\.timeouts\.connect: /],
  },
  {
    name: 'unknown key points at the key',
    files: {
      'a.yaml': SERVICE + 'routes:\n  - name: r\n    service: orders\n    stripprefix: true\n',
    },
    errors: ['a.yaml:7: routes[0].stripprefix: unknown key'],
  },
  {
    name: 'a service defined in two files',
    files: { 'a.yaml': SERVICE, 'b.yaml': SERVICE },
    errors: [/^b\.yaml:2: services\.orders: service "orders" is also defined in \S*a\.yaml$/],
  },
  {
    name: 'YAML syntax error',
    files: { 'a.yaml': 'services:\n  orders: [\n' },
    errors: [/^a\.yaml:[23]: /],
  },
  {
    name: 'ring-hash without hashOn, split over 100%, consumer key without auth',
    files: {
      'a.yaml':
        SERVICE +
        '    loadBalancer: { policy: ring-hash }\nroutes:\n  - name: r\n    service: orders\n    split: [{ service: orders, weight: 60 }, { service: orders, weight: 50 }]\n    rateLimit: { capacity: 1, refillPerSecond: 1, key: consumer }\n',
    },
    errors: [
      'a.yaml:4: services.orders.loadBalancer.hashOn: ring-hash needs hashOn: header:NAME, ip or cookie:NAME',
      'a.yaml:8: routes[0].split: split weights add up to 110%, more than 100%',
      'a.yaml:9: routes[0].rateLimit.key: key consumer needs auth.required on the route (the consumer is the token sub)',
    ],
  },
  {
    name: 'a static instance weight over 10000',
    files: {
      'a.yaml':
        'services:\n  orders:\n    instances: [{ url: http://127.0.0.1:9001, weight: 20000 }]\n',
    },
    errors: [
      'a.yaml:3: services.orders.instances[0].weight: Too big: expected number to be <=10000',
    ],
  },
  {
    name: 'a static instance capacity over 1000000',
    files: {
      'a.yaml':
        'services:\n  orders:\n    instances: [{ url: http://127.0.0.1:9001, capacity: 2000000 }]\n',
    },
    errors: [
      'a.yaml:3: services.orders.instances[0].capacity: Too big: expected number to be <=1000000',
    ],
  },
  {
    name: 'a dashboard trace link without {traceId}',
    files: { 'a.yaml': 'dashboard:\n  traceUrl: https://jaeger.example.com/trace/\n' },
    errors: ['a.yaml:2: dashboard.traceUrl: traceUrl must contain {traceId}'],
  },
  {
    name: 'a dashboard trace link that is not http(s)',
    files: { 'a.yaml': 'dashboard:\n  traceUrl: javascript:alert(1)//{traceId}\n' },
    errors: ['a.yaml:2: dashboard.traceUrl: Invalid URL'],
  },
  {
    name: 'ACME http-01 without redirectHttpPort, and without any domain',
    files: {
      'a.yaml':
        'gateway:\n  tls:\n    acme: { email: ops@example.com }\n' +
        SERVICE +
        'routes:\n  - { name: r, match: { host: "*.example.com" }, service: orders }\n',
    },
    errors: [
      'a.yaml:3: gateway.tls.acme.challenge: http-01 is answered on gateway.tls.redirectHttpPort: set it (80 for a public CA), or use challenge: tls-alpn-01',
      'a.yaml:3: gateway.tls.acme.domains: acme needs domains: list them, or give routes an exact match.host',
    ],
  },
  {
    name: 'ACME directory neither a word nor a URL, renewBefore not a duration',
    files: {
      'a.yaml':
        'gateway:\n  tls:\n    acme: { directory: prod, renewBefore: 30 days, challenge: tls-alpn-01, domains: [a.example.com] }\n' +
        SERVICE,
    },
    errors: [
      /^a\.yaml:3: gateway\.tls\.acme\.directory: /,
      /^a\.yaml:3: gateway\.tls\.acme\.renewBefore: invalid duration "30 days"/,
    ],
  },
];

for (const c of cases) {
  test(`config error: ${c.name}`, () => {
    const errors = errorsOf(c.files);
    assert.equal(errors.length, c.errors.length, errors.join('\n'));
    c.errors.forEach((expected, i) =>
      typeof expected === 'string'
        ? assert.equal(errors[i], expected)
        : assert.match(errors[i] as string, expected),
    );
  });
}

test('a valid folder merges services and routes from every file, in file order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-cfg-'));
  writeFileSync(join(dir, '10-services.yaml'), SERVICE);
  writeFileSync(
    join(dir, '20-routes.yaml'),
    'routes:\n  - { name: a, service: orders, match: { path: /a } }\n',
  );
  writeFileSync(
    join(dir, '30-more.yml'),
    'routes:\n  - { name: b, service: orders, match: { path: /b } }\n',
  );
  const loaded = loadAndCompile(dir, checkOnly);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(loaded.ok, true);
  if (!loaded.ok) return;
  assert.deepEqual(
    loaded.config.routes.map((r) => r.name),
    ['a', 'b'],
  );
  assert.equal(loaded.config.services.orders?.timeouts.connect, 1000);
  assert.ok(Object.isFrozen(loaded.config.routes[0]));
});

test('broken references are listed together with schema errors, not only after they are fixed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-cfg-'));
  writeFileSync(
    join(dir, 'a.yaml'),
    SERVICE +
      '    timeouts: { connect: soon }\nroutes:\n  - { name: x, service: ordrs }\n  - { name: x, service: orders }\n',
  );
  const loaded = loadAndCompile(dir, checkOnly);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(loaded.ok, false);
  if (loaded.ok) return;
  const errors = loaded.diagnostics.map((d) => `${d.line}: ${d.path}: ${d.message}`);
  assert.ok(
    errors.some((e) => e.startsWith('4: services.orders.timeouts.connect: invalid duration')),
    errors.join('\n'),
  );
  assert.ok(errors.includes('6: routes[0].service: unknown service "ordrs"'), errors.join('\n'));
  assert.ok(
    errors.includes('7: routes[1].name: duplicate route name "x" (also routes[0])'),
    errors.join('\n'),
  );
});
