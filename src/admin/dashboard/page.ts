/** The live dashboard page served at admin `GET /`: one self-contained HTML document, no external requests. */
import { PAGE_SCRIPT } from './page-script.js';

/** Options for {@link dashboardPage}. */
export interface DashboardPageOptions {
  /** Path of the JSON stats endpoint (default `/admin/stats`). */
  readonly statsPath?: string;
  /** Poll period, milliseconds (default 2000). */
  readonly pollMs?: number;
}

const STYLE = `
:root { color-scheme: dark; --bg: #0f1216; --panel: #171b21; --line: #262c35; --text: #d7dde5; --muted: #7d8794;
  --ok: #3ecf8e; --warn: #f0b429; --bad: #ef5350; --rps: #5aa9ff; --lat: #c792ea; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; border-bottom: 1px solid var(--line); background: var(--panel); position: sticky; top: 0; }
header h1 { font-size: 15px; margin: 0; letter-spacing: .04em; }
.status { font-size: 12px; padding: 2px 8px; border-radius: 10px; border: 1px solid var(--line); }
.status.live { color: var(--ok); } .status.stale { color: var(--bad); border-color: var(--bad); }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; padding: 16px 20px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); margin: 0 0 10px; }
h3 { font-size: 13px; margin: 10px 0 6px; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 500; color: var(--muted); font-size: 11px; padding: 4px 6px; border-bottom: 1px solid var(--line); }
td { padding: 4px 6px; border-bottom: 1px solid #1e232b; vertical-align: middle; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; }
.name { font-weight: 600; } .muted { color: var(--muted); }
.warn { color: var(--warn); } .bad { color: var(--bad); }
.alert { border-left: 3px solid var(--bad); background: #2a1719; padding: 6px 10px; margin-bottom: 6px; border-radius: 3px; }
.ok-line { color: var(--ok); }
.pill { font-size: 11px; font-weight: 500; padding: 1px 7px; border-radius: 9px; margin-left: 6px; }
.pill.up { background: #163a2a; color: var(--ok); } .pill.down { background: #3a1618; color: var(--bad); }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; }
.dot.up { background: var(--ok); } .dot.down { background: var(--bad); }
svg.spark polyline { fill: none; stroke-width: 1.5; } svg.spark .area { stroke: none; opacity: .15; }
.c-rps polyline { stroke: var(--rps); } .c-rps .area { fill: var(--rps); }
.c-err polyline { stroke: var(--bad); } .c-err .area { fill: var(--bad); }
.c-lat polyline { stroke: var(--lat); } .c-lat .area { fill: var(--lat); }
.scroll { max-height: 460px; overflow: auto; }
.legend { color: var(--muted); font-size: 11px; margin-top: 6px; }
@media (max-width: 1100px) { main { grid-template-columns: 1fr; } }
`;

/**
 * The dashboard HTML. Charts are inline SVG drawn by the page's own script; nothing is fetched but the
 * stats endpoint, so it works on an air-gapped admin network.
 */
export function dashboardPage(options: DashboardPageOptions = {}): string {
  const script = PAGE_SCRIPT
    .replace('__STATS_PATH__', JSON.stringify(options.statsPath ?? '/admin/stats'))
    .replace('__POLL_MS__', String(options.pollMs ?? 2000));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeway · dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1>edgeway</h1><span id="status" class="status">connecting…</span><span class="muted">alerts: <b id="alert-count">0</b></span></header>
<main>
<section class="wide"><h2>Active alerts</h2><div id="alerts"><div class="muted">loading…</div></div></section>
<section class="wide"><h2>Routes</h2>
<table><thead><tr><th>route</th><th class="num">req/s</th><th class="num">5xx (1 m)</th><th class="num">p50</th><th class="num">p99</th><th class="num">429 (15 m)</th><th>requests/s · 15 m</th><th>5xx ratio · 15 m</th><th>p99 · 15 m</th></tr></thead>
<tbody id="routes"></tbody></table>
<div class="legend">Live columns: this gateway, last 5 s (rate) and last minute (errors, latency). Charts: one point per minute.</div>
</section>
<section><h2>Services</h2><div id="services"></div></section>
<section><h2>Recent slow or failed requests</h2>
<div class="scroll"><table><thead><tr><th>time</th><th>route</th><th class="num">status</th><th class="num">duration</th><th>request id</th><th>trace id</th></tr></thead>
<tbody id="recent"></tbody></table></div></section>
</main>
<script>${script}</script>
</body>
</html>
`;
}
