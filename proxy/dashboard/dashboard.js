/* meshd dashboard. Polls /admin/metrics.json every second and the node's meshagent
 * (relayed by meshd at /agent/api/v2/...) every few seconds; no framework, no build step.
 * Every figure shown carries data-field (and its router/client/endpoint on an ancestor),
 * so tests can find it. */
"use strict";

const METRICS_MS = 1000;
const TRACES_MS = 3000;
const TRACE_LIMIT = 25;
const HISTORY = 60; /* req/s samples kept per router for the sparkline */

const state = {
  prev: null,      /* {t, values} of the previous metrics sample */
  history: {},     /* router -> [req/s...] */
  tick: 0,
  selected: null,  /* trace id shown in the waterfall */
};

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"})[c]);
}

function int(n) {
  return Math.round(n).toLocaleString("en-US");
}

function ms(v) {
  if (v === undefined || v === null) return "–";
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  if (v >= 100) return v.toFixed(0) + " ms";
  if (v >= 10) return v.toFixed(1) + " ms";
  return v.toFixed(2) + " ms";
}

function us(v) {
  return ms(v / 1000);
}

function rate(success, failures) {
  const total = success + failures;
  if (total === 0) return null;
  return success / total * 100;
}

function rateText(r) {
  return r === null ? "–" : r.toFixed(2) + "%";
}

function rateClass(r) {
  if (r === null) return "";
  return r >= 99.5 ? "rate-good" : r >= 95 ? "rate-warn" : "rate-bad";
}

/* ---- metrics -> model ---------------------------------------------------------------- */

const SERVER_RE = /^rt\/([^/]+)\/server\/(.+)\/(\d+)\/(requests|success|failures|connections|pending|request_latency_ms\.(?:p50|p95|p99|count))$/;
const CLIENT_RE = /^rt\/([^/]+)\/client\/(.+)\/(requests|success|failures|connections|pending|loadbalancer\/size|loadbalancer\/available|failure_accrual\/removed|failure_accrual\/removals|request_latency_ms\.(?:p50|p95|p99))$/;
const EP_RE = /^rt\/([^/]+)\/client\/(.+)\/loadbalancer\/endpoint_(load|idle|removed|present)\/([^/]+)$/;

function model(values) {
  const routers = {};
  const router = name => routers[name] || (routers[name] = {name, servers: {}, clients: {}});
  const client = (r, id) => r.clients[id] || (r.clients[id] = {id, endpoints: {}});
  for (const [k, v] of Object.entries(values)) {
    let m = SERVER_RE.exec(k);
    if (m) {
      const r = router(m[1]);
      const addr = m[2] + ":" + m[3];
      (r.servers[addr] || (r.servers[addr] = {addr}))[m[4]] = v;
      continue;
    }
    m = EP_RE.exec(k);
    if (m) {
      const c = client(router(m[1]), m[2]);
      (c.endpoints[m[4]] || (c.endpoints[m[4]] = {addr: m[4]}))[m[3]] = v;
      continue;
    }
    m = CLIENT_RE.exec(k);
    if (m) client(router(m[1]), m[2])[m[3]] = v;
  }
  for (const r of Object.values(routers)) {
    const servers = Object.values(r.servers);
    const sum = f => servers.reduce((a, s) => a + (s[f] || 0), 0);
    for (const f of ["requests", "success", "failures", "connections", "pending"]) r[f] = sum(f);
    /* latency of the busiest server (a router usually has one) */
    const busiest = servers.slice().sort((a, b) => (b.requests || 0) - (a.requests || 0))[0];
    r.lat = busiest || {};
  }
  return routers;
}

/* ---- rendering ----------------------------------------------------------------------- */

function fig(label, field, value, sub, cls) {
  return `<div class="fig"><div class="label">${esc(label)}</div>` +
    `<div class="value ${cls || ""}" data-field="${field}">${esc(value)}</div>` +
    (sub ? `<div class="sub">${sub}</div>` : "") + "</div>";
}

