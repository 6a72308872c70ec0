/** The admin API (Hono) on its own listener: health, readiness, routes, reload and what the parts plug in. */
import { Hono } from 'hono';
import type { Diagnostic } from '../config/diagnostic.js';
import { formatDiagnostic } from '../config/diagnostic.js';
import { adminAuth } from './auth.js';

/** What the admin API reads from and acts on. */
export interface AdminDeps {
  /** Required whenever the admin listener is not on loopback. */
  readonly adminToken: string | undefined;
  routes(): unknown;
  ready(): { ready: boolean; detail: Record<string, unknown> };
  reload(): { ok: true } | { ok: false; diagnostics: readonly Diagnostic[] };
  /** Sub-apps mounted under their paths by the parts that own them (services, tokens, metrics, dashboard). */
  readonly mounts?: ReadonlyArray<readonly [string, Hono]>;
}

/**
 * Builds the admin app. With a token set, `/admin/*` and `/metrics` sit behind the bearer check; the probes
 * (`/healthz`, `/readyz`) stay open for the kubelet, and the dashboard page is a shell whose data is `/admin/stats`.
 */
export function createAdminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  if (deps.adminToken !== undefined) {
    const bearer = adminAuth(deps.adminToken);
    app.use('/admin/*', bearer);
    app.use('/metrics', bearer);
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const { ready, detail } = deps.ready();
    return c.json({ status: ready ? 'ready' : 'not_ready', ...detail }, ready ? 200 : 503);
  });
  app.get('/admin/routes', (c) => c.json(deps.routes()));
  app.post('/admin/reload', (c) => {
    const result = deps.reload();
    if (result.ok) return c.json({ status: 'reloaded' });
    return c.json({ status: 'rejected', errors: result.diagnostics.map(formatDiagnostic) }, 400);
  });
  for (const [path, sub] of deps.mounts ?? []) app.route(path, sub);
  app.notFound((c) => c.json({ error: { code: 'not_found', message: 'no such admin endpoint', requestId: '' } }, 404));
  return app;
}
