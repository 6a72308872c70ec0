/** ACME state in `EDGEWAY_DATA_DIR/acme` for a gateway without Redis: files of mode 0600, challenges in memory. */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AcmeStore, OrderStatus, StoredCertificate } from './store.js';

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** {@link AcmeStore} on files; one gateway process owns the folder, so locks are in-process. */
export class FileAcmeStore implements AcmeStore {
  readonly kind = 'files';
  readonly #dir: string;
  readonly #http = new Map<string, string>();
  readonly #alpn = new Map<string, StoredCertificate>();
  readonly #locks = new Map<string, string>();

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'acme');
  }

  async #write(name: string, text: string): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    // Write then rename, so a crash never leaves half a key; 0600 because these hold private keys.
    const tmp = join(this.#dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, join(this.#dir, name));
  }

  async #json<T>(name: string): Promise<T | undefined> {
    const text = await readText(join(this.#dir, name));
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  accountKey(): Promise<string | undefined> {
    return readText(join(this.#dir, 'account.key'));
  }

  async saveAccountKey(pem: string): Promise<string> {
    const existing = await this.accountKey();
    if (existing !== undefined) return existing;
    await this.#write('account.key', pem);
    return pem;
  }

  certificate(domain: string): Promise<StoredCertificate | undefined> {
    return this.#json<StoredCertificate>(`${domain}.cert.json`);
  }

  async saveCertificate(domain: string, certificate: StoredCertificate): Promise<void> {
    await this.#write(
      `${domain}.cert.json`,
      JSON.stringify({ cert: certificate.cert, key: certificate.key }),
    );
  }

  status(domain: string): Promise<OrderStatus | undefined> {
    return this.#json<OrderStatus>(`${domain}.status.json`);
  }

  saveStatus(domain: string, status: OrderStatus): Promise<void> {
    return this.#write(`${domain}.status.json`, JSON.stringify(status));
  }

  async httpChallenge(token: string): Promise<string | undefined> {
    return this.#http.get(token);
  }

  async saveHttpChallenge(token: string, keyAuthorization: string): Promise<void> {
    this.#http.set(token, keyAuthorization);
  }

  async deleteHttpChallenge(token: string): Promise<void> {
    this.#http.delete(token);
  }

  async alpnChallenge(domain: string): Promise<StoredCertificate | undefined> {
    return this.#alpn.get(domain);
  }

  async saveAlpnChallenge(domain: string, certificate: StoredCertificate): Promise<void> {
    this.#alpn.set(domain, certificate);
  }

  async deleteAlpnChallenge(domain: string): Promise<void> {
    this.#alpn.delete(domain);
  }

  async lock(domain: string, holder: string): Promise<boolean> {
    if (this.#locks.has(domain)) return false;
    this.#locks.set(domain, holder);
    return true;
  }

  async unlock(domain: string, holder: string): Promise<void> {
    if (this.#locks.get(domain) === holder) this.#locks.delete(domain);
  }

  requestRenewal(domain: string): Promise<void> {
    return this.#write(`${domain}.renew`, String(Date.now()));
  }

  async renewalRequested(domain: string): Promise<boolean> {
    return (await readText(join(this.#dir, `${domain}.renew`))) !== undefined;
  }

  async clearRenewal(domain: string): Promise<void> {
    await rm(join(this.#dir, `${domain}.renew`), { force: true });
  }

  async watch(): Promise<void> {
    // One process owns the folder: renewals it is asked for arrive through the admin API.
  }

  async close(): Promise<void> {}
}
