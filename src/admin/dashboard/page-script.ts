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
  const fmtRate = (v) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2)) + '/s';
  const fmtNum = (v) => (v >= 1e6 ? (v / 1e6).toFixed(1) + 'M' : v >= 1e4 ? (v / 1e3).toFixed(1) + 'k' : String(v));
  const fmtTime = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
  const fmtClock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit' });
  const fmtAge = (ms) => { const s = Math.max(0, Math.round(ms / 1000)); const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d > 0 ? d + 'd ' + h + 'h' : h > 0 ? h + 'h ' + m + 'm' : m > 0 ? m + 'm ' + (s % 60) + 's' : s + 's'; };
  // Status classes in stacking order; 429 is drawn apart from the rest of 4xx.
  const CLASSES = [['s2xx', '2xx'], ['s3xx', '3xx'], ['o4xx', '4xx'], ['s429', '429'], ['s5xx', '5xx']];
  const other4xx = (p) => p.s4xx - p.s429;
  const classValue = (p, k) => (k === 'o4xx' ? other4xx(p) : p[k]);

  let range = localStorage.getItem('edgeway-range') || '15m';
  let openRoute = null;
  let last = null;

  // Stacked status-class bars over time with a y axis (shared max when given) and an x axis of clock times.
  function stackChart(series, opts) {
    const w = opts.w, h = opts.h, left = opts.axes ? 40 : 1, bottom = opts.axes ? 16 : 1, top = opts.axes ? 6 : 1;
    const max = Math.max(1, opts.max ?? Math.max(0, ...series.map((p) => p.requests)));
    const plotH = h - top - bottom, plotW = w - left - 2;
    const bw = plotW / Math.max(1, series.length);
    let out = '<svg class="chart" viewBox="0 0 ' + w + ' ' + h + '" width="' + w + '" height="' + h + '" role="img"><title>' + esc(opts.title || '') + ' · max ' + fmtNum(max) + '</title>';
    if (opts.axes) {
      for (const f of [0, 0.5, 1]) {
        const y = (top + plotH - f * plotH).toFixed(1);
        out += '<line class="grid" x1="' + left + '" x2="' + (w - 2) + '" y1="' + y + '" y2="' + y + '"/><text class="axis" x="' + (left - 4) + '" y="' + (Number(y) + 3) + '" text-anchor="end">' + fmtNum(Math.round(max * f)) + '</text>';
      }
      const ticks = [0, Math.floor((series.length - 1) / 2), series.length - 1];
      for (const i of ticks) {
        if (!series[i]) continue;
        const x = left + i * bw + bw / 2;
        out += '<text class="axis" x="' + x.toFixed(1) + '" y="' + (h - 3) + '" text-anchor="' + (i === 0 ? 'start' : i === series.length - 1 ? 'end' : 'middle') + '">' + fmtClock(series[i].t) + '</text>';
      }
    } else {
      out += '<line class="grid" x1="0" x2="' + w + '" y1="' + (h - 1) + '" y2="' + (h - 1) + '"/>';
    }
    series.forEach((p, i) => {
      let y = top + plotH;
      const x = (left + i * bw + (bw > 3 ? 0.5 : 0)).toFixed(1);
      const width = Math.max(0.8, bw - (bw > 3 ? 1 : 0.2)).toFixed(1);
      for (const [k] of CLASSES) {
        const v = classValue(p, k);
        if (!(v > 0)) continue;
        const bh = Math.max(0.8, (v / max) * plotH);
        y -= bh;
        out += '<rect class="' + k + '" x="' + x + '" y="' + y.toFixed(1) + '" width="' + width + '" height="' + bh.toFixed(1) + '"><title>' + fmtClock(p.t) + ' ' + k.replace('o4xx', '4xx') + ': ' + v + '</title></rect>';
      }
    });
    return out + '</svg>';
  }

  // A p99 line over time on a shared millisecond scale.
  function latencyLine(series, max, w, h) {
    const pts = [];
    const step = (w - 2) / Math.max(1, series.length - 1);
    series.forEach((p, i) => { if (p.p99Ms !== null) pts.push((1 + i * step).toFixed(1) + ',' + (h - 1 - (p.p99Ms / max) * (h - 2)).toFixed(1)); });
    return '<svg class="chart" viewBox="0 0 ' + w + ' ' + h + '" width="' + w + '" height="' + h + '" role="img"><title>p99 · max ' + esc(fmtMs(max)) + '</title>' +
      '<line class="grid" x1="0" x2="' + w + '" y1="' + (h - 1) + '" y2="' + (h - 1) + '"/>' + (pts.length > 1 ? '<polyline class="lat" points="' + pts.join(' ') + '"/>' : pts.length === 1 ? '<circle class="lat-dot" r="2" cx="' + pts[0].split(',')[0] + '" cy="' + pts[0].split(',')[1] + '"/>' : '') + '</svg>';
  }

  const opt = (k, v, cls) => cell(k, v, 'opt ' + (cls || ''));
  const cell = (k, v, cls) => '<td class="num ' + (cls || '') + '" data-k="' + k + '">' + v + '</td>';
  const classCells = (t) => cell('requests', fmtNum(t.requests)) + cell('s2xx', fmtNum(t.s2xx), 'c2') + opt('s3xx', fmtNum(t.s3xx), 'c3') +
    cell('s4xx', fmtNum(t.s4xx), t.s4xx ? 'c4' : '') + cell('s429', fmtNum(t.s429), t.s429 ? 'c429' : '') + cell('s5xx', fmtNum(t.s5xx), t.s5xx ? 'c5' : '');
  const reasonChips = (reasons) => Object.entries(reasons).sort((a, b) => b[1] - a[1]).map(([r, n]) => '<span class="chip" data-reason="' + esc(r) + '">' + esc(r) + ' <b>' + fmtNum(n) + '</b></span>').join('') || '<span class="muted">none</span>';

  function renderMeta(d) {
    const m = d.meta;
    const gws = d.gateways.length;
    $('status').className = 'status live';
    $('status').textContent = 'live · ' + (d.source === 'redis' ? 'fleet of ' + gws + ' gateway' + (gws === 1 ? '' : 's') : 'this gateway only') + ' · ' + fmtTime(d.now);
    $('meta').innerHTML = '<span>v' + esc(m.version) + '</span><span>up ' + fmtAge(d.now - m.startedAt) + '</span><span data-k="store" class="' + (m.store.kind === 'redis' && m.store.state !== 'ready' ? 'c5' : '') + '">store: ' + esc(m.store.kind) + ' (' + esc(m.store.state) + ')</span>' +
      (m.registry.backend === 'redis' ? '<span data-k="registry" class="' + (m.registry.stale ? 'c5' : '') + '">registry: ' + (m.registry.connected ? 'connected' : 'disconnected') + (m.registry.stale ? ', serving the last known instances' : '') + '</span>' : '') +
      (d.sourceError ? '<span class="c5">history: ' + esc(d.sourceError) + '</span>' : '');
    for (const b of document.querySelectorAll('#ranges button')) b.classList.toggle('on', b.dataset.range === d.range);
  }

  function renderFleet(d) {
    const t = d.fleet.totals;
    const secs = d.bucketMs / 1000 * d.fleet.series.length;
    const tile = (k, label, v, cls, sub) => '<div class="tile ' + (cls || '') + '" data-k="' + k + '"><div class="label">' + label + '</div><div class="v">' + v + '</div><div class="sub">' + (sub || '&nbsp;') + '</div></div>';
    const share = (v) => (t.requests ? fmtPct(v / t.requests) : '–');
    $('fleet-tiles').innerHTML = tile('requests', 'requests', fmtNum(t.requests), '', fmtRate(t.requests / secs) + ' avg') + tile('s2xx', '2xx', fmtNum(t.s2xx), 'c2', share(t.s2xx)) + tile('s3xx', '3xx', fmtNum(t.s3xx), 'c3', share(t.s3xx)) +
      tile('s4xx', '4xx', fmtNum(t.s4xx), t.s4xx ? 'c4' : '', share(t.s4xx) + ' incl. 429') + tile('s429', '429', fmtNum(t.s429), t.s429 ? 'c429' : '', share(t.s429)) + tile('s5xx', '5xx', fmtNum(t.s5xx), t.s5xx ? 'c5' : '', share(t.s5xx)) +
      tile('p50', 'p50', fmtMs(t.p50Ms), '', 'latency') + tile('p99', 'p99', fmtMs(t.p99Ms), '', 'latency');
    const width = Math.max(280, Math.min(1320, $('fleet-chart').clientWidth || 600));
    $('fleet-chart').innerHTML = stackChart(d.fleet.series, { w: width, h: 130, axes: true, title: 'requests per ' + (d.bucketMs / 60000) + ' min' });
    $('fleet-reasons').innerHTML = reasonChips(d.fleet.reasons);
    $('scope').textContent = (d.source === 'redis' ? 'all gateways' : 'this gateway') + ' · last ' + d.range + ' · one bar = ' + (d.bucketMs / 60000) + ' min' +
      (d.source === 'local' && d.range !== '15m' ? ' · without Redis history only the last 15 min are kept' : '');
  }

  function renderGateways(d) {
    $('gateways').innerHTML = d.gateways.map((g) => {
      const stale = g.seenAt !== null && d.now - g.seenAt > 20000;
      return '<tr data-gateway="' + esc(g.id) + '"><td class="name">' + esc(g.id) + (g.self ? ' <span class="pill">this</span>' : '') + (stale ? ' <span class="pill bad">silent ' + fmtAge(d.now - g.seenAt) + '</span>' : '') + '</td>' +
        '<td>' + esc(g.version ?? '–') + '</td><td>' + (g.startedAt ? fmtAge(d.now - g.startedAt) : '–') + '</td>' + classCells(g.totals) + '</tr>';
    }).join('');
  }

  function renderRoutes(d) {
    const max = Math.max(1, ...d.routes.flatMap((r) => r.series.map((p) => p.requests)));
    const maxLat = Math.max(1, ...d.routes.flatMap((r) => r.series.map((p) => p.p99Ms || 0)));
    $('routes-scale').textContent = 'bars: 0–' + fmtNum(max) + ' req per ' + (d.bucketMs / 60000) + ' min, same scale on every row · p99: 0–' + fmtMs(maxLat);
    const secs = d.bucketMs / 1000 * (d.routes[0]?.series.length || 1);
    $('routes').innerHTML = d.routes.length === 0 ? '<tr><td colspan="13" class="muted">No routes yet</td></tr>' : d.routes.map((r) => {
      const t = r.totals;
      const bad = t.requests && t.s5xx / t.requests >= 0.05 ? ' c5' : '';
      let row = '<tr class="route' + (openRoute === r.name ? ' open' : '') + '" data-route="' + esc(r.name) + '" tabindex="0"><td class="name' + bad + '">' + esc(r.name) + '</td>' +
        opt('live', fmtRate(r.liveRps)) + opt('avg', fmtRate(t.requests / secs)) + classCells(t) + opt('p50', fmtMs(t.p50Ms)) + cell('p99', fmtMs(t.p99Ms)) +
        '<td class="reasons opt">' + reasonChips(r.reasons) + '</td><td>' + stackChart(r.series, { w: 180, h: 30, max, title: r.name }) + '</td><td class="opt">' + latencyLine(r.series, maxLat, 90, 30) + '</td></tr>';
      if (openRoute === r.name) row += '<tr class="detail"><td colspan="13" id="route-config">' + routeConfig(r) + '</td></tr>';
      return row;
    }).join('');
  }

  function routeConfig(r) {
    const c = r.config;
    if (!c) return '<span class="muted">Not in this gateway\'s config (seen in history only).</span>';
    const kv = (k, v) => '<div><span class="muted">' + k + '</span> ' + v + '</div>';
    const m = c.match;
    const auth = !c.auth ? 'none' : (c.auth.required ? 'bearer token required' : 'optional') + (c.auth.scopes.length ? '; scopes ' + esc(c.auth.scopes.join(' ')) : '');
    const rl = c.rateLimit ? esc(c.rateLimit.capacity) + ' burst, ' + esc(c.rateLimit.refillPerSecond) + '/s per ' + esc(c.rateLimit.key) + (c.rateLimit.mode === 'shadow' ? ' (shadow)' : '') : 'none';
    return '<div class="config">' + kv('match', esc((m.methods ? m.methods.join(',') + ' ' : '') + (m.host ? m.host : '') + m.path) + (m.headers ? ' headers ' + esc(JSON.stringify(m.headers)) : '')) +
      kv('service', esc(c.service) + (c.split ? ' split ' + esc(c.split.map((s) => s.service + ' ' + s.weight + '%').join(', ')) : '') + (c.stripPrefix ? ' · prefix stripped' : '')) +
      kv('auth', auth) + kv('rate limit', rl) + kv('timeout', c.timeouts && c.timeouts.request ? esc(c.timeouts.request) + ' ms' : 'service default') + '</div>';
  }

  const STATE_CLASS = { up: 'ok', 'slow-start': 'c3', draining: 'c4', ejected: 'c5', unhealthy: 'c5' };
  function renderServices(d) {
    const secs = d.bucketMs / 1000 * d.starts.length;
    $('services').innerHTML = d.services.length === 0 ? '<div class="muted">No services configured</div>' : d.services.map((s) => {
      const up = s.instances.filter((i) => i.state === 'up' || i.state === 'slow-start').length;
      return '<div class="svc" data-service="' + esc(s.name) + '"><h3>' + esc(s.name) + ' <span class="pill ' + (up === 0 ? 'bad' : up < s.instances.length ? 'warn' : 'good') + '">' + up + '/' + s.instances.length + ' serving</span>' +
        ' <span class="muted small">' + esc(s.discovery) + ' · active checks ' + (s.healthChecked ? 'on' : 'off') + ' · outlier detection ' + (s.outlierDetection ? 'on' : 'off') + '</span></h3>' +
        '<div class="hscroll"><table><thead><tr><th>instance</th><th>state</th><th>active check</th><th class="num">ejections</th><th class="num">fails in a row</th><th class="num">attempts</th><th class="num">connect err</th><th class="num">5xx</th><th class="num">timeouts</th><th class="num opt">in-flight</th><th class="num opt">latency</th><th class="num opt">p99</th></tr></thead><tbody>' +
        s.instances.map((i) => {
          const a = i.attempts;
          const total = Object.values(a).reduce((x, y) => x + y, 0);
          const detail = i.state === 'ejected' ? ' until ' + fmtTime(i.ejectedUntil) : i.state === 'slow-start' ? ' ' + Math.round(i.slowStart * 100) + '%' : '';
          return '<tr data-instance="' + esc(s.name + '/' + i.id) + '"><td class="name">' + esc(i.id) + '<div class="muted small">' + esc(i.url) + '</div></td>' +
            '<td data-k="state"><span class="dot ' + (STATE_CLASS[i.state] || '') + '"></span><span class="' + (STATE_CLASS[i.state] || '') + '">' + esc(i.state) + '</span><span class="muted">' + esc(detail) + '</span></td>' +
            '<td data-k="active" class="' + (i.active === 'unhealthy' ? 'c5' : i.active === 'unchecked' ? 'muted' : '') + '">' + esc(i.active) + '</td>' +
            cell('ejections', i.ejections, i.ejections ? 'c4' : '') + cell('consecutive', i.consecutiveFailures, i.consecutiveFailures ? 'c5' : '') + cell('attempts', fmtNum(total) + ' <span class="muted small">' + fmtRate(total / secs) + '</span>') +
            cell('connect_error', fmtNum(a.connect_error), a.connect_error ? 'c5' : '') + cell('status_5xx', fmtNum(a.status_5xx), a.status_5xx ? 'c5' : '') + cell('timeout', fmtNum(a.timeout), a.timeout ? 'c5' : '') +
            opt('inflight', i.inFlight) + opt('latency', fmtMs(i.latencyMs)) + opt('p99', fmtMs(i.p99Ms)) + '</tr>';
        }).join('') + '</tbody></table></div></div>';
    }).join('');
  }

  function renderConsumers(d) {
    const rows = (list, k) => list.length === 0 ? '<tr><td colspan="3" class="muted">none</td></tr>' : list.map((c) =>
      '<tr data-sub="' + esc(c.sub) + '"><td class="name mono">' + esc(c.sub) + '</td>' + cell('requests', fmtNum(c.requests), k === 'requests' ? '' : 'muted') + cell('s429', fmtNum(c.rateLimited), c.rateLimited ? 'c429' : '') + '</tr>').join('');
    $('consumers-requests').innerHTML = rows(d.consumers.byRequests, 'requests');
    $('consumers-limited').innerHTML = rows(d.consumers.byRateLimited, 's429');
  }

  function renderAlerts(d) {
    const active = d.alerts.active;
    const fmtValue = (kind, v) => (kind === 'error-ratio' ? fmtPct(v) : kind === 'latency-p99' ? fmtMs(v) : String(v));
    $('alert-count').textContent = String(active.length);
    $('alert-count').className = active.length ? 'c5' : '';
    $('alerts').innerHTML = (active.length === 0 ? '<div class="ok">No active alerts</div>' : active.map((a) => '<div class="alert"><b>' + esc(a.rule) + '</b> <span class="muted">' + esc(a.kind) + '</span> on <b>' +
      esc(a.subject) + '</b>: ' + esc(fmtValue(a.kind, a.value)) + ' (threshold ' + esc(fmtValue(a.kind, a.threshold)) + ') since ' + esc(fmtTime(a.since)) + '</div>').join('')) +
      (d.alerts.history.length ? '<table class="history"><tbody>' + d.alerts.history.map((e) => '<tr data-alert="' + esc(e.rule) + '"><td>' + esc(fmtTime(e.at)) + '</td><td class="' + (e.state === 'firing' ? 'c5' : 'ok') + '">' + esc(e.state) + '</td><td class="name">' + esc(e.rule) + '</td><td>' + esc(e.subject) + '</td><td class="num">' + esc(fmtValue(e.kind, e.value)) + '</td></tr>').join('') + '</tbody></table>' : '<div class="muted small">No alert changes recorded.</div>');
  }

  const SEVERITY = { warn: 'c4', bad: 'c5' };
  // The pill goes by severity, so a 'valid' certificate that expired or is about to is not green.
  const CERT_PILL = { ok: 'good', warn: 'warn', bad: 'bad' };
  const fmtUtc = (ms) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  // Absent unless the gateway runs ACME (the endpoint sends null).
  function renderCertificates(d) {
    $('certificates-panel').hidden = d.certificates === null;
    if (d.certificates === null) return;
    $('certificates').innerHTML = d.certificates.length === 0 ? '<tr><td colspan="7" class="muted">No ACME domains</td></tr>' : d.certificates.map((c) => {
      const days = c.expiresInDays;
      const expires = days === null ? '–' : c.notAfter <= d.now ? 'expired ' + fmtAge(d.now - c.notAfter) + ' ago' : 'expires in ' + days + ' day' + (days === 1 ? '' : 's');
      return '<tr data-domain="' + esc(c.domain) + '" data-severity="' + esc(c.severity) + '"><td class="name">' + esc(c.domain) + '</td>' +
        '<td data-k="state"><span class="pill ' + (c.state === 'pending' || c.state === 'ordering' ? '' : CERT_PILL[c.severity]) + '">' + esc(c.state) + '</span></td><td data-k="issuer" class="opt">' + esc(c.issuer ?? '–') + '</td>' +
        '<td data-k="notAfter" class="opt">' + (c.notAfter ? fmtUtc(c.notAfter) : '–') + '</td><td data-k="expires" class="' + (SEVERITY[c.severity] || '') + '">' + expires + '</td>' +
        '<td data-k="error" class="reasons ' + (c.lastError ? 'c5' : 'muted') + '">' + esc(c.lastError ?? '–') + '</td>' +
        '<td data-k="retry">' + (c.retryAt ? 'in ' + fmtAge(c.retryAt - d.now) + ' <span class="muted">(' + esc(fmtUtc(c.retryAt)) + ')</span>' : '–') + '</td></tr>';
    }).join('');
  }

  function renderFailures(d) {
    const url = d.meta.traceUrl;
    $('failures').innerHTML = d.failures.length === 0 ? '<tr><td colspan="10" class="muted">No failed or slow requests on this gateway</td></tr>' : d.failures.map((f) => {
      const trace = !f.traceId ? '<span class="muted">–</span>' : url ? '<a class="mono trace" href="' + esc(url.split('{traceId}').join(encodeURIComponent(f.traceId))) + '" target="_blank" rel="noopener">' + esc(f.traceId) + '</a>' : '<span class="mono trace">' + esc(f.traceId) + '</span>';
      return '<tr data-status="' + f.status + '"><td>' + esc(fmtTime(f.at)) + '</td><td data-k="status" class="num ' + (f.status >= 500 ? 'c5' : f.status === 429 ? 'c429' : f.status >= 400 ? 'c4' : 'c3') + '">' + esc(f.status) + '</td>' +
        '<td data-k="method">' + esc(f.method) + '</td><td data-k="path" class="mono">' + esc(f.path) + '</td><td data-k="route" class="opt">' + esc(f.route) + '</td><td data-k="reason" title="' + esc(f.message ?? '') + '">' + esc(f.reason ?? 'slow') + (f.upstreamFailure ? ' <span class="muted">(' + esc(f.upstreamFailure) + ')</span>' : '') + '</td>' +
        '<td data-k="instance">' + esc(f.instance ?? '–') + '</td><td data-k="attempts" class="num">' + esc(f.attempts) + '</td><td class="num">' + fmtMs(f.durationMs) + '</td>' +
        '<td data-k="trace">' + trace + (f.traceId ? ' <button class="copy" data-copy="' + esc(f.traceId) + '" title="copy trace id">copy</button>' : '') + '</td></tr>';
    }).join('');
  }

  // Columns to points: { t, requests, s2xx, s3xx, s4xx, s429, s5xx, p99Ms } per bucket.
  function points(d, s) {
    return s.requests.map((requests, i) => ({ t: d.starts[i], requests, s2xx: requests - s.s3xx[i] - s.s4xx[i] - s.s5xx[i], s3xx: s.s3xx[i], s4xx: s.s4xx[i], s429: s.s429[i], s5xx: s.s5xx[i], p99Ms: s.p99Ms[i] }));
  }

  function render(d) {
    d.fleet.series = points(d, d.fleet.series);
    for (const r of d.routes) r.series = points(d, r.series);
    last = d;
    renderMeta(d); renderFleet(d); renderAlerts(d); renderGateways(d); renderRoutes(d); renderServices(d); renderConsumers(d); renderCertificates(d); renderFailures(d);
  }

  document.addEventListener('click', (ev) => {
    const copy = ev.target.closest('button.copy');
    if (copy) {
      const text = copy.dataset.copy;
      (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject()).catch(() => {
        const sel = getSelection(); const r = document.createRange(); r.selectNodeContents(copy.previousElementSibling); sel.removeAllRanges(); sel.addRange(r);
      });
      copy.textContent = 'copied';
      return;
    }
    const rangeButton = ev.target.closest('#ranges button');
    if (rangeButton) {
      range = rangeButton.dataset.range;
      localStorage.setItem('edgeway-range', range);
      poll();
      return;
    }
    const row = ev.target.closest('tr.route');
    if (row) {
      openRoute = openRoute === row.dataset.route ? null : row.dataset.route;
      if (last) renderRoutes(last);
    }
  });

  document.addEventListener('keydown', (ev) => {
    const row = ev.target.closest && ev.target.closest('tr.route');
    if (row && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      row.click();
    }
  });

  let timer;
  async function poll() {
    clearTimeout(timer);
    try {
      const res = await fetch(STATS_PATH + '?range=' + encodeURIComponent(range), { headers: token ? { authorization: 'Bearer ' + token } : {}, cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      render(await res.json());
    } catch (err) {
      $('status').className = 'status stale';
      $('status').textContent = 'stale: ' + err.message;
    } finally {
      timer = setTimeout(poll, POLL_MS);
    }
  }
  poll();
})();
`;
