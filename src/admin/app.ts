/** The admin API (Hono) on its own listener: health, readiness, routes, reload and what the parts plug in. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Diagnostic } from '../config/diagnostic.js';
import { formatDiagnostic } from '../config/diagnostic.js';
import { GatewayError } from '../errors.js';
import { errorResponse } from '../pipeline/respond-error.js';
import { resolveRequestId } from '../telemetry/request-id.js';
import { adminAuth } from './auth.js';
import { browserGuard } from './browser-guard.js';

// The largest admin body is a registration with its meta map; 300 MB bodies once took RSS to 1.2 GB.
const MAX_ADMIN_BODY_BYTES = 64 * 1024; // 64 KiB

/** What the admin API reads from and acts on. */
export interface AdminDeps {
  /** Required whenever the admin listener is not on loopback. */
  readonly adminToken: string | undefined;
  /** `gateway.admin.host`: a name Host headers may use for this listener besides addresses and localhost. */
  readonly listenHost: string;
  routes(): unknown;
  ready(): { ready: boolean; detail: Record<string, unknown> };
  reload(): Promise<{ ok: true } | { ok: false; diagnostics: readonly Diagnostic[] }>;
  /** Sub-apps mounted under their paths by the parts that own them (services, tokens, metrics, dashboard). */
  readonly mounts?: ReadonlyArray<readonly [string, Hono]>;
  /** Hears of failures that are not GatewayErrors (the answer is a bare 500 that hides them). */
  readonly onUnexpectedError?: (err: unknown) => void;
}

type AdminEnv = { Variables: { requestId: string } };

/**
 * Builds the admin app. With a token set, `/admin/*` and `/metrics` sit behind the bearer check; the probes
 * (`/healthz`, `/readyz`) stay open for the kubelet, and the dashboard page is a shell whose data is `/admin/stats`.
 */
export function createAdminApp(deps: AdminDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  // SPEC: every response carries x-request-id, and an error body's requestId equals it.
  app.use('*', async function requestId(c, next) {
    const id = resolveRequestId(c.req.header('x-request-id'));
    c.set('requestId', id);
    await next();
    c.res.headers.set('x-request-id', id);
  });
  app.use('*', browserGuard(deps.listenHost));
  if (deps.adminToken !== undefined) {
    const bearer = adminAuth(deps.adminToken);
    app.use('/admin/*', bearer);
    app.use('/metrics', bearer);
  }
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_ADMIN_BODY_BYTES,
      // The rest of the body is never read: the connection closes after the answer.
      onError: () => {
        throw new GatewayError(
          'payload_too_large',
          `admin request bodies are limited to ${MAX_ADMIN_BODY_BYTES} bytes`,
          [['connection', 'close']],
        );
      },
    }),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const { ready, detail } = deps.ready();
    return c.json({ status: ready ? 'ready' : 'not_ready', ...detail }, ready ? 200 : 503);
  });
  app.get('/admin/routes', (c) => c.json(deps.routes()));
  app.post('/admin/reload', async (c) => {
    const result = await deps.reload();
    if (result.ok) return c.json({ status: 'reloaded' });
    const errors = result.diagnostics.map(formatDiagnostic);
    throw new GatewayError(
      'bad_request',
      `config rejected, still serving the last good one: ${errors.length} error(s)`,
      [],
      { details: { status: 'rejected', errors } },
    );
  });
  for (const [path, sub] of deps.mounts ?? []) app.route(path, sub);
  app.notFound((c) =>
    errorResponse(new GatewayError('not_found', 'no such admin endpoint'), c.get('requestId')),
  );
  app.onError((err, c) => {
    if (err instanceof GatewayError) return errorResponse(err, c.get('requestId'));
    deps.onUnexpectedError?.(err);
    return errorResponse(
      new GatewayError('internal_error', 'the admin API failed to handle the request'),
      c.get('requestId'),
    );
  });
  return app;
}
