/** Config checks for TLS: certificate files must exist, parse and pair with their keys, reported at key paths. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createCa, type CertFiles, type TestCa } from '../helpers/certs.js';

describe('TLS config checks', () => {
  let ca: TestCa;
  let one: CertFiles;
  let two: CertFiles;
  let dir: string;

  /** Loads `yaml` and returns its diagnostics as "path: message" lines. */
  const problems = (yaml: string): string[] => {
    writeFileSync(join(dir, 'edgeway.yaml'), yaml);
    const loaded = loadConfig(join(dir, 'edgeway.yaml'));
    return loaded.ok ? [] : loaded.diagnostics.map((d) => `${d.path}: ${d.message}`);
  };

  before(() => {
    ca = createCa();
    one = ca.issue('one.test');
    two = ca.issue('two.test');
    dir = mkdtempSync(join(tmpdir(), 'edgeway-tls-config-'));
    writeFileSync(join(dir, 'garbage.pem'), 'not pem at all\n');
  });

  after(() => {
    ca.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a valid gateway.tls with SNI and a valid upstreamTls load', () => {
    assert.deepEqual(
      problems(
        [
          'gateway:',
          `  tls: { cert: ${one.certPath}, key: ${one.keyPath}, sni: [{ hosts: [two.test], cert: ${two.certPath}, key: ${two.keyPath} }] }`,
          'services:',
          '  s:',
          '    instances: [https://127.0.0.1:9443]',
          `    upstreamTls: { ca: ${ca.certPath}, cert: ${two.certPath}, key: ${two.keyPath}, serverName: two.test }`,
        ].join('\n'),
      ),
      [],
    );
  });

  test('missing, unparsable and mismatched files are reported at their key paths', () => {
    const found = problems(
      [
        'gateway:',
        `  tls: { cert: ${join(dir, 'missing.crt')}, key: ${one.keyPath}, sni: [{ hosts: [two.test], cert: ${two.certPath}, key: ${one.keyPath} }] }`,
        'services:',
        '  s:',
        '    instances: [https://127.0.0.1:9443]',
        `    upstreamTls: { ca: ${join(dir, 'garbage.pem')} }`,
      ].join('\n'),
    );
    assert.equal(found.length, 3, found.join('\n'));
    assert.match(
      found[0] as string,
      /^gateway\.tls\.cert: cannot use .*missing\.crt: no such file$/,
    );
    assert.match(
      found[1] as string,
      /^gateway\.tls\.sni\[0\]\.key: the key in .* does not belong to the certificate in /,
    );
    assert.match(found[2] as string, /^services\.s\.upstreamTls\.ca: cannot use .*garbage\.pem: /);
  });

  test('a cert without its key, and a tls block without any certificate, are refused', () => {
    assert.deepEqual(problems(`gateway:\n  tls: { cert: ${one.certPath} }\n`), [
      'gateway.tls: tls needs both cert and key',
    ]);
    assert.deepEqual(problems('gateway:\n  tls: { redirectHttpPort: 8080 }\n'), [
      'gateway.tls: tls needs cert and key, at least one sni entry, or acme',
    ]);
    assert.deepEqual(
      problems(
        `services:\n  s:\n    instances: [https://127.0.0.1:9443]\n    upstreamTls: { key: ${one.keyPath} }\n`,
      ),
      ['services.s.upstreamTls: upstreamTls needs both cert and key'],
    );
  });
});