function endpointHtml(ep, c) {
  const present = ep.present || 0;
  const removed = ep.removed || 0;
  const st = present === 0 ? "gone" : removed > 0 ? "removed" : "up";
  const title = st === "up" ? "available" : st === "removed" ?
    `removed by failure accrual in ${removed} worker(s)` : "no longer in the set";
  return `<span class="ep" data-endpoint="${esc(ep.addr)}" data-state="${st}" title="${esc(title)}">` +
    `<span class="st"></span>${esc(ep.addr)}` +
    `<span class="ld"><span data-field="ep-load">${int(ep.load || 0)}</span>` +
    ` · <span data-field="ep-idle">${int(ep.idle || 0)}</span></span></span>`;
}

function clientsHtml(r, rates) {
  const clients = Object.values(r.clients).sort((a, b) => a.id.localeCompare(b.id));
  if (clients.length === 0) return "";
  let h = '<div class="clients"><table><thead><tr><th>client</th><th class="num">req/s</th>' +
    '<th class="num">requests</th><th class="num">success</th><th class="num">p99</th>' +
    '<th class="num">conns</th><th class="num">pending</th><th class="num">up/eps</th>' +
    "<th>endpoints (in flight · idle conns)</th></tr></thead><tbody>";
  for (const c of clients) {
    const sr = rate(c.success || 0, c.failures || 0);
    const eps = Object.values(c.endpoints).filter(e => (e.present || 0) > 0 || (e.load || 0) > 0)
      .sort((a, b) => a.addr.localeCompare(b.addr, "en", {numeric: true}));
    /* distinct endpoints (the loadbalancer/* gauges are summed over workers) */
    const inSet = eps.filter(e => (e.present || 0) > 0);
    const up = inSet.filter(e => (e.removed || 0) === 0).length;
    const lbTitle = `endpoints up / in the set; summed over workers: loadbalancer/size ` +
      `${int(c["loadbalancer/size"] || 0)}, available ${int(c["loadbalancer/available"] || 0)}, ` +
      `failure_accrual/removed ${int(c["failure_accrual/removed"] || 0)}, ` +
      `removals ${int(c["failure_accrual/removals"] || 0)}`;
    h += `<tr data-client="${esc(c.id)}"><td class="id">${esc(c.id)}</td>` +
      `<td class="num" data-field="rps">${rates[c.id] === undefined ? "–" : rates[c.id].toFixed(1)}</td>` +
      `<td class="num" data-field="requests">${int(c.requests || 0)}</td>` +
      `<td class="num ${rateClass(sr)}" data-field="success-rate">${rateText(sr)}</td>` +
      `<td class="num" data-field="p99">${ms(c["request_latency_ms.p99"])}</td>` +
      `<td class="num" data-field="connections">${int(c.connections || 0)}</td>` +
      `<td class="num" data-field="pending">${int(c.pending || 0)}</td>` +
      `<td class="num" title="${esc(lbTitle)}">` +
      `<span data-field="lb-up">${up}</span>/<span data-field="lb-size">${inSet.length}</span></td>` +
      `<td><div class="eps">${eps.map(e => endpointHtml(e, c)).join("") ||
        '<span class="hint">–</span>'}</div></td></tr>`;
  }
  return h + "</tbody></table></div>";
}

function renderRouters(routers, rates, dt) {
  const el = document.getElementById("routers");
  const names = Object.keys(routers).sort();
  if (names.length === 0) {
    el.innerHTML = '<p class="empty">no router has metrics yet</p>';
    return;
  }
  let h = "";
  for (const name of names) {
    const r = routers[name];
    const sr = rate(r.success, r.failures);
    const rps = rates.routers[name];
    h += `<div class="router" data-router="${esc(name)}">` +
      `<div class="router-head"><span class="name">${esc(name)}</span>` +
      `<span class="servers">${Object.keys(r.servers).map(esc).join(", ")}</span>` +
      `<canvas width="180" height="32" data-spark="${esc(name)}" title="req/s, last minute"></canvas></div>` +
      '<div class="figures">' +
      fig("req/s", "rps", rps === undefined ? "–" : rps.toFixed(1), dt ? `over ${dt.toFixed(1)} s` : "") +
      fig("success rate", "success-rate", rateText(sr),
        `<span data-field="success">${int(r.success)}</span> ok · ` +
        `<span data-field="failures">${int(r.failures)}</span> failed`, rateClass(sr)) +
      fig("requests", "requests", int(r.requests), "since start") +
      fig("p50", "p50", ms(r.lat["request_latency_ms.p50"]), "latency") +
      fig("p95", "p95", ms(r.lat["request_latency_ms.p95"]), "latency") +
      fig("p99", "p99", ms(r.lat["request_latency_ms.p99"]), "latency") +
      fig("connections", "connections", int(r.connections), "from clients") +
      fig("pending", "pending", int(r.pending), "in flight") +
      "</div>" + clientsHtml(r, rates.clients[name] || {}) + "</div>";
  }
  el.innerHTML = h;
  for (const c of el.querySelectorAll("canvas[data-spark]")) spark(c, state.history[c.dataset.spark] || []);
}

