import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAndCompile } from '../../src/config/load.js';
import { checkOnly } from '../../src/pipeline/compile-checks.js';
import { formatDiagnostic } from '../../src/config/diagnostic.js';
import { MAX_CONFIG_FILE_BYTES } from '../../src/config/read-file.js';
import { runCli } from '../cli/cli-process.js';

const SERVICE = 'services:\n  orders:\n    instances: [http://127.0.0.1:9001]\n';
const ALIAS_BOMB = Array.from({ length: 10 }, (_, i) =>
  i === 0
    ? 'x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'
    : `x${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
).join('\n');

/** A config folder with `a.yaml` holding one service, plus whatever `setup` adds. */
function withFolder<T>(setup: (dir: string) => void, use: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-hostile-'));
  try {
    writeFileSync(join(dir, 'a.yaml'), SERVICE);
    setup(dir);
    return use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function errorsOf(setup: (dir: string) => void): string[] {
  return withFolder(setup, (dir) => {
    const loaded = loadAndCompile(dir, checkOnly);
    return loaded.ok
      ? []
      : loaded.diagnostics.map((d) =>
          formatDiagnostic({ ...d, file: d.file.slice(d.file.lastIndexOf('/') + 1) }),
        );
  });
}

function routesSharing(count: number): string {
  const routes = Array.from({ length: count }, (_, i) =>
    i === 0
      ? '  - { name: r0, service: orders, rateLimit: &rl { capacity: 10, refillPerSecond: 1 }, timeouts: &t { request: 5s } }'
      : `  - { name: r${i}, service: orders, rateLimit: *rl, timeouts: *t }`,
  );
  return `routes:\n${routes.join('\n')}\n`;
}

const cases: Array<{ name: string; setup: (dir: string) => void; errors: string[] }> = [
  {
    name: 'an alias bomb',
    setup: (dir) => writeFileSync(join(dir, 'b.yaml'), ALIAS_BOMB),
    errors: [
      'b.yaml: Excessive alias count indicates a resource exhaustion attack (at most 1000 alias expansions per file)',
    ],
  },
  {
    name: 'a symbolic link loop',
    setup: (dir) => symlinkSync(join(dir, 'b.yaml'), join(dir, 'b.yaml')),
    errors: ['b.yaml: cannot read config: a symbolic link loop'],
  },
  {
    name: 'a symbolic link to /dev/zero',
    setup: (dir) => symlinkSync('/dev/zero', join(dir, 'b.yaml')),
    errors: ['b.yaml: cannot read config: not a regular file'],
  },
  {
    name: 'a folder named like a config file',
    setup: (dir) => mkdirSync(join(dir, 'b.yaml')),
    errors: ['b.yaml: cannot read config: not a regular file'],
  },
  {
    name: 'a file over 1 MiB',
    setup: (dir) => writeFileSync(join(dir, 'b.yaml'), `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`),
    errors: [
      `b.yaml: larger than ${MAX_CONFIG_FILE_BYTES} bytes; split the config into a folder of smaller files`,
    ],
  },
  {
    name: 'an instance URL with credentials',
    setup: (dir) => writeFileSync(join(dir, 'a.yaml'), SERVICE.replace('//', '//user:secret@')),
    errors: [
      'a.yaml:3: services.orders.instances[0]: url must not carry credentials (user:password@)',
    ],
  },
  {
    name: "a static instance at the gateway's own admin port",
    setup: (dir) =>
      writeFileSync(
        join(dir, 'a.yaml'),
        'gateway: { admin: { port: 9911 } }\nservices:\n  orders:\n    instances: [http://localhost:9911]\n',
      ),
    errors: [
      "a.yaml:4: services.orders.instances[0]: http://localhost:9911 points at this gateway's own listener on port 9911",
    ],
  },
  {
    name: 'an instance URL of another scheme',
    setup: (dir) => writeFileSync(join(dir, 'a.yaml'), SERVICE.replace('http:', 'ftp:')),
    errors: ['a.yaml:3: services.orders.instances[0]: url must use http or https'],
  },
  {
    name: 'a JWKS URL with credentials',
    setup: (dir) =>
      writeFileSync(
        join(dir, 'b.yaml'),
        'auth:\n  issuers:\n    - { issuer: https://idp.example, audience: api, jwksUri: "https://u:p@idp.example/jwks" }\n',
      ),
    errors: ['b.yaml:3: auth.issuers[0].jwksUri: url must not carry credentials (user:password@)'],
  },
  {
    name: 'a key repeated in one mapping',
    setup: (dir) => writeFileSync(join(dir, 'b.yaml'), 'routes: []\nroutes: []\n'),
    errors: ['b.yaml:2: Map keys must be unique'],
  },
  {
    name: "one anchor reused on 200 routes (more than yaml's default of 100 aliases)",
    setup: (dir) => writeFileSync(join(dir, 'b.yaml'), routesSharing(200)),
    errors: [],
  },
];

for (const c of cases) {
  test(`config input: ${c.name}`, () => {
    assert.deepEqual(errorsOf(c.setup), c.errors);
  });
}

const cli: Array<{ name: string; setup: (dir: string) => void; stderr: RegExp }> = [
  {
    name: 'an instance URL with credentials',
    setup: (dir) => writeFileSync(join(dir, 'a.yaml'), SERVICE.replace('//', '//user:secret@')),
    stderr: /a\.yaml:3: services\.orders\.instances\[0\]: url must not carry credentials/,
  },
  {
    name: 'a symbolic link to /dev/zero',
    setup: (dir) => symlinkSync('/dev/zero', join(dir, 'b.yaml')),
    stderr: /b\.yaml: cannot read config: not a regular file/,
  },
  // Passes the schema; only the compiler that start-up and reload run finds it, so check runs it too.
  {
    name: 'a trusted proxy that is no address',
    setup: (dir) =>
      writeFileSync(join(dir, 'b.yaml'), 'gateway:\n  trustedProxies: [nonsense/99]\n'),
    stderr: /b\.yaml:2: gateway\.trustedProxies\[0\]: "nonsense\/99" is not an IP address or CIDR/,
  },
];

for (const c of cli) {
  test(`edgeway check refuses ${c.name} with exit 1`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeway-hostile-'));
    writeFileSync(join(dir, 'a.yaml'), SERVICE);
    c.setup(dir);
    const run = runCli(['check', '--config', dir]);
    try {
      assert.equal(await run.exited(), 1);
      assert.match(run.stderr(), c.stderr);
      assert.doesNotMatch(run.stdout(), /config OK/);
    } finally {
      await run.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
