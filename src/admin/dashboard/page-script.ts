/** The dashboard's browser script (plain ES2020, no libraries): polls the stats endpoint and draws SVG charts. */

/** Source of the inline script; `__STATS_PATH__` and `__POLL_MS__` are replaced by page.ts. */
export const PAGE_SCRIPT = String.raw`
(() => {
  'use strict';
  const STATS_PATH = __STATS_PATH__;
  const POLL_MS = __POLL_MS__;
  // An admin listener off loopback needs a bearer token: open the page as /#token=... once; it is kept
  // for this tab only (sessionStorage) and removed from the address bar.
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.has('token')) {
    sessionStorage.setItem('edgeway-admin-token', hash.get('token'));
    history.replaceState(null, '', location.pathname);
  }
  const token = sessionStorage.getItem('edgeway-admin-token');
  const $ = (id) => document.getElementById(id);
  const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const fmtMs = (v) => (v === undefined || v === null ? '–' : v < 10 ? v.toFixed(2) + ' ms' : v < 1000 ? v.toFixed(0) + ' ms' : (v / 1000).toFixed(2) + ' s');
  const fmtPct = (v) => (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + ' %';
  const fmtRate = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + '/s';
  const fmtTime = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });

  function spark(values, cls, fmt) {
    const w = 150, h = 34, pad = 2;
    const nums = values.map((v) => (typeof v === 'number' && isFinite(v) ? v : 0));
    const max = Math.max(...nums, 0);
    const step = (w - pad * 2) / Math.max(1, nums.length - 1);
    const y = (v) => (max === 0 ? h - pad : h - pad - (v / max) * (h - pad * 2));
    const pts = nums.map((v, i) => (pad + i * step).toFixed(1) + ',' + y(v).toFixed(1));
    const area = 'M' + pad + ',' + (h - pad) + ' L' + pts.join(' L') + ' L' + (pad + (nums.length - 1) * step).toFixed(1) + ',' + (h - pad) + ' Z';
    return '<svg class="spark ' + cls + '" viewBox="0 0 ' + w + ' ' + h + '" width="' + w + '" height="' + h + '" role="img">' +
      '<title>max ' + esc(fmt(max)) + '</title><path class="area" d="' + area + '"/><polyline points="' + pts.join(' ') + '"/></svg>';
  }

  // A rule's value in its own unit: a ratio as a percentage, a latency in ms, counts as they are.
  const fmtValue = (kind, v) => (kind === 'error-ratio' ? fmtPct(v) : kind === 'latency-p99' ? fmtMs(v) : String(v));

  function renderAlerts(alerts) {
    $('alert-count').textContent = String(alerts.length);
    $('alerts').innerHTML = alerts.length === 0
      ? '<div class="ok-line">No active alerts</div>'
      : alerts.map((a) => '<div class="alert"><b>' + esc(a.rule) + '</b> <span class="muted">' + esc(a.kind) + '</span> on <b>' +
          esc(a.subject) + '</b>: ' + esc(fmtValue(a.kind, a.value)) + ' (threshold ' + esc(fmtValue(a.kind, a.threshold)) + ') since ' + esc(fmtTime(a.since)) + '</div>').join('');
  }

  function renderRoutes(routes) {
    $('routes').innerHTML = routes.length === 0 ? '<tr><td colspan="9" class="muted">No routes yet</td></tr>' : routes.map((r) => {
      const rps = r.series.map((p) => p.requests / 60);
      const err = r.series.map((p) => (p.requests === 0 ? 0 : p.errors5xx / p.requests));
      const p99 = r.series.map((p) => p.p99Ms);
      const bad = r.errorRatio >= 0.05 ? ' bad' : r.errorRatio > 0 ? ' warn' : '';
      return '<tr data-route="' + esc(r.name) + '"><td class="name">' + esc(r.name) + '</td>' +
        '<td class="num rps">' + fmtRate(r.rps) + '</td><td class="num err' + bad + '">' + fmtPct(r.errorRatio) + '</td>' +
        '<td class="num">' + fmtMs(r.p50Ms) + '</td><td class="num">' + fmtMs(r.p99Ms) + '</td><td class="num">' + esc(r.rateLimited) + '</td>' +
        '<td>' + spark(rps, 'c-rps', fmtRate) + '</td><td>' + spark(err, 'c-err', fmtPct) + '</td><td>' + spark(p99, 'c-lat', fmtMs) + '</td></tr>';
    }).join('');
  }

  function renderServices(services) {
    $('services').innerHTML = services.length === 0 ? '<div class="muted">No services registered</div>' : services.map((s) => {
      const healthy = s.instances.filter((i) => i.healthy).length;
      return '<div class="svc"><h3>' + esc(s.name) + ' <span class="' + (healthy === 0 ? 'pill down' : 'pill up') + '">' + healthy + '/' + s.instances.length + ' healthy</span></h3>' +
        '<table><thead><tr><th>instance</th><th>url</th><th>health</th><th class="num">weight</th><th class="num">in-flight</th><th class="num">latency</th></tr></thead><tbody>' +
        s.instances.map((i) => '<tr><td class="name">' + esc(i.id) + '</td><td class="muted">' + esc(i.url) + '</td><td><span class="dot ' + (i.healthy ? 'up' : 'down') + '"></span>' +
          (i.healthy ? 'healthy' : 'unhealthy') + '</td><td class="num">' + esc(i.weight) + '</td><td class="num">' + esc(i.inFlight) + '</td><td class="num">' + fmtMs(i.latencyMs) + '</td></tr>').join('') +
        '</tbody></table></div>';
    }).join('');
  }

  function renderRecent(recent) {
    $('recent').innerHTML = recent.length === 0 ? '<tr><td colspan="6" class="muted">Nothing slow or failed recently</td></tr>' : recent.map((r) =>
      '<tr><td>' + esc(fmtTime(r.at)) + '</td><td class="name">' + esc(r.route) + '</td><td class="num ' + (r.status >= 500 ? 'bad' : 'warn') + '">' + esc(r.status) +
      '</td><td class="num">' + fmtMs(r.durationMs) + '</td><td class="mono">' + esc(r.requestId) + '</td><td class="mono">' + esc(r.traceId || '–') + '</td></tr>').join('');
  }

  async function poll() {
    try {
      const res = await fetch(STATS_PATH, { headers: token ? { authorization: 'Bearer ' + token } : {}, cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const data = await res.json();
      renderAlerts(data.alerts);
      renderRoutes(data.routes);
      renderServices(data.services);
      renderRecent(data.recent);
      $('status').className = 'status live';
      $('status').textContent = 'live · ' + (data.source === 'redis' ? 'all gateways' : 'this gateway') + ' · ' + fmtTime(data.now);
    } catch (err) {
      $('status').className = 'status stale';
      $('status').textContent = 'stale: ' + err.message;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }
  poll();
})();
`;
