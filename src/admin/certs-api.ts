/** Admin certificate endpoints: list the ACME domains, ask for a renewal now. Never any key material. */
import { Hono } from 'hono';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { CertificateView } from '../telemetry/certificates.js';
import { readJson } from './json-body.js';

/** What the endpoints need from the ACME manager. */
export interface CertificatesControl {
  certificates(): CertificateView[];
  /** Asks for a renewal of `domain` (all when undefined); resolves with the domains asked for. */
  renew(domain?: string): Promise<string[]>;
}

const renewBody = z.strictObject({ domain: z.string().min(1).optional() });

/** `/admin/certs` sub-app: `GET /` lists, `POST /renew` `{domain?}` renews. */
export function certsApi(control: CertificatesControl): Hono {
  const app = new Hono();
  app.get('/', (c) =>
    c.json({ certificates: control.certificates() }, 200, { 'cache-control': 'no-store' }),
  );
  app.post('/renew', async (c) => {
    const body = await readJson(c, renewBody);
    const renewing = await control.renew(body.domain);
    if (body.domain !== undefined && renewing.length === 0)
      throw new GatewayError('not_found', `${body.domain} is not an ACME domain of this gateway`);
    return c.json({ renewing });
  });
  return app;
}
