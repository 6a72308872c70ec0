/** The dashboard's certificate rows: each ACME domain with its days to expiry and how loudly to show it. */
import type { CertificateView } from '../../telemetry/certificates.js';

const DAY_MS = 86_400_000;
/** Under this the row turns amber: renewals start well before (`renewBefore`), so one still missing needs a look. */
const WARN_MS = 14 * DAY_MS;
/** Under this the row turns red: clients start failing within days. */
const CRITICAL_MS = 3 * DAY_MS;

/** One domain's row: the manager's view plus what the page colours by. */
export interface CertificateRow extends CertificateView {
  /** Whole days until notAfter (negative once expired); null while no certificate was issued. */
  readonly expiresInDays: number | null;
  /** bad: failed, expired or under 3 days; warn: a failed renewal or under 14 days; ok otherwise. */
  readonly severity: 'ok' | 'warn' | 'bad';
}

function severity(view: CertificateView, leftMs: number | undefined): CertificateRow['severity'] {
  if (view.state === 'failed' || (leftMs !== undefined && leftMs < CRITICAL_MS)) return 'bad';
  if (view.state === 'renewing-failed' || (leftMs !== undefined && leftMs < WARN_MS)) return 'warn';
  return 'ok';
}

/** The rows at `now` (epoch ms), sorted by domain. */
export function certificateRows(views: readonly CertificateView[], now: number): CertificateRow[] {
  return views
    .map((view) => {
      const leftMs = view.notAfter === undefined ? undefined : view.notAfter - now;
      return {
        ...view,
        expiresInDays: leftMs === undefined ? null : Math.floor(leftMs / DAY_MS),
        severity: severity(view, leftMs),
      };
    })
    .sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
}