function spark(canvas, data) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  if (data.length < 2) return;
  const max = Math.max(1, ...data);
  g.beginPath();
  data.forEach((v, i) => {
    const x = w - (data.length - 1 - i) * (w / (HISTORY - 1));
    const y = h - 2 - (v / max) * (h - 4);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.strokeStyle = "#2f6fdd";
  g.lineWidth = 1.5;
  g.stroke();
}

function setStatus(st, text) {
  const s = document.getElementById("status");
  s.dataset.state = st;
  document.getElementById("status-text").textContent = text;
}

async function pollMetrics() {
  try {
    const res = await fetch("/admin/metrics.json", {cache: "no-store"});
    if (!res.ok) throw new Error("HTTP " + res.status);
    const values = await res.json();
    const now = performance.now();
    const routers = model(values);
    const rates = {routers: {}, clients: {}};
    let dt = 0;
    if (state.prev) {
      dt = (now - state.prev.t) / 1000;
      for (const [name, r] of Object.entries(routers)) {
        const before = state.prev.routers[name];
        if (!before || dt <= 0) continue;
        rates.routers[name] = Math.max(0, r.requests - before.requests) / dt;
        const h = state.history[name] || (state.history[name] = []);
        h.push(rates.routers[name]);
        if (h.length > HISTORY) h.shift();
        rates.clients[name] = {};
        for (const c of Object.values(r.clients)) {
          const b = before.clients[c.id];
          if (b) rates.clients[name][c.id] = Math.max(0, (c.requests || 0) - (b.requests || 0)) / dt;
        }
      }
    }
    state.prev = {t: now, routers};
    renderRouters(routers, rates, dt);
    state.tick++;
    document.getElementById("routers").dataset.tick = String(state.tick);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
    setStatus("ok", "live");
  } catch (e) {
    setStatus("down", "meshd unreachable (" + e.message + ")");
  }
}

/* ---- traces -------------------------------------------------------------------------- */

async function agent(path) {
  const res = await fetch("/agent/api/v2/" + path, {cache: "no-store"});
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    const msg = body && body.error ? body.error : "HTTP " + res.status;
    throw new Error(res.status === 502 || res.status === 504 ? "agent unreachable: " + msg : msg);
  }
  return body;
}

function traceSummary(spans) {
  const ids = new Set(spans.map(s => s.id));
  const roots = spans.filter(s => !s.parentId || !ids.has(s.parentId));
  const root = roots.sort((a, b) => (a.timestamp || 0) - (b.timestamp || 0))[0] || spans[0];
  const start = Math.min(...spans.map(s => s.timestamp || Infinity));
  const end = Math.max(...spans.map(s => (s.timestamp || 0) + (s.duration || 0)));
  return {
    id: root.traceId, root, start, duration: end - start, n: spans.length,
    error: spans.some(s => s.tags && s.tags.error !== undefined),
  };
}

function svcName(s) {
  return (s.localEndpoint && s.localEndpoint.serviceName) || "?";
}

