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
:root { color-scheme: dark; --bg: #0f1216; --panel: #171b21; --line: #262c35; --text: #d7dde5; --muted: #8a94a1;
  --ok: #3ecf8e; --c2: #3ecf8e; --c3: #5aa9ff; --c4: #f0b429; --c429: #c792ea; --c5: #ef5350; --lat: #c792ea; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; padding: 8px 16px; border-bottom: 1px solid var(--line); background: var(--panel); position: sticky; top: 0; z-index: 2; }
header h1 { font-size: 15px; margin: 0; letter-spacing: .04em; }
#meta { display: flex; flex-wrap: wrap; gap: 4px 12px; color: var(--muted); font-size: 12px; }
.status { font-size: 12px; padding: 2px 8px; border-radius: 10px; border: 1px solid var(--line); }
.status.live { color: var(--ok); } .status.stale { color: var(--c5); border-color: var(--c5); }
#ranges { display: flex; gap: 2px; margin-left: auto; }
#ranges button { background: transparent; color: var(--text); border: 1px solid var(--line); padding: 3px 10px; font: inherit; cursor: pointer; }
#ranges button:first-child { border-radius: 4px 0 0 4px; } #ranges button:last-child { border-radius: 0 4px 4px 0; }
#ranges button.on { background: #24415f; border-color: var(--c3); }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; padding: 12px 16px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); margin: 0 0 8px; display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; }
h2 .scope { text-transform: none; letter-spacing: 0; font-weight: 400; }
h3 { font-size: 13px; margin: 8px 0 4px; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 500; color: var(--muted); font-size: 11px; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 4px 6px; border-bottom: 1px solid #1e232b; vertical-align: middle; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; }
.name { font-weight: 600; } .muted { color: var(--muted); } .small { font-size: 11px; font-weight: 400; }
.ok { color: var(--ok); } .c2 { color: var(--c2); } .c3 { color: var(--c3); } .c4 { color: var(--c4); } .c429 { color: var(--c429); } .c5 { color: var(--c5); }
.tiles { display: grid; grid-template-columns: repeat(8, minmax(0, 1fr)); gap: 8px; margin-bottom: 8px; }
.tile { border: 1px solid var(--line); border-radius: 5px; padding: 6px 8px; }
.tile .label { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .06em; }
.tile .v { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .sub { color: var(--muted); font-size: 11px; }
.tile.c2 .v { color: var(--c2); } .tile.c3 .v { color: var(--c3); } .tile.c4 .v { color: var(--c4); } .tile.c429 .v { color: var(--c429); } .tile.c5 .v { color: var(--c5); }
#fleet-chart { width: 100%; overflow: hidden; }
svg.chart { display: block; }
svg .grid { stroke: #2c333d; stroke-width: 1; } svg .axis { fill: var(--muted); font-size: 10px; }
svg .s2xx { fill: var(--c2); } svg .s3xx { fill: var(--c3); } svg .o4xx { fill: var(--c4); } svg .s429 { fill: var(--c429); } svg .s5xx { fill: var(--c5); }
svg .lat { fill: none; stroke: var(--lat); stroke-width: 1.5; } svg .lat-dot { fill: var(--lat); }
.legend { color: var(--muted); font-size: 11px; margin-top: 4px; display: flex; flex-wrap: wrap; gap: 4px 12px; }
.legend i { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.chip { display: inline-block; border: 1px solid var(--line); border-radius: 9px; padding: 0 7px; margin: 1px 4px 1px 0; font-size: 11px; }
.reasons { white-space: normal; min-width: 120px; }
.pill { font-size: 11px; font-weight: 500; padding: 1px 7px; border-radius: 9px; background: #232a33; }
.pill.good { background: #163a2a; color: var(--ok); } .pill.warn { background: #3a3016; color: var(--c4); } .pill.bad { background: #3a1618; color: var(--c5); }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; background: var(--muted); }
.dot.ok { background: var(--ok); } .dot.c3 { background: var(--c3); } .dot.c4 { background: var(--c4); } .dot.c5 { background: var(--c5); }
.alert { border-left: 3px solid var(--c5); background: #2a1719; padding: 6px 10px; margin-bottom: 6px; border-radius: 3px; }
table.history td { font-size: 12px; }
tr.route { cursor: pointer; } tr.route:hover, tr.route.open { background: #1d232b; }
tr.detail td { background: #1a2028; white-space: normal; }
.config { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 4px 16px; }
.hscroll { overflow-x: auto; }
.scroll { max-height: 420px; overflow: auto; }
.trace { user-select: all; }
button.copy { background: transparent; color: var(--muted); border: 1px solid var(--line); border-radius: 3px; font-size: 11px; padding: 0 5px; cursor: pointer; }
a { color: var(--c3); }
@media (max-width: 1100px) { main { grid-template-columns: minmax(0, 1fr); } .tiles { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
@media (max-width: 600px) { main { padding: 8px; gap: 8px; } .opt { display: none; } .config { position: sticky; left: 0; width: calc(100vw - 56px); grid-template-columns: 1fr; } header { padding: 6px 8px; } #ranges { margin-left: 0; } .tile .v { font-size: 18px; } section { padding: 8px; } }
`;

const LEGEND =
  '<div class="legend"><span><i style="background:var(--c2)"></i>2xx</span><span><i style="background:var(--c3)"></i>3xx</span><span><i style="background:var(--c4)"></i>4xx (not 429)</span>' +
  '<span><i style="background:var(--c429)"></i>429</span><span><i style="background:var(--c5)"></i>5xx</span></div>';

/**
 * The dashboard HTML. Charts are inline SVG drawn by the page's own script; nothing is fetched but the
 * stats endpoint, so it works on an air-gapped admin network.
 */
export function dashboardPage(options: DashboardPageOptions = {}): string {
  const script = PAGE_SCRIPT.replace(
    '__STATS_PATH__',
    JSON.stringify(options.statsPath ?? '/admin/stats'),
  ).replace('__POLL_MS__', String(options.pollMs ?? 2000));
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
<header><h1>edgeway</h1><span id="status" class="status">connecting…</span><span class="muted">alerts: <b id="alert-count">0</b></span><span id="meta"></span>
<span id="ranges"><button data-range="15m">15m</button><button data-range="1h">1h</button><button data-range="6h">6h</button><button data-range="24h">24h</button></span></header>
<main>
<section class="wide"><h2>Traffic <span id="scope" class="scope muted"></span></h2>
<div id="fleet-tiles" class="tiles"></div><div id="fleet-chart"></div>${LEGEND}
<div class="legend">errors by reason: <span id="fleet-reasons"></span></div></section>
<section class="wide"><h2>Gateways</h2><div class="hscroll"><table><thead><tr><th>gateway</th><th>version</th><th>uptime</th><th class="num">requests</th><th class="num">2xx</th><th class="num opt">3xx</th><th class="num">4xx</th><th class="num">429</th><th class="num">5xx</th></tr></thead><tbody id="gateways"></tbody></table></div></section>
<section class="wide" id="certificates-panel" hidden><h2>Certificates <span class="scope muted">ACME, as this gateway sees them</span></h2>
<div class="hscroll"><table><thead><tr><th>domain</th><th>state</th><th class="opt">issuer</th><th class="opt">not after</th><th>expires</th><th>last error</th><th>next retry</th></tr></thead><tbody id="certificates"></tbody></table></div></section>
<section><h2>Alerts</h2><div id="alerts"><div class="muted">loading…</div></div></section>
<section><h2>Top consumers</h2><div class="hscroll"><table><thead><tr><th>by requests</th><th class="num">requests</th><th class="num">429</th></tr></thead><tbody id="consumers-requests"></tbody></table>
<table><thead><tr><th>by 429s</th><th class="num">requests</th><th class="num">429</th></tr></thead><tbody id="consumers-limited"></tbody></table></div></section>
<section class="wide"><h2>Routes <span id="routes-scale" class="scope muted"></span></h2>
<div class="hscroll"><table><thead><tr><th>route</th><th class="num opt">live</th><th class="num opt">avg</th><th class="num">requests</th><th class="num">2xx</th><th class="num opt">3xx</th><th class="num">4xx</th><th class="num">429</th><th class="num">5xx</th><th class="num opt">p50</th><th class="num">p99</th><th class="opt">errors by reason</th><th>status classes</th><th class="opt">p99</th></tr></thead>
<tbody id="routes"></tbody></table></div>
<div class="legend">live: this gateway, last 5 s. Everything else: the selected range. Click a route for its configuration.</div></section>
<section class="wide"><h2>Instances</h2><div id="services"></div>
<div class="legend">attempts, connect errors, 5xx and timeouts: the selected range; state, latency and in-flight: now, as this gateway sees it.</div></section>
<section class="wide"><h2>Recent failed or slow requests <span class="scope muted">this gateway, newest first</span></h2>
<div class="scroll hscroll"><table><thead><tr><th>time</th><th class="num">status</th><th>method</th><th>path</th><th class="opt">route</th><th>reason</th><th>instance</th><th class="num">attempts</th><th class="num opt">duration</th><th>trace id</th></tr></thead>
<tbody id="failures"></tbody></table></div></section>
</main>
<script>${script}</script>
</body>
</html>
`;
}
