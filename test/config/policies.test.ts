/** Config errors of the edge policies, with their exact messages, file and line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { formatDiagnostic } from '../../src/config/diagnostic.js';

function errorsOf(yaml: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-cfg-'));
  try {
    writeFileSync(join(dir, 'a.yaml'), yaml);
    const loaded = loadConfig(dir);
    return loaded.ok
      ? []
      : loaded.diagnostics.map((d) => formatDiagnostic({ ...d, file: 'a.yaml' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A config whose only route (line 5 onwards) has the policy lines given. */
const route = (lines: string): string =>
  `services:\n  svc:\n    instances: [http://127.0.0.1:9001]\nroutes:\n  - name: r\n    service: svc\n${lines}`;

const cases: Array<{ name: string; lines: string; errors: string[] }> = [
  {
    name: 'origins "*" with credentials',
    lines: '    cors: { origins: ["*"], credentials: true }\n',
    errors: [
      'a.yaml:7: routes[0].cors.origins: origins "*" cannot be combined with credentials: true (browsers refuse credentialed responses to any origin); list the origins',
    ],
  },
  {
    name: 'an origin with a path or a trailing slash',
    lines:
      '    cors:\n      origins: ["https://app.example.com/", "https://App.example.com", "null"]\n',
    errors: [
      'a.yaml:8: routes[0].cors.origins[0]: "https://app.example.com/" is not an origin as browsers send it: scheme://host[:port], lower-case, no path or trailing slash',
      'a.yaml:8: routes[0].cors.origins[1]: "https://App.example.com" is not an origin as browsers send it: scheme://host[:port], lower-case, no path or trailing slash',
      'a.yaml:8: routes[0].cors.origins[2]: "null" is not an origin as browsers send it: scheme://host[:port], lower-case, no path or trailing slash',
    ],
  },
  {
    name: 'an address list entry that is no address or CIDR',
    lines:
      '    ipAllow: [10.0.0.0/33, 2001:db8::/129, example.com, 10.0.0.1]\n    ipDeny: [10.0.0.0/8/1]\n',
    errors: [
      'a.yaml:7: routes[0].ipAllow[0]: "10.0.0.0/33" is not an IP address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)',
      'a.yaml:7: routes[0].ipAllow[1]: "2001:db8::/129" is not an IP address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)',
      'a.yaml:7: routes[0].ipAllow[2]: "example.com" is not an IP address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)',
      'a.yaml:8: routes[0].ipDeny[0]: "10.0.0.0/8/1" is not an IP address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)',
    ],
  },
  {
    name: 'requestHeaders touching x-edgeway-*, hop-by-hop and edgeway-written headers',
    lines:
      '    requestHeaders:\n      set: { X-Edgeway-Sub: admin, x_edgeway_scopes: all, connection: close, x-forwarded-for: 1.2.3.4 }\n      remove: [transfer-encoding, x-request-id, "bad name"]\n',
    errors: [
      "a.yaml:8: routes[0].requestHeaders.set.X-Edgeway-Sub: x-edgeway-sub: x-edgeway-* headers are edgeway's own (identity headers) and cannot be set or removed",
      "a.yaml:8: routes[0].requestHeaders.set.x_edgeway_scopes: x_edgeway_scopes: x-edgeway-* headers are edgeway's own (identity headers) and cannot be set or removed",
      'a.yaml:8: routes[0].requestHeaders.set.connection: connection: hop-by-hop headers (RFC 9110 7.6.1) end at the gateway and cannot be set or removed',
      'a.yaml:8: routes[0].requestHeaders.set.x-forwarded-for: x-forwarded-for: edgeway writes this header itself and it cannot be set or removed',
      'a.yaml:9: routes[0].requestHeaders.remove[0]: transfer-encoding: hop-by-hop headers (RFC 9110 7.6.1) end at the gateway and cannot be set or removed',
      'a.yaml:9: routes[0].requestHeaders.remove[1]: x-request-id: edgeway writes this header itself and it cannot be set or removed',
      'a.yaml:9: routes[0].requestHeaders.remove[2]: "bad name" is not a header name (RFC 9110 5.1)',
    ],
  },
  {
    name: 'responseHeaders: set twice, set and removed, framing headers, a value with a line break',
    lines:
      '    responseHeaders:\n      set: { X-Frame-Options: DENY, x-frame-options: SAMEORIGIN, content-length: "5", x-note: "a\\r\\nb" }\n      remove: [x-frame-options, content-encoding]\n',
    errors: [
      'a.yaml:8: routes[0].responseHeaders.set.x-note: header values are visible characters without line breaks or surrounding spaces (RFC 9110 5.5)',
      'a.yaml:8: routes[0].responseHeaders.set.x-frame-options: x-frame-options is set twice',
      'a.yaml:8: routes[0].responseHeaders.set.content-length: content-length: edgeway writes this header itself and it cannot be set or removed',
      'a.yaml:9: routes[0].responseHeaders.remove[0]: x-frame-options is both set and removed',
      'a.yaml:9: routes[0].responseHeaders.remove[1]: content-encoding: edgeway writes this header itself and it cannot be set or removed',
    ],
  },
  {
    name: 'responseHeaders touching Access-Control-* on a CORS route',
    lines:
      '    cors: { origins: ["https://app.example.com"] }\n    responseHeaders:\n      set: { Access-Control-Allow-Origin: "*" }\n      remove: [access-control-max-age, x-powered-by]\n',
    errors: [
      'a.yaml:9: routes[0].responseHeaders.set.Access-Control-Allow-Origin: access-control-allow-origin: cors writes the Access-Control-* headers on this route; configure them under cors',
      'a.yaml:10: routes[0].responseHeaders.remove[0]: access-control-max-age: cors writes the Access-Control-* headers on this route; configure them under cors',
    ],
  },
  {
    name: 'addPrefix that is not whole, normalised segments',
    lines: '    addPrefix: /v2/\n',
    errors: [
      'a.yaml:7: routes[0].addPrefix: addPrefix is a path of whole segments such as /v2: it starts with "/", has no trailing "/", no dot-segments, no query and no percent-encoding',
    ],
  },
  {
    name: 'compression with an unknown coding or a content type with parameters',
    lines: '    compression: { encodings: [zstd], types: ["text/html; charset=utf-8"] }\n',
    errors: [
      'a.yaml:7: routes[0].compression.encodings[0]: Invalid option: expected one of "br"|"gzip"',
      'a.yaml:7: routes[0].compression.types[0]: a content type such as application/json, text/* or application/*+json (lower-case, no parameters)',
    ],
  },
  {
    name: 'compression that is neither a boolean nor settings',
    lines: '    compression: yes\n',
    errors: [
      'a.yaml:7: routes[0].compression: compression is true, false or { encodings, minBytes, types }',
    ],
  },
];

