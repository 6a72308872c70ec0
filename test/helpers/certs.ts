/** Throwaway PKI for TLS tests: a CA and leaf certificates made with the `openssl` CLI in a temp folder. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, as files and as PEM text. */
export interface CertFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: string;
  readonly key: string;
}

/** A test certificate authority that issues leaf certificates. */
export interface TestCa extends CertFiles {
  readonly dir: string;
  /** Issues a leaf for `commonName` with DNS names and IPs as subjectAltName (RFC 6125 checks SANs, not CN). */
  issue(
    commonName: string,
    altNames?: { dns?: readonly string[]; ip?: readonly string[] },
  ): CertFiles;
  /** Removes the folder and everything issued. */
  cleanup(): void;
}

// P-256 keys: generated in milliseconds, unlike RSA, which keeps tests fast on a shared machine.
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function files(certPath: string, keyPath: string): CertFiles {
  return {
    certPath,
    keyPath,
    cert: readFileSync(certPath, 'utf8'),
    key: readFileSync(keyPath, 'utf8'),
  };
}

/** Creates a CA named `name` in a fresh temp folder. */
export function createCa(name = 'edgeway test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-certs-'));
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  openssl([
    'req',
    '-x509',
    ...NEW_KEY,
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  let serial = 0;
  return {
    dir,
    ...files(caCert, caKey),
    issue(commonName, altNames = {}) {
      const base = join(dir, `leaf-${++serial}`);
      const sans = [
        ...(altNames.dns ?? [commonName]).map((d) => `DNS:${d}`),
        ...(altNames.ip ?? []).map((ip) => `IP:${ip}`),
      ];
      writeFileSync(
        `${base}.ext`,
        `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`,
      );
      openssl([
        'req',
        '-new',
        ...NEW_KEY,
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
        '-subj',
        `/CN=${commonName}`,
      ]);
      openssl([
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-set_serial',
        String(1000 + serial),
        '-days',
        '2',
        '-extfile',
        `${base}.ext`,
        '-out',
        `${base}.crt`,
      ]);
      return files(`${base}.crt`, `${base}.key`);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