async function pollTraces() {
  const errEl = document.getElementById("traces-error");
  try {
    const traces = await agent(`traces?limit=${TRACE_LIMIT}`);
    errEl.hidden = true;
    const rows = (traces || []).filter(t => t.length).map(traceSummary)
      .sort((a, b) => b.start - a.start);
    const tbody = document.querySelector("#traces tbody");
    tbody.innerHTML = rows.map(t =>
      `<tr data-trace-id="${esc(t.id)}" data-spans="${t.n}" class="${t.id === state.selected ? "selected" : ""}">` +
      `<td>${esc(t.root.name || "?")}${t.error ? '<span class="err-tag">error</span>' : ""}` +
      `<span class="svc">${esc(svcName(t.root))}</span></td>` +
      `<td class="num">${t.n}</td><td class="num">${us(t.duration)}</td>` +
      `<td class="num">${new Date(t.start / 1000).toLocaleTimeString("en-GB")}</td></tr>`).join("");
    document.getElementById("traces-empty").hidden = rows.length > 0;
  } catch (e) {
    errEl.textContent = e.message;
    errEl.hidden = false;
  }
}

function spanOrder(spans) {
  const ids = new Set(spans.map(s => s.id));
  const kids = {};
  for (const s of spans) {
    const p = s.parentId && ids.has(s.parentId) ? s.parentId : "";
    (kids[p] || (kids[p] = [])).push(s);
  }
  for (const k of Object.values(kids)) k.sort((a, b) => (a.timestamp || 0) - (b.timestamp || 0));
  const out = [];
  const seen = new Set();
  const walk = (p, depth) => {
    for (const s of kids[p] || []) {
      if (seen.has(s)) continue;
      seen.add(s);
      out.push({s, depth});
      /* a shared span (client and server halves with one id) is not its own parent */
      if (s.id !== p) walk(s.id, depth + 1);
    }
  };
  walk("", 0);
  for (const s of spans) if (!seen.has(s)) out.push({s, depth: 0});
  return out;
}

async function showTrace(id) {
  state.selected = id;
  for (const tr of document.querySelectorAll("#traces tbody tr"))
    tr.classList.toggle("selected", tr.dataset.traceId === id);
  const head = document.getElementById("wf-head");
  const wf = document.getElementById("waterfall");
  head.textContent = "loading trace " + id;
  try {
    const spans = await agent("trace/" + encodeURIComponent(id));
    const t = traceSummary(spans);
    const total = Math.max(1, t.duration);
    head.innerHTML = `trace <b>${esc(id)}</b> · ${spans.length} spans · ${us(t.duration)}`;
    wf.innerHTML = spanOrder(spans).map(({s, depth}) => {
      const left = ((s.timestamp || t.start) - t.start) / total * 100;
      const width = Math.max(0.3, (s.duration || 0) / total * 100);
      const err = s.tags && s.tags.error !== undefined;
      const durLeft = left + width > 80 ? `right:${(100 - left + 1).toFixed(2)}%` : `left:${(left + width + 0.5).toFixed(2)}%`;
      return `<div class="span-row" data-span-id="${esc(s.id)}">` +
        `<div class="span-name" style="padding-left:${depth * 14}px" title="${esc(svcName(s) + " " + (s.name || ""))}">` +
        `<span class="svc">${esc(svcName(s))}</span> ${esc(s.name || "")}` +
        `<span class="kind">${esc((s.kind || "").toLowerCase())}</span></div>` +
        `<div class="span-track"><div class="span-bar kind-${esc(s.kind || "")}${err ? " error" : ""}" ` +
        `style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></div>` +
        `<span class="span-dur" style="${durLeft}">${us(s.duration || 0)}</span></div></div>`;
    }).join("");
    wf.dataset.spans = String(spans.length);
    wf.dataset.traceId = id;
  } catch (e) {
    head.textContent = e.message;
    wf.innerHTML = "";
    wf.dataset.spans = "0";
  }
}

document.querySelector("#traces tbody").addEventListener("click", ev => {
  const tr = ev.target.closest("tr[data-trace-id]");
  if (tr) showTrace(tr.dataset.traceId);
});

pollMetrics();
pollTraces();
setInterval(pollMetrics, METRICS_MS);
setInterval(pollTraces, TRACES_MS);
