// swift-format-ignore-file
// (the document below is HTML, CSS and JavaScript, laid out for reading as such)

/// The live page at `GET /` for a browser (SPEC §14): one self-contained document — no external scripts, fonts or
/// styles, which its Content-Security-Policy enforces — that refreshes itself from the JSON API every two seconds.
/// Services in trouble come first and are marked in red or amber; each has its rates, error share, p99, in-flight
/// and ejected endpoints, two small charts of the daemon's history (p99 latency; requests and 5xx per second) and
/// the breaker buttons. The page holds no data itself, so it is served without the admin token; the token the user
/// enters is kept in the page's memory only and sent with each API call.
enum AdminPage {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
        + "img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outrigger</title>
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#687083; --line:#e1e4ea;
          --ok:#1f9d55; --warn:#c77c02; --bad:#d0312d; --accent:#2d6cdf; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; flex-wrap:wrap; gap:12px 24px; align-items:center; padding:14px 20px; background:#1d2330; color:#fff; }
  header h1 { font-size:18px; margin:0; letter-spacing:.02em; }
  header .meta { color:#b8c0d0; font-size:13px; }
  header .summary { font-weight:600; padding:3px 10px; border-radius:12px; background:var(--ok); }
  header .summary.bad { background:var(--bad); } header .summary.warn { background:var(--warn); }
  header label { margin-left:auto; font-size:13px; color:#b8c0d0; }
  header input { margin-left:6px; padding:4px 6px; border-radius:4px; border:1px solid #475067; background:#2a3142; color:#fff; width:180px; }
  #banner { display:none; margin:12px 20px 0; padding:10px 14px; border-radius:6px; background:#fdecea; color:#8a1c19; border:1px solid #f3b8b5; }
  #notes div { margin:10px 20px 0; padding:8px 14px; border-radius:6px; background:#fff4e0; color:#7a4a00; border:1px solid #f0cf99; font-size:13px; }
  main { display:grid; grid-template-columns:repeat(auto-fill, minmax(360px, 1fr)); gap:14px; padding:16px 20px; }
  .card { background:var(--card); border:1px solid var(--line); border-left:6px solid var(--ok); border-radius:8px; padding:12px 14px; }
  .card.warn { border-left-color:var(--warn); } .card.bad { border-left-color:var(--bad); background:#fff7f7; }
  .top { display:flex; align-items:baseline; gap:10px; }
  .name { font-size:17px; font-weight:700; }
  .state { font-size:12px; font-weight:700; text-transform:uppercase; padding:2px 8px; border-radius:10px; color:#fff; background:var(--ok); }
  .state.open { background:var(--bad); } .state.half_open { background:var(--warn); }
  .forced { font-size:12px; color:var(--muted); }
  .why { color:var(--bad); font-size:12px; margin-top:4px; min-height:1em; }
  .numbers { display:grid; grid-template-columns:repeat(5, 1fr); gap:12px; margin:10px 0 6px; }
  .numbers div { display:flex; flex-direction:column; }
  .numbers b { font-size:16px; font-variant-numeric:tabular-nums; white-space:nowrap; }
  .numbers span { font-size:11px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
  .numbers b.bad { color:var(--bad); } .numbers b.warn { color:var(--warn); }
  .charts { display:grid; grid-template-columns:1fr 1fr; gap:10px; }
  .chart span { font-size:11px; color:var(--muted); }
  svg { width:100%; height:54px; background:#fafbfc; border:1px solid var(--line); border-radius:4px; display:block; }
  .buttons { display:flex; gap:8px; margin-top:10px; align-items:center; }
  button { font:inherit; font-size:13px; padding:4px 12px; border-radius:5px; border:1px solid var(--line); background:#fff; cursor:pointer; }
  button:hover { border-color:var(--accent); color:var(--accent); }
  button[data-action=open] { color:var(--bad); } button[data-action=close] { color:var(--ok); }
  .result { font-size:12px; color:var(--muted); }
  footer { padding:0 20px 16px; color:var(--muted); font-size:12px; }
</style>
</head>
<body>
<header>
  <h1>Outrigger</h1>
  <span class="summary" id="summary">loading…</span>
  <span class="meta" id="meta"></span>
  <label>admin token <input id="token" type="password" autocomplete="off" placeholder="when admin.token is set"></label>
</header>
<div id="banner" role="alert"></div>
<div id="notes"></div>
<main id="services"></main>
<footer>Refreshes every 2 s from <code>/history</code>, <code>/services</code>, <code>/breakers</code> and <code>/stats</code>.
Charts: the last five minutes, one point per second, newest on the right. The API is described at <code>/openapi.json</code>.</footer>
<script>
"use strict";
let token = "";          // kept in this page only
let lastData = null;
const $ = (id) => document.getElementById(id);
$("token").addEventListener("change", (e) => { token = e.target.value.trim(); refresh(); });

async function api(path, method) {
  const headers = { "Accept": "application/json" };
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(path, { method: method || "GET", headers, cache: "no-store" });
  const text = await response.text();
  let body = null;
  try { body = JSON.parse(text); } catch (_) { body = { message: text }; }
  if (!response.ok) { const e = new Error(body.message || response.statusText); e.status = response.status; e.body = body; throw e; }
  return body;
}

function banner(text) { const b = $("banner"); b.textContent = text || ""; b.style.display = text ? "block" : "none"; }

function fmt(value, digits) { return value == null ? "–" : value.toFixed(digits); }
function fmtMs(ms) { return ms == null ? "–" : ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : ms.toFixed(ms < 10 ? 2 : 1) + " ms"; }
function severity(s) {
  if (s.breaker === "open") return 3;
  if (s.breaker === "half_open") return 2;
  const share = (s.recent && s.recent.error_share) || 0;
  return share >= 0.05 || s.ejected > 0 ? 1 + share : share;
}

function svgEl(name, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  return el;
}

// Both charts span the daemon's whole history (capacity ticks), newest at the right edge.
function latencyChart(values, slots) {
  const svg = svgEl("svg", { viewBox: "0 0 300 54", preserveAspectRatio: "none", "data-chart": "latency" });
  const max = Math.max(1, ...values.filter((v) => v != null)), w = 300 / slots, offset = slots - values.length;
  let d = "", pen = false, last = null;
  values.forEach((v, i) => {
    if (v == null) { pen = false; return; }
    const x = (offset + i + 0.5) * w, y = 52 - (v / max) * 48;
    d += (pen ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1); pen = true; last = [x, y];
  });
  if (d) svg.appendChild(svgEl("path", { d, fill: "none", stroke: "#2d6cdf", "stroke-width": "1.5", "vector-effect": "non-scaling-stroke" }));
  if (last) svg.appendChild(svgEl("rect", { x: last[0] - 1.5, y: last[1] - 1.5, width: 3, height: 3, fill: "#2d6cdf" }));
  return [svg, "p99 latency · max " + fmtMs(values.some((v) => v != null) ? max : null)];
}

function errorChart(requests, errors, slots) {
  const svg = svgEl("svg", { viewBox: "0 0 300 54", preserveAspectRatio: "none", "data-chart": "errors" });
  const max = Math.max(1, ...requests), w = 300 / slots, offset = slots - requests.length;
  requests.forEach((r, i) => {
    const x = (offset + i) * w;
    if (r > 0) svg.appendChild(svgEl("rect", { x, y: 52 - (r / max) * 48, width: Math.max(w, 1), height: (r / max) * 48, fill: "#9fb1d3" }));
    const e = errors[i] || 0;
    if (e > 0) svg.appendChild(svgEl("rect", { x, y: 52 - (e / max) * 48, width: Math.max(w, 1), height: (e / max) * 48, fill: "#d0312d" }));
  });
  return [svg, "req/s, 5xx in red · max " + max];
}

function number(label, value, cls, key) {
  const div = document.createElement("div");
  const b = document.createElement("b"); b.textContent = value; b.dataset.field = key; if (cls) b.className = cls;
  const span = document.createElement("span"); span.textContent = label;
  div.append(b, span); return div;
}

function card(s) {
  const el = document.createElement("section");
  const sev = severity(s);
  el.className = "card" + (sev >= 3 ? " bad" : sev >= 1 ? " warn" : "");
  el.dataset.service = s.name; el.dataset.state = s.breaker;
  const top = document.createElement("div"); top.className = "top";
  const name = document.createElement("span"); name.className = "name"; name.textContent = s.name;
  const state = document.createElement("span"); state.className = "state " + s.breaker; state.textContent = s.breaker.replace("_", "-");
  top.append(name, state);
  if (s.forced) { const f = document.createElement("span"); f.className = "forced"; f.textContent = "forced"; top.append(f); }
  const why = document.createElement("div"); why.className = "why";
  if (s.lastFailure) why.textContent = "last failure: " + s.lastFailure.code + (s.lastFailure.endpoint ? " at " + s.lastFailure.endpoint : "") + " · " + s.lastFailure.time;
  const r = s.recent || {};
  const share = r.error_share;
  const numbers = document.createElement("div"); numbers.className = "numbers";
  numbers.append(
    number("req/s", fmt(r.requests_per_second, 1), "", "rps"),
    number("errors", share == null ? "–" : (share * 100).toFixed(1) + "%", share >= 0.05 ? "bad" : share > 0 ? "warn" : "", "errors"),
    number("p99", fmtMs(r.p99_ms), "", "p99"),
    number("in flight", String(s.inFlight), "", "in_flight"),
    number("ejected", s.ejected + "/" + s.endpoints, s.ejected > 0 ? "warn" : "", "ejected"));
  const charts = document.createElement("div"); charts.className = "charts";
  for (const [svg, caption] of [latencyChart(s.p99_ms, s.slots), errorChart(s.requests, s.errors, s.slots)]) {
    const c = document.createElement("div"); c.className = "chart";
    const l = document.createElement("span"); l.textContent = caption;
    c.append(svg, l); charts.append(c);
  }
  const buttons = document.createElement("div"); buttons.className = "buttons";
  for (const action of ["open", "close", "reset"]) {
    const b = document.createElement("button"); b.textContent = action; b.dataset.action = action;
    b.title = action === "reset" ? "back to automatic, fresh counts" : "force the breaker " + action;
    b.addEventListener("click", () => breaker(s.name, action, result));
    buttons.append(b);
  }
  const result = document.createElement("span"); result.className = "result"; result.textContent = actionNotes[s.name] || "";
  buttons.append(result);
  el.append(top, why, numbers, charts, buttons);
  return el;
}

const actionNotes = {};
async function breaker(name, action, result) {
  try {
    const b = await api("/breakers/" + encodeURIComponent(name) + "/" + action, "POST");
    actionNotes[name] = action + ": now " + b.state + (b.forced ? " (forced)" : "");
    banner("");
  } catch (e) {
    actionNotes[name] = action + " failed: " + e.message;
    if (e.status === 401) banner("This admin port needs a token: enter it above (it stays in this page only).");
  }
  result.textContent = actionNotes[name];
  refresh();
}

// The history is fetched whole once, then only the ticks after the last one held (?since=), and kept here.
let kept = null;
function padFront(values, n, fill) { return Array(Math.max(0, n - values.length)).fill(fill).concat(values.slice(-n)); }
async function loadHistory() {
  const last = kept && kept.times.length ? kept.times[kept.times.length - 1] : null;
  const h = await api("/history" + (last != null ? "?since=" + last : ""));
  const n = h.times_ms.length;
  // A first fetch, a page left in the background past the ring, or a restarted daemon: start over from this answer.
  const fresh = last == null || n >= h.capacity || (n > 0 && h.times_ms[0] - last > 5000 * h.interval_seconds);
  if (fresh && last != null) { kept = null; return loadHistory(); }
  const base = kept ? kept.times.length : 0;
  const times = (kept ? kept.times : []).concat(h.times_ms);
  const drop = Math.max(0, times.length - h.capacity);
  const columns = {};
  for (const s of h.services) {
    const old = kept && kept.columns[s.name] || { requests: Array(base).fill(0), errors: Array(base).fill(0), p99_ms: Array(base).fill(null) };
    columns[s.name] = {
      requests: padFront(old.requests, base, 0).concat(padFront(s.requests, n, 0)).slice(drop),
      errors: padFront(old.errors, base, 0).concat(padFront(s.errors, n, 0)).slice(drop),
      p99_ms: padFront(old.p99_ms, base, null).concat(padFront(s.p99_ms, n, null)).slice(drop),
    };
  }
  kept = { times: times.slice(drop), columns };
  return { capacity: h.capacity, services: h.services.map((s) => Object.assign({}, s, columns[s.name])) };
}

async function refresh() {
  try {
    const [history, services, breakers, stats] = await Promise.all([loadHistory(), api("/services"), api("/breakers"), api("/stats")]);
    const endpoints = {}, forced = {}, failures = {};
    for (const s of services.services) endpoints[s.name] = s;
    for (const b of breakers.breakers) { forced[b.service] = b.forced; failures[b.service] = b.last_failures && b.last_failures[0]; }
    const list = history.services.map((h) => {
      const e = endpoints[h.name] || { endpoints: [], in_flight: 0 };
      return Object.assign({}, h, { slots: history.capacity, forced: forced[h.name], lastFailure: h.breaker !== "closed" ? failures[h.name] : null,
        inFlight: e.in_flight, endpoints: e.endpoints.length, ejected: e.endpoints.filter((x) => !x.healthy).length });
    });
    list.sort((a, b) => severity(b) - severity(a));
    const main = $("services");
    main.replaceChildren(...list.map(card));
    const open = list.filter((s) => s.breaker === "open").length;
    const half = list.filter((s) => s.breaker === "half_open").length;
    const erring = list.filter((s) => s.breaker === "closed" && severity(s) >= 1).length;
    const summary = $("summary");
    summary.textContent = open ? open + " breaker" + (open > 1 ? "s" : "") + " open" : half ? half + " half-open" :
      erring ? erring + " service" + (erring > 1 ? "s" : "") + " erring" : "all " + list.length + " healthy";
    summary.className = "summary" + (open ? " bad" : half || erring ? " warn" : "");
    document.title = (open ? "(" + open + " open) " : "") + "Outrigger";
    $("meta").textContent = location.host + " · up " + Math.round(stats.uptime_seconds) + " s · " + stats.requests + " requests · " +
      stats.connections.open + " connections · updated " + new Date().toLocaleTimeString();
    // Discovery that is not synced affects every etcd service: one line above the cards.
    const notes = [];
    const d = services.discovery;
    if (d && d.state !== "synced") notes.push("etcd discovery " + d.state.replace("_", " ") + " since " + d.since +
      (d.last_error ? ": " + d.last_error : "") + (d.from_cache ? " (serving from the cache)" : ""));
    if (stats.span_export && stats.span_export.dropped > 0) notes.push(stats.span_export.dropped + " spans dropped so far (collector " + stats.span_export.endpoint + ")");
    $("notes").replaceChildren(...notes.map((text) => { const div = document.createElement("div"); div.textContent = text; return div; }));
    document.body.dataset.updated = String(Date.now());
    banner("");
  } catch (e) {
    if (e.status === 401) banner(token ? "The admin port refused this token." : "This admin port needs a token: enter it above (it stays in this page only).");
    else banner("Cannot read the admin API: " + e.message);
  }
}

refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""#
}
