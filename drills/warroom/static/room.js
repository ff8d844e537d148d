// The war room page: plain JavaScript, no build step, no third-party code.
// Everything shown comes from the server's snapshot/update messages (server-sent events); text is always
// set with textContent, never parsed as HTML.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("room-config").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const isGM = config.role === "gm";
  const state = { items: new Map(), samples: [], panels: null, nowT: 0, receivedAt: 0, closedLoaded: false,
    commandsKey: null };
  // When each alert row first became visible (ms since epoch), keyed by journal seq: tests and the
  // benchmark compare it with the webhook's receipt time.
  window.__warroom = { alertSeen: {}, timelineSeen: {}, messages: 0 };

  const $ = (id) => document.getElementById(id);
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function serverNow() { return state.nowT + (Date.now() - state.receivedAt) / 1000; }
  function fmtT(t) {
    if (t === null || t === undefined) return "—";
    const s = Math.max(0, Math.round(t));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  function fmtCountdown(seconds) { // never negative: what is past due says "overdue" (dueText)
    const s = Math.abs(Math.round(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  // "due in 4:10" or "overdue 0:36": a deadline that has passed is never a negative countdown
  function dueText(left, soon) { return left < 0 ? `overdue ${fmtCountdown(-left)}` : `${soon || "due in"} ${fmtCountdown(left)}`; }
  function say(text, bad) {
    const box = $("message"); box.textContent = text; box.className = bad ? "bad" : "good";
  }

  // -- forms from the runbook --------------------------------------------------------------------------
  for (const sev of config.severities) {
    $("declare-level").appendChild(el("option", `${sev.name} ${sev.label}`, { value: sev.level }));
  }
  for (const role of config.roles) {
    $("assign-role").appendChild(el("option", `${role.abbreviation} — ${role.name}`, { value: role.abbreviation }));
  }
  for (const rung of config.ladder) {
    $("page-level").appendChild(el("option", `L${rung.level} ${rung.role}`, { value: rung.level }));
  }
  for (const r of config.remediations) {
    $("remediations").appendChild(el("button", r.label, { "data-act": "remediate", "data-action": r.action }));
  }
  // -- the Communicate panel: the runbook's message templates, its channels, statuses and business list --
  const comm = config.communicate;
  const forms = new Map(comm.forms.map((f) => [f.id, f]));
  for (const f of comm.forms) $("comm-kind").appendChild(el("option", f.label, { value: f.id }));
  for (const s of comm.statuses) $("comm-status").appendChild(el("option", s, { value: s }));
  for (const b of comm.business) $("comm-who").appendChild(el("option", `${b.who} (${b.rule})`, { value: b.who }));
  for (const c of comm.channels) {
    const label = el("label", null, { class: "channel" });
    label.appendChild(el("input", null, { type: "checkbox", value: c, "data-channel": c }));
    label.appendChild(document.createTextNode(` ${c}`));
    $("comm-channels").appendChild(label);
  }
  if (forms.has("update")) $("comm-kind").value = "update";
  function commForm() { return forms.get($("comm-kind").value); }
  // ticks follow the form and the declared severity; a person's own ticks stay until either changes
  function tickChannels(force) {
    const form = commForm(); if (!form) return;
    const c = state.panels && state.panels.communication;
    const key = `${form.id}|${c ? c.severity : ""}`;
    if (!force && state.commTicked === key) return;
    state.commTicked = key;
    const want = form.channels === null ? ((c && c.channels) || []) : form.channels;
    for (const box of $("comm-channels").querySelectorAll("input")) box.checked = want.includes(box.value);
  }
  function showForm() {
    const form = commForm(); if (!form) return;
    $("comm-status-label").classList.toggle("hidden", form.act !== "status_page");
    $("comm-who-label").classList.toggle("hidden", form.act !== "notify");
    $("comm-prefill").disabled = !form.draft;
    tickChannels(true);
  }
  $("comm-kind").addEventListener("change", showForm);
  showForm();

  const actor = $("actor");
  actor.value = localStorage.getItem("gameday.actor") || "";
  actor.addEventListener("change", () => localStorage.setItem("gameday.actor", actor.value.trim()));

  // -- writes --------------------------------------------------------------------------------------------
  function bodyFor(kind, button) {
    const body = { type: kind, actor: actor.value.trim() };
    if (kind === "declare") body.level = Number($("declare-level").value);
    if (kind === "assign") { body.role = $("assign-role").value; body.person = $("assign-person").value.trim(); }
    if (kind === "hypothesis") body.text = $("hypothesis-text").value;
    if (kind === "communicate") {
      const form = commForm(); const text = $("comm-text").value;
      body.type = form.act;
      body.channels = [...$("comm-channels").querySelectorAll("input:checked")].map((b) => b.value);
      if (form.act !== "notify" || text.trim()) body.message = text;
      if (form.act === "notice") body.kind = form.notice;
      if (form.act === "status_page") body.status = $("comm-status").value;
      if (form.act === "notify") body.who = $("comm-who").value;
    }
    if (kind === "page") {
      const level = Number($("page-level").value);
      const rung = config.ladder.find((r) => r.level === level);
      body.level = level; body.who = rung ? rung.role : "on-call team";
    }
    if (kind === "postmortem") body.text = $("review-text").value;
    if (kind === "remediate") {
      body.action = button.dataset.action;
      if (body.action === "scale") body.replicas = Number($("scale-replicas").value);
    }
    if (kind === "hint") body.text = $("hint-text").value;
    if (kind === "stage") body.index = Number(button.dataset.index);
    return body;
  }

  async function act(kind, button) {
    if (!actor.value.trim()) { say("Enter your name first (top right).", true); actor.focus(); return; }
    localStorage.setItem("gameday.actor", actor.value.trim());
    if (kind === "end" && !window.confirm("End the drill now? Every fault is reverted.")) return;
    button.disabled = true;
    try {
      const response = await fetch("/api/act", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(bodyFor(kind, button)),
      });
      const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      if (!response.ok) { say(answer.error || `HTTP ${response.status}`, true); return; }
      say(`${answer.type} journaled (#${answer.seq}) as ${answer.actor}`, false);
      if (kind === "hypothesis") $("hypothesis-text").value = "";
      if (kind === "hint") $("hint-text").value = "";
      if (kind === "communicate") $("comm-text").value = "";
    } catch (err) {
      say(`request failed: ${err}`, true);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("button");
    if (!button) return;
    if (button.dataset.act) act(button.dataset.act, button);
    if (button.dataset.fill) fill(button.dataset.fill);
    if (button.dataset.copy !== undefined) copyCommand(button);
  });

  async function fill(name) {
    const form = name === "communicate" ? commForm() : null;
    const draft = form ? form.draft : name;
    if (!draft) return;
    const response = await fetch(`/api/draft/${encodeURIComponent(draft)}`, { credentials: "same-origin" });
    const answer = await response.json();
    if (!response.ok) { say(answer.error, true); return; }
    $(name === "review" ? "review-text" : "comm-text").value = answer.text;
    const status = form && form.act === "status_page" && /Status\W*:\W*([A-Za-z]+)/.exec(answer.text);
    if (status && comm.statuses.includes(status[1])) $("comm-status").value = status[1];
  }

  // -- rendering -----------------------------------------------------------------------------------------
  function renderTimeline(items) {
    const list = $("timeline");
    for (const item of items) {
      if (state.items.has(item.seq)) continue;
      state.items.set(item.seq, item);
      const li = el("li", null, { "data-seq": item.seq, "data-type": item.type, "data-actor": item.actor,
        class: `ev-${item.type}` });
      li.appendChild(el("time", fmtT(item.t)));
      li.appendChild(el("span", item.actor, { class: "actor" }));
      li.appendChild(el("span", item.text, { class: "text" }));
      list.insertBefore(li, list.firstChild);
      window.__warroom.timelineSeen[item.seq] = Date.now();
    }
  }

  function renderAlerts(alerts) {
    const list = $("alerts"); clear(list);
    if (!alerts.length) { list.appendChild(el("li", "no alert yet", { class: "muted" })); return; }
    for (const a of alerts) {
      const li = el("li", null, { "data-alert": a.alertname, "data-status": a.status, "data-seq": a.seq,
        class: `alert ${a.status}` });
      li.appendChild(el("strong", a.alertname));
      li.appendChild(el("span", a.status, { class: `badge ${a.status}` }));
      if (a.severity) li.appendChild(el("span", a.severity, { class: "badge" }));
      if (a.value !== null && a.value !== undefined) {
        const v = a.value_name === "error_rate" ? `${(100 * a.value).toFixed(1)}%` : Number(a.value).toFixed(2);
        li.appendChild(el("span", `${a.value_name} ${v}`, { class: "value" }));
      }
      if (a.summary) li.appendChild(el("div", a.summary, { class: "summary" }));
      li.appendChild(el("small", a.status === "firing" ? `since ${fmtT(a.fired_t)}` : `resolved ${fmtT(a.resolved_t)}`));
      list.appendChild(li);
      if (!(a.seq in window.__warroom.alertSeen)) window.__warroom.alertSeen[a.seq] = Date.now();
    }
  }

  function renderRoles(roles) {
    const list = $("roles"); clear(list);
    for (const r of roles) {
      const li = el("li", null, { "data-role": r.role });
      li.appendChild(el("strong", r.role));
      li.appendChild(el("span", r.people.length ? r.people.join(", ") : "— unassigned —", { class: "people" }));
      list.appendChild(li);
    }
  }

  function renderLadder(ladder) {
    const list = $("ladder"); clear(list);
    for (const rung of ladder.rungs) {
      const li = el("li", null, { "data-level": rung.level,
        class: rung.reached ? "done" : (ladder.next && ladder.next.level === rung.level ? "next" : "") });
      li.appendChild(el("strong", `L${rung.level} ${rung.role}`));
      let when = rung.condition || "first responder";
      if (rung.reached) when = "paged";
      else if (rung.due_t !== null) {
        const left = rung.due_t - serverNow();
        when = `${dueText(left)} (${rung.condition || "now"})`;
      }
      li.appendChild(el("span", when, { class: "when" }));
      list.appendChild(li);
    }
  }

  function renderChecklists(c) {
    const box = $("checklists"); clear(box);
    $("checklist-phase").textContent = `(${c.current})`;
    for (const [name, list] of Object.entries(c.lists)) {
      const section = el("div", null, { class: `checklist ${name === c.current ? "current" : "other"}`, "data-list": name });
      section.appendChild(el("h3", list.title));
      const ul = el("ul");
      for (const item of list.items) {
        const li = el("li", `${item.done ? "☑" : "☐"} ${item.text}`, { class: item.done ? "done" : "" });
        ul.appendChild(li);
      }
      section.appendChild(ul); box.appendChild(section);
    }
  }

  function renderHints(hints) {
    const list = $("hints"); clear(list);
    if (!hints.length) { list.appendChild(el("li", "none", { class: "muted" })); return; }
    for (const h of hints) list.appendChild(el("li", `${fmtT(h.t)} ${h.actor}: ${h.text}`, { "data-seq": h.seq, class: "hint" }));
  }

  function renderReveal(reveal) {
    const box = $("reveal");
    if (!reveal) { box.classList.add("hidden"); return; }
    box.classList.remove("hidden");
    box.textContent = `Fault revealed by ${reveal.actor}: ${reveal.fault} — ${reveal.title || ""}`;
  }

  function renderGM(gm) {
    if (!isGM || !gm) return;
    $("gm-fault").textContent = `Scenario ${gm.scenario}: ${gm.title} (fault ${gm.fault}); hints given: ${gm.hints}`;
    const list = $("gm-stages"); clear(list);
    if (!gm.stages.length) list.appendChild(el("li", "this scenario has no further stage", { class: "muted" }));
    for (const s of gm.stages) {
      const li = el("li", `stage ${s.index + 2}: ${s.fault} `);
      const button = el("button", s.injected ? "injected" : "Add this stage", { "data-act": "stage", "data-index": s.index });
      button.disabled = s.injected; li.appendChild(button); list.appendChild(li);
    }
  }

  function renderStatus(p) {
    const s = p.status;
    $("phase").textContent = s.phase + (s.outcome ? ` (${s.outcome})` : "");
    $("phase").className = `badge ${s.phase}`;
    $("severity").textContent = s.severity || "severity not declared";
    $("mitigated").classList.toggle("hidden", !s.mitigated);
    document.body.classList.toggle("read-only", s.phase !== "running");
  }

  function renderCountdown() {
    const p = state.panels; if (!p) return;
    const u = p.status_update; const box = $("next-update");
    if (!u || u.due_t === null) { box.textContent = u ? `${u.count} status update(s)` : "no status update due"; box.className = "badge"; }
    else {
      const left = u.due_t - serverNow();
      box.textContent = left < 0 ? `${u.severity} status update ${dueText(left)} (${u.text})`
        : `next ${u.severity} update ${dueText(left, "in")} (${u.text})`;
      box.className = `badge ${left < 0 ? "overdue" : ""}`;
    }
    renderLadder(p.ladder);
    renderDues(p);
  }

  // what the runbook asks to be told, and by when: the next update, the notice to users, each business contact
  function renderDues(p) {
    const c = p.communication; const list = $("comm-dues"); clear(list);
    tickChannels(false);
    if (!c || !c.severity) { list.appendChild(el("li", "nothing due before a severity is declared", { class: "muted" })); return; }
    const rows = [];
    const u = p.status_update;
    if (u && u.due_t !== null) rows.push({ key: "update", what: `Next ${u.severity} update`, rule: u.text, due_t: u.due_t, done_t: null });
    rows.push(...c.dues);
    for (const d of rows) {
      let when; let late = false;
      if (d.done_t !== null) when = `done at ${fmtT(d.done_t)}`;
      else if (d.due_t === null) when = d.note || "not due";
      else { const left = d.due_t - serverNow(); late = left < 0; when = dueText(left); }
      const li = el("li", null, { "data-due": d.key, class: d.done_t !== null ? "done" : (late ? "late" : "") });
      li.appendChild(el("strong", d.what));
      li.appendChild(el("span", ` ${when}`, { class: `when ${late ? "badge overdue" : ""}` }));
      if (d.rule) li.appendChild(el("small", ` (${d.rule})`));
      list.appendChild(li);
    }
  }

  // -- the runbook's commands, for the drill's target ------------------------------------------------------
  // The card comes with the page (it depends only on the runbook and the target); the feed says which
  // phase the incident is in, and that phase's steps' commands come first.
  const card = config.card || { target: "kubernetes", rows: [] };
  const where = card.target === "local" ? "the sandbox" : "Kubernetes";
  $("commands-target").textContent = `(on ${where})`;

  function commandRow(row) {
    const li = el("li", null, { class: "cmd", "data-step": row.step || "", "data-line": row.line, "data-tool": row.tool });
    const said = el("div", null, { class: "line runbook" });
    said.appendChild(el("span", "runbook", { class: "label" }));
    said.appendChild(el("code", row.command, { class: "runbook" }));
    li.appendChild(said);
    const typed = el("div", null, { class: "line type" });
    typed.appendChild(el("span", "type", { class: "label" }));
    if (row.do === null || row.do === undefined) {
      typed.appendChild(el("span", `none on ${where}`, { class: "muted none" }));
    } else {
      if (row.do === row.command) typed.appendChild(el("span", "as written", { class: "muted same" }));
      else typed.appendChild(el("code", row.do, { class: "type" }));
      typed.appendChild(el("button", "Copy", { class: "copy", "data-copy": "", title: "copy what to type" }));
    }
    li.appendChild(typed);
    if (row.note) li.appendChild(el("div", row.note, { class: "note" }));
    return li;
  }

  function commandGroups(parent, rows, headings) {
    let section = null; let ul = null;
    for (const row of rows) {
      if (row.section !== section || !ul) {
        section = row.section;
        if (headings) parent.appendChild(el("h4", section));
        ul = el("ul"); parent.appendChild(ul);
      }
      ul.appendChild(commandRow(row));
    }
  }

  function renderCommands(c) {
    const phase = c && c.phase;
    const key = phase ? String(phase.number) : "none";
    if (state.commandsKey === key) return; // keep what is open or selected while the phase stays
    state.commandsKey = key;
    const box = $("commands"); clear(box);
    if (card.error) box.appendChild(el("p", `no command card: ${card.error}`, { class: "muted" }));
    const steps = new Set(phase ? phase.steps : []);
    const current = el("div", null, { class: "cmd-phase", "data-phase": phase ? phase.number : "" });
    current.appendChild(el("h3", phase ? phase.title : "Commands"));
    const now = card.rows.filter((r) => r.step && steps.has(r.step));
    if (!now.length) current.appendChild(el("p", "no command in this phase's steps", { class: "muted" }));
    commandGroups(current, now, true);
    box.appendChild(current);
    const always = card.rows.filter((r) => !r.step);
    const other = card.rows.filter((r) => r.step && !steps.has(r.step));
    const sections = [...new Set(always.map((r) => r.section))];
    for (const [rows, title, name, headings] of [[always, sections.join(", "), "always", sections.length > 1],
      [other, "Other phases", "other", true]]) {
      if (!rows.length) continue;
      const details = el("details", null, { class: `cmd-${name}` });
      details.appendChild(el("summary", `${title} (${rows.length})`));
      commandGroups(details, rows, headings);
      box.appendChild(details);
    }
  }

  async function copyCommand(button) {
    const row = button.closest("li.cmd");
    const code = row.querySelector("code.type") || row.querySelector("code.runbook");
    const shown = button.textContent;
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard here");
      await navigator.clipboard.writeText(code.textContent);
      button.textContent = "copied";
    } catch (err) { // plain http on the LAN, or permission refused: select it for Ctrl+C
      const range = document.createRange(); range.selectNodeContents(code);
      const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
      button.textContent = "selected: Ctrl+C";
    }
    setTimeout(() => { button.textContent = shown; }, 2000);
  }

  // -- charts (canvas, no library) -------------------------------------------------------------------
  const F = { seq: 0, t: 1, error_rate: 2, p95: 3, in_use: 4, waiting: 5, size: 6, ready: 7, desired: 8 };
  function drawChart(canvas, series, threshold) {
    const ctx = canvas.getContext("2d"); const w = canvas.width; const h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const points = series.flatMap((s) => s.points);
    if (!points.length) { ctx.fillStyle = "#888"; ctx.fillText("no samples yet", 8, h / 2); return; }
    const t0 = Math.min(...points.map((p) => p[0])); const t1 = Math.max(...points.map((p) => p[0]), t0 + 1);
    let top = Math.max(...points.map((p) => p[1]), threshold || 0) * 1.15 || 1;
    const x = (t) => 30 + ((t - t0) / (t1 - t0)) * (w - 36); const y = (v) => h - 14 - (v / top) * (h - 22);
    ctx.strokeStyle = "#ccc"; ctx.beginPath(); ctx.moveTo(30, 4); ctx.lineTo(30, h - 14); ctx.lineTo(w - 4, h - 14); ctx.stroke();
    ctx.fillStyle = "#666"; ctx.font = "10px sans-serif"; ctx.fillText(top.toFixed(top < 10 ? 2 : 0), 0, 12);
    ctx.fillText(fmtT(t0), 30, h - 2); ctx.fillText(fmtT(t1), w - 34, h - 2);
    if (threshold !== undefined) {
      ctx.strokeStyle = "#d33"; ctx.setLineDash([4, 3]); ctx.beginPath(); ctx.moveTo(30, y(threshold)); ctx.lineTo(w - 4, y(threshold)); ctx.stroke(); ctx.setLineDash([]);
    }
    for (const s of series) {
      ctx.strokeStyle = s.color; ctx.lineWidth = 1.5; ctx.beginPath();
      s.points.forEach((p, i) => (i ? ctx.lineTo(x(p[0]), y(p[1])) : ctx.moveTo(x(p[0]), y(p[1]))));
      ctx.stroke();
    }
    ctx.lineWidth = 1;
  }
  function pick(index, scale) {
    return state.samples.filter((s) => s[index] !== null && s[index] !== undefined).map((s) => [s[F.t], s[index] * (scale || 1)]);
  }
  function renderCharts() {
    drawChart($("chart-error"), [{ color: "#c0392b", points: pick(F.error_rate, 100) }], 100 * config.thresholds.error_rate);
    drawChart($("chart-p95"), [{ color: "#8e44ad", points: pick(F.p95) }], config.thresholds.p95_seconds);
    drawChart($("chart-pool"), [{ color: "#2471a3", points: pick(F.in_use) }, { color: "#e67e22", points: pick(F.waiting) }]);
    drawChart($("chart-replicas"), [{ color: "#1e8449", points: pick(F.ready) }, { color: "#aaa", points: pick(F.desired) }]);
  }

  // -- after close: score, chart, report -----------------------------------------------------------------
  function fillScoreTable(tbody, body) {
    clear(tbody);
    for (const c of body.incidents.length ? body.incidents[0].checks : []) {
      const tr = el("tr", null, { "data-check": c.id, class: c.status === "pass" ? "pass" : (c.status === "fail" ? "fail" : "na") });
      for (const v of [c.title, c.status, c.expected, c.observed, c.feedback]) tr.appendChild(el("td", v));
      tbody.appendChild(tr);
    }
  }
  async function loadScore(target, table) {
    const response = await fetch("/api/score", { credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    const value = body.score === null ? "n/a" : body.score.toFixed(1);
    target.textContent = `Score: ${value}`; target.dataset.score = value;
    fillScoreTable(table.querySelector("tbody"), body);
  }
  async function showAfterClose() {
    if (state.closedLoaded) return;
    state.closedLoaded = true;
    $("after-close").classList.remove("hidden");
    await loadScore($("score-total"), $("score-table"));
    const response = await fetch("/api/report", { credentials: "same-origin" });
    if (response.ok) {
      const body = await response.json();
      $("report-chart").src = `${body.chart}?v=${Date.now()}`;
      $("report-link").href = body.html;
      if (body.trend) { $("trend-link").href = body.trend; $("trend-link").classList.remove("hidden"); }
    }
  }
  if (isGM) setInterval(() => loadScore($("gm-score"), $("gm-score-table")), 3000);

  // -- the feed --------------------------------------------------------------------------------------------
  function apply(message, snapshot) {
    state.nowT = message.now_t; state.receivedAt = Date.now();
    if (snapshot) { state.items.clear(); clear($("timeline")); state.samples = []; }
    renderTimeline(message.timeline);
    if (message.samples.length) { state.samples.push(...message.samples); renderCharts(); }
    if (snapshot && !message.samples.length) renderCharts();
    const p = message.panels; state.panels = p;
    renderStatus(p); renderAlerts(p.alerts); renderRoles(p.roles); renderChecklists(p.checklists);
    renderCommands(p.commands);
    renderHints(p.hints); renderReveal(p.reveal); renderGM(p.game_master); renderCountdown();
    window.__warroom.messages += 1;
    if (p.status.phase !== "running") showAfterClose();
  }
  function connect() {
    const source = new EventSource("/api/stream");
    source.addEventListener("open", () => { $("connection").textContent = "live"; $("connection").className = "badge live"; });
    source.addEventListener("error", () => { $("connection").textContent = "reconnecting…"; $("connection").className = "badge overdue"; });
    source.addEventListener("snapshot", (ev) => apply(JSON.parse(ev.data), true));
    source.addEventListener("update", (ev) => apply(JSON.parse(ev.data), false));
  }
  setInterval(renderCountdown, 1000);
  connect();
})();
