// gameday's system-overview dashboard: the runbook's PromQL as line charts (SVG), asked of Prometheus'
// /api/v1/query_range on this origin.  No library, nothing from the internet.
// window.gamedayDashboard tells tests (and the curious) what each panel last showed.
"use strict";
(function () {
  const cfg = JSON.parse(document.getElementById("dashboard-config").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#37872d",
                  "#fade2a", "#c4162a"];
  const W = 600, H = 170, L = 52, R = 8, T = 8, B = 20;
  const state = { ready: false, updates: 0, lastUpdate: null, panels: {} };
  window.gamedayDashboard = state;

  const rangeSel = document.getElementById("range");
  const refreshSel = document.getElementById("refresh");
  document.getElementById("alerts-link").href = cfg.prometheus_url;
  const main = document.getElementById("panels");

  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(unit, v) {
    if (v === null || !isFinite(v)) return "–";
    if (unit === "ratio") return (v * 100).toFixed(v < 0.1 ? 2 : 1) + " %";
    if (unit === "reqps") return (v < 10 ? v.toFixed(2) : v.toFixed(0)) + " req/s";
    if (unit === "seconds") return v < 1 ? (v * 1000).toFixed(0) + " ms" : v.toFixed(2) + " s";
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  function legendOf(template, metric) {
    return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name) => metric[name] || "");
  }

  const views = cfg.panels.map((panel) => {
    const box = el("section", { class: "panel", id: "panel-" + panel.id, "data-panel": panel.id });
    const head = el("h2");
    head.append(el("span", {}, panel.title));
    const current = el("span", { class: "current" }, "…");
    head.append(current);
    const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img",
                                "aria-label": panel.title });
    const legend = el("div", { class: "legend" });
    const error = el("div", { class: "error" });
    const note = el("div", { class: "muted" }, panel.note || "");
    const queries = el("div", { class: "query" }, panel.series.map((s) => s.query).join("\n"));
    box.append(head, svg, legend, error, note, queries);
    main.append(box);
    return { panel, box, current, svg, legend, error };
  });

  async function queryRange(query, start, end, step) {
    const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
    const resp = await fetch("/api/v1/query_range?" + params.toString(), { cache: "no-store",
                                                                            credentials: "same-origin" });
    let body;
    try { body = await resp.json(); } catch (e) { throw new Error(`HTTP ${resp.status}`); }
    if (body.status !== "success") throw new Error(body.error || `HTTP ${resp.status}`);
    return body.data.result;
  }

  function draw(view, lines, start, end) {
    const { panel, svg } = view;
    svg.replaceChildren();
    let max = panel.threshold !== null && panel.threshold !== undefined ? panel.threshold : 0;
    for (const line of lines) for (const [, v] of line.points) if (isFinite(v) && v > max) max = v;
    if (max <= 0) max = panel.unit === "ratio" ? 0.01 : 1;
    max *= 1.1;
    const x = (t) => L + ((t - start) / Math.max(end - start, 1)) * (W - L - R);
    const y = (v) => T + (1 - v / max) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      svg.append(el("svg:line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.append(el("svg:text", { class: "tick", x: L - 4, y: y(v) + 3, "text-anchor": "end" }, fmt(panel.unit, v)));
    }
    for (let i = 0; i <= 4; i++) {
      const t = start + ((end - start) * i) / 4;
      const label = new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      svg.append(el("svg:text", { class: "tick", x: x(t), y: H - 5, "text-anchor": "middle" }, label));
    }
    if (panel.threshold !== null && panel.threshold !== undefined) {
      svg.append(el("svg:line", { class: "threshold", x1: L, x2: W - R, y1: y(panel.threshold),
                                  y2: y(panel.threshold) }));
    }
    lines.forEach((line, i) => {
      let d = "";
      let pen = false;
      for (const [t, v] of line.points) {
        if (!isFinite(v)) { pen = false; continue; }  // NaN (0/0: no traffic) is a gap, not a zero
        d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      }
      if (d) svg.append(el("svg:path", { class: "series", d, stroke: COLORS[i % COLORS.length],
                                         "data-legend": line.name }));
    });
  }

  async function update(view, start, end, step) {
    const { panel } = view;
    const lines = [];
    const errors = [];
    await Promise.all(panel.series.map(async (series, si) => {
      try {
        for (const result of await queryRange(series.query, start, end, step)) {
          lines.push({ order: si, name: legendOf(series.legend, result.metric || {}),
                       points: result.values.map(([t, v]) => [Number(t), Number(v)]) });
        }
      } catch (e) {
        errors.push(`${series.legend}: ${e.message}`);
      }
    }));
    lines.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
    draw(view, lines, start, end);
    view.legend.replaceChildren(...lines.map((line, i) => {
      const last = [...line.points].reverse().find(([, v]) => isFinite(v));
      const item = el("span", { class: "item" });
      item.append(el("i", { style: `background:${COLORS[i % COLORS.length]}` }),
                  document.createTextNode(`${line.name}: ${fmt(panel.unit, last ? last[1] : null)}`));
      return item;
    }));
    const first = lines.length ? [...lines[0].points].reverse().find(([, v]) => isFinite(v)) : undefined;
    const value = first ? first[1] : null;
    view.current.textContent = lines.length ? fmt(panel.unit, value) : "no data";
    view.current.classList.toggle("bad", panel.threshold != null && value !== null && value > panel.threshold);
    view.error.textContent = errors.join("; ");
    state.panels[panel.id] = { series: lines.length, points: lines.reduce((n, l) => n + l.points.length, 0),
                               value, error: errors.join("; ") || null };
  }

  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    const range = Number(rangeSel.value);
    const end = Math.floor(Date.now() / 1000);
    const start = end - range;
    const step = Math.max(1, Math.round(range / 240));
    await Promise.all(views.map((view) => update(view, start, end, step)));
    state.updates += 1;
    state.lastUpdate = new Date().toISOString();
    state.ready = true;
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    const every = Number(refreshSel.value);
    if (every > 0) timer = setTimeout(refresh, every * 1000);
  }

  rangeSel.addEventListener("change", refresh);
  refreshSel.addEventListener("change", refresh);
  refresh();
})();
