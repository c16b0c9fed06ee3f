// SPDX-License-Identifier: Apache-2.0
// The dashboard: one page, no external resources (nothing outside the machine is reachable).
// It polls the same JSON API the `beehive` command uses, once a second:
// - /api/stats: per module the inbox counters and send_sync latency; rates are counter deltas
//   over the server's own clock (`time_ms`), so a browser's timer drift does not skew them;
// - the graph: modules (left) linked to their groups (right), drawn as SVG;
// - per module a sparkline of the rate in and of the depth, the last 60 samples.
// Rendered rows carry data-* attributes (data-module, data-rate-in, ...) for tests and scripts.
#include "admin/dashboard_page.hpp"

namespace beehive::detail {

std::string_view dashboard_html() noexcept {
  return R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>beehive dashboard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #f6c945; padding: 10px 20px; display: flex; gap: 24px;
           align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: #c9d1e0; font-size: 13px; }
  main { padding: 16px 20px; display: grid; grid-template-columns: 1fr; gap: 16px; }
  section { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px #0002; padding: 12px; }
  h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; color: #56607a; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid #eceff4;
           white-space: nowrap; }
  th:first-child, td:first-child { text-align: left; }
  td.state-running, td.state-live { color: #1f8a4c; }
  td.state-failed, td.state-closed { color: #c0392b; }
  td.state-restarting { color: #d68910; }
  svg.spark { width: 120px; height: 24px; vertical-align: middle; }
  svg.spark polyline { fill: none; stroke-width: 1.5; }
  .in polyline { stroke: #2e86de; } .depth polyline { stroke: #e67e22; }
  #graph text { font-size: 12px; } #graph line { stroke: #9aa5b8; }
  #graph rect.module { fill: #eaf2fd; stroke: #2e86de; }
  #graph rect.group { fill: #fdf3e1; stroke: #e67e22; }
  #error { color: #c0392b; }
  footer { padding: 0 20px 16px; color: #56607a; font-size: 12px; }
</style>
</head>
<body>
<header><h1>beehive</h1><span id="summary">connecting…</span><span id="error"></span></header>
<main>
  <section><h2>Modules and groups</h2><svg id="graph" width="100%" height="100"></svg></section>
  <section><h2>Modules</h2>
    <table id="modules">
      <thead><tr><th>module</th><th>type</th><th>state</th><th>in/s</th><th>out/s</th>
        <th>depth</th><th>drops</th><th>sync p99</th><th>rate in</th><th>depth</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<footer>Polls <code>/api/stats</code> every second. Metrics for Prometheus:
  <a href="/metrics">/metrics</a>.</footer>
<script>
"use strict";
const history = {};   // module -> {in: [], depth: []}
let previous = null;  // last /api/stats answer
const keep = 60;

function el(tag, attrs, text) {
  const ns = ["svg", "line", "rect", "text", "polyline", "g"].includes(tag)
      ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml";
  const e = document.createElementNS(ns, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function counter(m, name) { return m.inbox ? (m.inbox[name] || 0) : 0; }
function drops(m) {
  return counter(m, "rejected_full") + counter(m, "dropped_oldest") + counter(m, "dropped_on_close");
}
function seconds(v) {
  if (typeof v !== "number") return v === "+Inf" ? ">10s" : "–";
  if (v < 0.001) return (v * 1e6).toFixed(0) + "µs";
  if (v < 1) return (v * 1e3).toFixed(1) + "ms";
  return v.toFixed(2) + "s";
}

function sparkline(cls, values) {
  const svg = el("svg", {class: "spark " + cls, viewBox: "0 0 120 24", preserveAspectRatio: "none"});
  const max = Math.max(1, ...values);
  const step = 120 / Math.max(1, keep - 1);
  const offset = keep - values.length;
  const points = values.map((v, i) =>
      ((offset + i) * step).toFixed(1) + "," + (22 - (v / max) * 20).toFixed(1)).join(" ");
  svg.appendChild(el("polyline", {points}));
  return svg;
}

function drawGraph(stats) {
  const svg = document.getElementById("graph");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const modules = Object.keys(stats.modules);
  const groups = Object.keys(stats.groups);
  const rowH = 28;
  const height = Math.max(modules.length, groups.length) * rowH + 10;
  svg.setAttribute("height", height);
  const mx = 10, mw = 280, gx = mx + mw + 160, gw = 260;
  const ypos = (i) => 5 + i * rowH;
  groups.forEach((g, gi) => {
    for (const m of stats.groups[g]) {
      const mi = modules.indexOf(m);
      if (mi < 0) continue;
      svg.appendChild(el("line", {x1: mx + mw, y1: ypos(mi) + 11, x2: gx, y2: ypos(gi) + 11,
                                  "data-edge": m + "->" + g}));
    }
  });
  modules.forEach((m, i) => {
    const node = el("g", {class: "node module", "data-name": m});
    node.appendChild(el("rect", {class: "module", x: mx, y: ypos(i), width: mw, height: 22, rx: 4}));
    node.appendChild(el("text", {x: mx + 6, y: ypos(i) + 15}, m));
    svg.appendChild(node);
  });
  groups.forEach((g, i) => {
    const node = el("g", {class: "node group", "data-name": g});
    node.appendChild(el("rect", {class: "group", x: gx, y: ypos(i), width: gw, height: 22, rx: 11}));
    node.appendChild(el("text", {x: gx + 8, y: ypos(i) + 15}, g + " (" + stats.groups[g].length + ")"));
    svg.appendChild(node);
  });
}

function drawTable(stats) {
  const body = document.querySelector("#modules tbody");
  while (body.firstChild) body.removeChild(body.firstChild);
  const dt = previous ? (stats.time_ms - previous.time_ms) / 1000 : 0;
  for (const [name, m] of Object.entries(stats.modules)) {
    const before = previous && previous.modules[name];
    const rate = (f) => (dt > 0 && before) ? Math.max(0, counter(m, f) - counter(before, f)) / dt : 0;
    const h = history[name] || (history[name] = {in: [], depth: []});
    const rin = rate("accepted"), rout = rate("received");
    if (previous) {
      h.in.push(rin); h.depth.push(counter(m, "queued"));
      if (h.in.length > keep) { h.in.shift(); h.depth.shift(); }
    }
    const tr = el("tr", {"data-module": name, "data-rate-in": rin.toFixed(3),
                         "data-rate-out": rout.toFixed(3), "data-depth": counter(m, "queued")});
    const local = !!m.inbox;
    const cells = [name, m.type, m.state, local ? rin.toFixed(1) : "–", local ? rout.toFixed(1) : "–",
                   local ? counter(m, "queued") : "–", local ? drops(m) : "–",
                   m.sync ? seconds(m.sync.p99_seconds) : "–"];
    cells.forEach((c, i) => {
      const td = el("td", i === 2 ? {class: "state-" + m.state} : {}, String(c));
      tr.appendChild(td);
    });
    const tdIn = el("td"); tdIn.appendChild(sparkline("in", h.in)); tr.appendChild(tdIn);
    const tdDepth = el("td"); tdDepth.appendChild(sparkline("depth", h.depth)); tr.appendChild(tdDepth);
    body.appendChild(tr);
  }
}

async function poll() {
  try {
    const r = await fetch("/api/stats", {cache: "no-store"});
    if (!r.ok) throw new Error("HTTP " + r.status);
    const stats = await r.json();
    document.getElementById("error").textContent = "";
    document.getElementById("summary").textContent =
        "pid " + stats.pid + " · " + Object.keys(stats.modules).length + " modules · " +
        Object.keys(stats.groups).length + " groups · orphan replies " + stats.orphan_responses +
        " · taps " + stats.tap.attached + " · " + new Date(stats.time_ms).toLocaleTimeString();
    drawGraph(stats);
    drawTable(stats);
    previous = stats;
    document.body.setAttribute("data-polls", String(Number(document.body.dataset.polls || 0) + 1));
  } catch (e) {
    document.getElementById("error").textContent = "admin API unreachable: " + e.message;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
)html";
}

}  // namespace beehive::detail