for (const c of cases) {
  test(`config error: ${c.name}`, () => {
    assert.deepEqual(errorsOf(route(c.lines)), c.errors);
  });
}

for (const [prefix, ok] of [
  ['/v2', true],
  ['/api/internal', true],
  ['v2', false],
  ['/v2/../x', false],
  ['/%41', false],
  ['/v2?x=1', false],
  ['/', false],
] as const) {
  test(`addPrefix ${prefix} is ${ok ? 'accepted' : 'refused'}`, () => {
    assert.equal(errorsOf(route(`    addPrefix: "${prefix}"\n`)).length, ok ? 0 : 1);
  });
}

test('every policy of the SPEC example loads', () => {
  const errors = errorsOf(
    route(`    cors: { origins: ["https://app.example.com"], methods: [GET, POST], headers: [authorization, content-type], exposeHeaders: [x-request-id], credentials: true, maxAge: 10m }
    ipAllow: [203.0.113.0/24]
    requestHeaders: { set: { x-api-version: "2" }, remove: [cookie] }
    responseHeaders: { set: { strict-transport-security: max-age=63072000 }, remove: [server, x-powered-by] }
    addPrefix: /v2
    compression: true
`),
  );
  assert.deepEqual(errors, []);
});

test('compression: true takes the defaults, false is off', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-cfg-'));
  try {
    writeFileSync(
      join(dir, 'a.yaml'),
      `services:\n  svc:\n    instances: [http://127.0.0.1:9001]\nroutes:\n  - { name: on, service: svc, compression: true }\n  - { name: off, service: svc, compression: false }\n`,
    );
    const loaded = loadConfig(dir);
    assert.equal(loaded.ok, true);
    if (!loaded.ok) return;
    assert.deepEqual(loaded.config.routes[0]?.compression?.encodings, ['br', 'gzip']);
    assert.equal(loaded.config.routes[0]?.compression?.minBytes, 1024);
    assert.equal(loaded.config.routes[1]?.compression, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
