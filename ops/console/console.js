// The operator's console: signs an admin in (POST /v1/auth/login), then
// every 10 s reads /console/data and /metrics with the access token and
// draws them. No framework, no build step.
'use strict';

const REFRESH_MS = 10000;
let token = sessionStorage.getItem('rg-console-token');
let timer = null;

const $ = (id) => document.getElementById(id);

function text(el, value) { el.textContent = value; }

function row(cells, classes) {
  const tr = document.createElement('tr');
  cells.forEach((c, i) => {
    const td = document.createElement('td');
    td.textContent = c;
    if (classes && classes[i]) td.className = classes[i];
    tr.appendChild(td);
  });
  return tr;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

async function call(path, accept) {
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token, Accept: accept } });
  if (r.status === 401 || r.status === 403) { signOut(r.status === 403 ? 'this account is not an admin' : ''); throw new Error('signed out'); }
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return accept === 'application/json' ? r.json() : r.text();
}

// Prometheus text: series name with labels -> value.
function parseMetrics(body) {
  const out = new Map();
  for (const line of body.split('\n')) {
    if (!line || line[0] === '#') continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function fmt(v, digits) {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

// A line chart of several series over the hour; values share one scale.
function chart(canvas, times, series) {
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height, left = 48, bottom = 20;
  ctx.clearRect(0, 0, w, h);
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const now = Date.now() / 1000, t0 = now - 3600;
  const x = (t) => left + ((t - t0) / 3600) * (w - left - 8);
  const y = (v) => 8 + (1 - v / max) * (h - bottom - 8);
  ctx.strokeStyle = '#d8dde6';
  ctx.fillStyle = '#6b7280';
  ctx.font = '11px system-ui';
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(w - 8, y(v)); ctx.stroke();
    ctx.fillText(v >= 100 ? v.toFixed(0) : v.toFixed(1), 4, y(v) + 4);
  }
  for (let m = 60; m >= 0; m -= 15) ctx.fillText(m ? '-' + m + ' min' : 'now', x(now - m * 60) - 16, h - 4);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    s.values.forEach((v, i) => (i ? ctx.lineTo(x(times[i]), y(v)) : ctx.moveTo(x(times[i]), y(v))));
    ctx.stroke();
  }
  canvas.dataset.points = String(times.length);
}

function drawHistory(history, sampleSeconds) {
  const times = history.map((p) => p.t);
  // The figures: the interval still running, or the one before it while
  // the running one is too short to say much.
  const n = history.length;
  const last = (n >= 2 && history[n - 1].t - history[n - 2].t < sampleSeconds / 2 ? history[n - 2] : history[n - 1]) || {};
  text($('requests-now'), fmt(last.requestsPerS, 1));
  text($('errors-now'), String(last.errors5xx ?? 0));
  text($('p50-now'), fmt(last.p50Ms, 1) + ' ms');
  text($('p99-now'), fmt(last.p99Ms, 1) + ' ms');
  text($('q99-now'), fmt(last.queryP99Ms, 1) + ' ms');
  const css = getComputedStyle(document.documentElement);
  chart($('requests-chart'), times, [{ color: css.getPropertyValue('--p50'), values: history.map((p) => p.requestsPerS) }]);
  chart($('latency-chart'), times, [
    { color: css.getPropertyValue('--p50'), values: history.map((p) => p.p50Ms) },
    { color: css.getPropertyValue('--p99'), values: history.map((p) => p.p99Ms) },
    { color: css.getPropertyValue('--q99'), values: history.map((p) => p.queryP99Ms) },
  ]);
}

function drawPools(metrics) {
  const pools = new Map();
  for (const [series, value] of metrics) {
    const m = /^rg_pool_(in_use|connections|waits_total|timeouts_total)\{(.*)\}$/.exec(series);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const key = labels.store ? labels.store + (labels.adapter ? ' (' + labels.adapter + ')' : '') : m[2];
    if (!pools.has(key)) pools.set(key, {});
    pools.get(key)[m[1]] = value;
  }
  fill($('pools'), [...pools].map(([k, p]) =>
    row([k, String(p.in_use ?? 0), String(p.connections ?? 0), String(p.waits_total ?? 0), String(p.timeouts_total ?? 0)],
        ['', 'num', 'num', 'num', 'num'])));
}

async function refresh() {
  try {
    const [data, metricsText] = await Promise.all([call('/console/data', 'application/json'), call('/metrics', 'text/plain')]);
    fill($('stores'), Object.entries(data.stores).map(([k, v]) => row([k, v], ['', v === 'up' ? 'up' : 'down'])));
    drawHistory(data.history, data.sampleSeconds);
    text($('requests-hour'), String(data.requestsLastHour));
    drawPools(parseMetrics(metricsText));
    fill($('slow-queries'), data.slowQueries.map((q) =>
      row([q.name, String(q.count), String(q.errors), fmt(q.meanMs, 2), fmt(q.p99Ms, 1)], ['', 'num', 'num', 'num', 'num'])));
    const b = data.backups;
    if (!b.configured) {
      text($('last-verify'), 'no repository (RG_BACKUP_REPO is not set)');
      $('backups').replaceChildren();
    } else {
      text($('last-verify'), b.lastVerify || 'none yet');
      $('backups').replaceChildren(...b.lines.map((l) => { const li = document.createElement('li'); li.textContent = l; return li; }));
    }
    text($('updated'), 'updated ' + new Date(data.now * 1000).toISOString().replace('.000', ''));
  } catch (e) {
    if (token) text($('updated'), 'update failed: ' + e.message);
  }
}

async function loadIndexes() {
  try { text($('indexes'), await call('/console/indexes', 'text/plain')); } catch (e) { text($('indexes'), e.message); }
}

function show(signedIn) {
  $('signin').hidden = signedIn;
  $('console').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  clearInterval(timer);
  if (signedIn) {
    refresh();
    loadIndexes();
    timer = setInterval(refresh, REFRESH_MS);
  }
}

function signOut(why) {
  token = null;
  sessionStorage.removeItem('rg-console-token');
  text($('signin-error'), why || '');
  show(false);
}

$('signin').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  text($('signin-error'), '');
  const r = await fetch('/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: $('email').value, password: $('password').value }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { text($('signin-error'), body.detail || body.title || 'sign-in failed'); return; }
  token = body.accessToken;
  sessionStorage.setItem('rg-console-token', token);
  show(true);
});
$('signout').addEventListener('click', () => signOut(''));
show(Boolean(token));
