// The Services view: systemd units with their state, processes, ports,
// actions and a live journal tail (GET /api/services, /api/service/<unit>,
// POST /api/service/<unit>/<action>, /api/events?journal=<unit>; see
// docs/services.md). It adds a "Services" button to the view switcher and
// its own panel (units are not processes: the shared table's rows, columns
// and shortcuts are the processes'), opens a process detail through the
// page's "roy:open-process" {pid} event, opens a unit's detail on the
// page's "roy:open-unit" {unit} event (the Unit column of the process list
// and the Ports view), and registers the process detail's Journal section
// (with a link to the process's unit).
// Process-controlled strings are rendered with textContent only.

import { fmtBytes, fmtCPU, portsText, matches } from "./services-logic.mjs";
import { registerDetailSection } from "./detail.mjs";

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function btn(label, title, cls) {
  const b = el("button", label, cls);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

function token() {
  const t = $("token");
  return (t && t.value.trim()) || "";
}

// api calls the daemon; errors carry the server's message and code.
async function api(path, method) {
  const r = await fetch(path, { method: method || "GET", headers: { "X-Auth-Token": token() }, cache: "no-store" });
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (!r.ok) {
    const e = new Error((body && body.error) || ("HTTP " + r.status));
    e.code = body && body.code;
    e.status = r.status;
    throw e;
  }
  return body;
}

async function ticket() {
  const r = await api("/api/events/ticket", "POST");
  return r.ticket;
}

const STATE_CLASS = { failed: "u-failed", active: "u-active", reloading: "u-active", activating: "u-busy", deactivating: "u-busy", inactive: "u-inactive" };
const CONFIRM = { stop: true, disable: true, restart: false };
const ROW_H = 30; // px: the virtualised table's row height
const VIRTUAL_ABOVE = 500;

const S = {
  units: [], shown: [], visible: false, loading: false, es: null, selected: null,
  refreshTimer: null, detail: null, jes: null, paused: false, held: [],
};

function say(msg) { S.msgEl.textContent = msg; }

function badge(u) {
  const b = el("span", u.active + (u.sub && u.sub !== u.active ? " (" + u.sub + ")" : ""), "ubadge " + (STATE_CLASS[u.active] || ""));
  return b;
}

async function confirmAction(unit, action) {
  if (!CONFIRM[action]) return true;
  const d = $("confirmdlg");
  if (!d) return window.confirm(action + " " + unit + "?");
  $("confirmtitle").textContent = action === "stop" ? "Stop " + unit + "?" : "Disable " + unit + "?";
  $("confirmtext").textContent = action === "stop"
    ? "systemd will stop " + unit + " and every unit that requires it."
    : unit + " will not start at boot any more (its state now does not change).";
  $("confirmok").textContent = action === "stop" ? "Stop" : "Disable";
  const skip = $("confirmskipwrap"); // the process actions' "do not ask again"
  const skipHidden = skip ? skip.hidden : true;
  if (skip) skip.hidden = true;
  d.onclose = null; // the page's own confirmations set it; not for this one
  d.returnValue = "";
  d.showModal();
  $("confirmno").focus();
  await new Promise((res) => d.addEventListener("close", res, { once: true }));
  if (skip) skip.hidden = skipHidden;
  return d.returnValue === "ok";
}

async function act(unit, action, where) {
  if (!(await confirmAction(unit, action))) return;
  const out = where || S.msgEl;
  out.textContent = action + " " + unit + "…";
  try {
    const r = await api("/api/service/" + encodeURIComponent(unit) + "/" + action, "POST");
    out.textContent = unit + ": " + action + " → job " + r.job_result + ", now " + r.active + " (" + r.sub + ")" +
      (r.main_pid ? ", main PID " + r.main_pid : "") + (r.unit_file_state ? ", " + r.unit_file_state : "");
  } catch (e) {
    out.textContent = unit + ": " + action + " refused: " + e.message;
  }
  load();
  if (S.detail === unit) openDetail(unit, true);
}

function actionButtons(u, where) {
  const acts = [];
  const running = u.active === "active" || u.active === "reloading" || u.active === "activating";
  acts.push(running ? ["Stop", "stop", "danger"] : ["Start", "start", ""]);
  acts.push(["Restart", "restart", ""]);
  if (where === "detail") {
    if (running) acts.push(["Reload", "reload", ""]);
    if (u.active === "failed") acts.push(["Reset failed", "reset-failed", ""]);
    acts.push(u.unit_file_state === "enabled" ? ["Disable", "disable", "danger"] : ["Enable", "enable", ""]);
  } else if (u.active === "failed") {
    acts.push(["Reset", "reset-failed", ""]);
  }
  return acts.map(([label, what, cls]) => {
    const b = btn(label, what + " " + u.name, cls);
    b.dataset.uact = what;
    b.dataset.unit = u.name;
    b.setAttribute("aria-label", label + " " + u.name);
    return b;
  });
}

// --- the list ---

function render() {
  const q = S.qEl.value;
  S.shown = S.units.filter((u) => matches(u, q));
  const failed = S.shown.filter((u) => u.active === "failed").length;
  S.sumEl.textContent = S.shown.length + (S.shown.length === S.units.length ? "" : " of " + S.units.length) + " units" + (failed ? ", " + failed + " failed" : "");
  S.table.setAttribute("aria-rowcount", String(S.shown.length + 1));
  paint();
}

function paint() {
  const rows = S.shown;
  const tb = S.tbody;
  let from = 0, to = rows.length;
  const virtual = rows.length > VIRTUAL_ABOVE;
  if (virtual) {
    const top = S.wrap.scrollTop, h = S.wrap.clientHeight || 600;
    from = Math.max(0, Math.floor(top / ROW_H) - 20);
    to = Math.min(rows.length, Math.ceil((top + h) / ROW_H) + 20);
  }
  const frag = document.createDocumentFragment();
  if (virtual && from > 0) { const sp = el("tr", null, "spacer"); sp.style.height = from * ROW_H + "px"; frag.appendChild(sp); }
  for (let i = from; i < to; i++) frag.appendChild(row(rows[i], i));
  if (virtual && to < rows.length) { const sp = el("tr", null, "spacer"); sp.style.height = (rows.length - to) * ROW_H + "px"; frag.appendChild(sp); }
  tb.replaceChildren(frag);
  S.table.classList.toggle("virtual", virtual);
}

function row(u, i) {
  const tr = el("tr");
  tr.dataset.unit = u.name;
  tr.setAttribute("aria-rowindex", String(i + 2));
  tr.tabIndex = u.name === S.selected ? 0 : -1;
  if (u.name === S.selected) tr.setAttribute("aria-selected", "true");
  if (u.active === "failed") tr.classList.add("failedrow");
  const name = el("td", null, "c-unit");
  const nb = btn(u.name, u.description || u.name, "linkbtn");
  nb.dataset.uopen = u.name;
  name.appendChild(nb);
  const st = el("td");
  st.appendChild(badge(u));
  const pid = el("td", null, "num");
  if (u.main_pid) {
    const pb = btn(String(u.main_pid), "Open process " + u.main_pid, "linkbtn");
    pb.dataset.openProcess = String(u.main_pid);
    pid.appendChild(pb);
  } else pid.textContent = "—";
  const ports = portsText(u.ports);
  const tdPorts = el("td", ports.slice(0, 3).join(", ") + (ports.length > 3 ? " +" + (ports.length - 3) : ""), "c-ports");
  tdPorts.title = ports.join("\n");
  const acts = el("td", null, "actions");
  for (const b of actionButtons(u, "row")) acts.appendChild(b);
  tr.append(name, el("td", u.description, "c-desc"), st, el("td", u.unit_file_state || "—"), pid,
    el("td", fmtBytes(u.memory_current), "num"), el("td", fmtCPU(u.cpu_usage_nsec), "num"), el("td", u.tasks == null ? "—" : u.tasks, "num"), tdPorts, acts);
  return tr;
}

async function load() {
  if (!S.visible || S.loading) return;
  S.loading = true;
  const p = new URLSearchParams({ type: S.typeEl.value });
  if (S.stateEl.value) p.set("state", S.stateEl.value);
  try {
    const r = await api("/api/services?" + p);
    S.units = r.items;
    S.noSystemd = false;
    // Clear a load error only: an action's result stays (the refresh that
    // follows an action used to wipe it at once).
    if (S.loadErr) S.msgEl.textContent = "";
    S.loadErr = false;
    render();
  } catch (e) {
    S.units = [];
    render();
    S.noSystemd = e.code === "no_systemd";
    say(S.noSystemd ? "systemd is not running on this host: the Services view needs systemd as PID 1 (processes and ports work as usual)." : "Cannot list services: " + e.message);
    S.loadErr = true;
  } finally {
    S.loading = false;
  }
}

function scheduleLoad() {
  clearTimeout(S.refreshTimer);
  S.refreshTimer = setTimeout(load, 400);
}

// follow listens to "unit" events: the row's state changes at once, and a
// list refresh follows for the figures.
async function follow() {
  if (S.es || !S.visible || S.noSystemd || !token()) return;
  try {
    const t = await ticket();
    const es = new EventSource("/api/events?interval=60&ticket=" + encodeURIComponent(t));
    S.es = es;
    es.addEventListener("unit", (ev) => {
      let c;
      try { c = JSON.parse(ev.data); } catch { return; }
      const u = S.units.find((x) => x.name === c.name);
      if (u) { u.active = c.active; u.sub = c.sub; u.load = c.load; paint(); }
      scheduleLoad();
      if (S.detail === c.name) S.detailState.textContent = c.active + " (" + c.sub + ")";
    });
    es.onerror = () => { es.close(); S.es = null; if (S.visible) setTimeout(follow, 3000); };
  } catch (e) {
    say("Live updates unavailable: " + e.message);
  }
}

function unfollow() {
  if (S.es) { S.es.close(); S.es = null; }
}

function show(on) {
  S.visible = on;
  S.panel.hidden = !on;
  for (const id of ["tablewrap", "summary", "paused", "tablehint"]) {
    const x = $(id);
    if (!x) continue;
    if (on) { x.dataset.svcWasHidden = x.hidden ? "1" : ""; x.hidden = true; } else if (x.dataset.svcWasHidden !== undefined) { x.hidden = x.dataset.svcWasHidden === "1"; delete x.dataset.svcWasHidden; }
  }
  S.viewBtn.setAttribute("aria-pressed", on ? "true" : "false");
  if (on) {
    for (const b of S.viewBtn.parentElement.querySelectorAll("button")) if (b !== S.viewBtn) b.setAttribute("aria-pressed", "false");
    load().then(follow);
  } else {
    unfollow();
  }
}

// --- detail ---

function kv(pairs) {
  const dl = el("dl", null, "kv");
  for (const [k, v] of pairs) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v == null || v === "" ? "—" : v)); }
  return dl;
}

function section(title) {
  const s = el("section", null, "dsec");
  s.appendChild(el("h3", title));
  return s;
}

const PRIO = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

function journalLine(e) {
  const li = el("li", null, "jl prio-" + e.priority);
  li.dataset.text = (e.message + " " + (e.identifier || "")).toLowerCase();
  li.append(el("time", (e.time || "").replace("T", " ").replace(/\.\d+Z$/, "Z"), "jt"), el("span", PRIO[e.priority] || "", "jp"),
    el("span", (e.identifier || "") + (e.pid ? "[" + e.pid + "]" : ""), "ji"), el("span", e.message, e.binary ? "jm binary" : "jm"));
  return li;
}

// journalBox is a live tail: filter, pause (new lines are held), priority
// colours, auto-scroll while at the bottom.
function journalBox(entries, label) {
  const box = el("div", null, "journal");
  const bar = el("div", null, "jbar");
  const f = el("input");
  f.type = "search";
  f.placeholder = "filter the journal";
  f.setAttribute("aria-label", "Filter the journal of " + label);
  const pause = btn("Pause", "Stop scrolling; new lines are held");
  pause.setAttribute("aria-pressed", "false");
  const count = el("span", "", "muted");
  bar.append(f, pause, count);
  const list = el("ol", null, "jlist");
  list.setAttribute("aria-label", "Journal of " + label);
  list.setAttribute("aria-live", "off");
  list.tabIndex = 0;
  const apply = (li) => { li.hidden = f.value !== "" && !li.dataset.text.includes(f.value.toLowerCase()); };
  const add = (e) => {
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 30;
    const li = journalLine(e);
    apply(li);
    list.appendChild(li);
    while (list.childElementCount > 1000) list.firstElementChild.remove();
    if (atEnd) list.scrollTop = list.scrollHeight;
  };
  for (const e of entries) add(e);
  let paused = false, held = [];
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) { for (const e of held) add(e); held = []; count.textContent = ""; list.scrollTop = list.scrollHeight; }
  });
  f.addEventListener("input", () => { for (const li of list.children) apply(li); });
  box.append(bar, list);
  setTimeout(() => { list.scrollTop = list.scrollHeight; }, 0);
  return {
    box,
    push(e) {
      if (paused) { held.push(e); count.textContent = held.length + " new"; return; }
      add(e);
    },
  };
}

async function followJournal(unit, cursor, jb) {
  if (S.jes) { S.jes.close(); S.jes = null; }
  try {
    const t = await ticket();
    if (S.detail !== unit) return;
    let url = "/api/events?journal=" + encodeURIComponent(unit) + "&ticket=" + encodeURIComponent(t);
    if (cursor) url += "&cursor=" + encodeURIComponent(cursor);
    const es = new EventSource(url);
    S.jes = es;
    es.addEventListener("journal", (ev) => { try { jb.push(JSON.parse(ev.data)); } catch { /* skip */ } });
    es.onerror = () => { es.close(); if (S.jes === es) S.jes = null; };
  } catch { /* the tail stays static */ }
}

async function openDetail(unit, keepMsg) {
  const d = S.dlg;
  S.detail = unit;
  S.dTitle.textContent = unit;
  if (!keepMsg) S.dMsg.textContent = "Loading…";
  S.dBody.replaceChildren();
  S.dActs.replaceChildren();
  if (!d.open) d.showModal();
  let u;
  try {
    u = await api("/api/service/" + encodeURIComponent(unit));
  } catch (e) {
    if (S.detail === unit) S.dMsg.textContent = e.message;
    return;
  }
  if (S.detail !== unit) return;
  if (!keepMsg) S.dMsg.textContent = "";
  for (const b of actionButtons(u, "detail")) S.dActs.appendChild(b);
  const s1 = section("Unit");
  S.detailState = el("span", u.active + " (" + u.sub + ")");
  const stateDd = kv([["Name", u.name], ["Description", u.description], ["Load", u.load], ["Enabled", u.unit_file_state],
    ["Since", (u.since || "").replace("T", " ")], ["Result", u.result], ["Restarts", u.restarts], ["Main PID", u.main_pid || "—"],
    ["Memory", fmtBytes(u.memory_current)], ["CPU time", fmtCPU(u.cpu_usage_nsec)], ["Tasks", u.tasks == null ? "—" : u.tasks],
    ["Control group", u.control_group], ["Unit file", u.fragment_path]]);
  const st = el("dt", "State");
  const sd = el("dd");
  sd.appendChild(S.detailState);
  stateDd.prepend(st, sd);
  s1.appendChild(stateDd);
  const s2 = section("Processes (" + (u.processes || []).length + ")");
  const ul = el("ul", null, "plist");
  for (const p of u.processes || []) {
    const li = el("li");
    const b = btn(String(p.pid), "Open process " + p.pid, "linkbtn");
    b.dataset.openProcess = String(p.pid);
    li.append(b, el("span", " " + p.name + " — " + (p.cmdline || []).join(" "), "muted"));
    ul.appendChild(li);
  }
  s2.appendChild(ul);
  const s3 = section("Ports");
  const pl = el("ul", null, "plist");
  for (const p of u.ports || []) pl.appendChild(el("li", p.type + " " + p.local + (p.remote ? " → " + p.remote : "") + " " + p.status + " (PID " + p.pid + ")"));
  if (!(u.ports || []).length) pl.appendChild(el("li", "none", "muted"));
  s3.appendChild(pl);
  const s4 = section("Journal");
  const jb = journalBox(u.journal || [], unit);
  s4.appendChild(jb.box);
  S.dBody.append(s1, s2, s3, s4);
  const last = (u.journal || []).length ? u.journal[u.journal.length - 1].cursor : "";
  followJournal(unit, last, jb);
}

// --- process detail: Journal section and unit link ---

// The process detail is rebuilt on every live refresh and keeps the
// sections whose DOM did not change: the journal is fetched once per
// process and its section rebuilt from this cache.
const jcache = new Map(); // "pid/create_time" → {entries} | {msg}

function journalContent(p, c) {
  const frag = document.createDocumentFragment();
  if (p.unit && /\.service$/.test(p.unit)) {
    const b = btn("Open unit " + p.unit, "Open the service " + p.unit, "linkbtn");
    b.dataset.uopen = p.unit;
    frag.appendChild(el("p")).appendChild(b);
  }
  if (!c) frag.appendChild(el("p", "Loading…", "muted"));
  else if (c.msg) frag.appendChild(el("p", c.msg, "muted"));
  else frag.appendChild(journalBox(c.entries, "PID " + p.pid).box);
  return frag;
}

function journalSection(p) {
  const key = p.pid + "/" + p.create_time;
  const wrap = el("div", null, "svc-journal");
  wrap.dataset.key = key;
  const c = jcache.get(key);
  wrap.appendChild(journalContent(p, c));
  if (!c && !jcache.has(key + "#loading")) {
    if (jcache.size > 16) jcache.clear();
    jcache.set(key + "#loading", true);
    api("/api/process/" + p.pid + "/journal?lines=50").then(
      (r) => r.count ? { entries: r.entries } : { msg: "No journal entries for PID " + p.pid + "." },
      (e) => ({ msg: e.code === "no_systemd" ? "No journal: systemd is not running on this host." : "Journal: " + e.message }),
    ).then((res) => {
      jcache.set(key, res);
      jcache.delete(key + "#loading");
      const live = document.querySelector('#dbody .svc-journal[data-key="' + key + '"]');
      if (live) live.replaceChildren(journalContent(p, res));
    });
  }
  return wrap;
}

// --- setup ---

function build() {
  // The page's view switcher (#views) is rebuilt from its registry of
  // table views; the Services button is kept in it, after them.
  const seg = $("views") || document.querySelector('.seg[aria-label="View"]');
  if (!seg) return false;
  S.viewBtn = btn("Services", "systemd units: state, processes, ports, journal");
  S.viewBtn.id = "view-services";
  S.viewBtn.setAttribute("aria-pressed", "false");
  const keep = () => { if (S.viewBtn.parentElement !== seg || seg.lastElementChild !== S.viewBtn) seg.appendChild(S.viewBtn); };
  keep();
  new MutationObserver(keep).observe(seg, { childList: true });
  // Another view chosen (a click, or the v shortcut): the panel goes.
  new MutationObserver((ms) => {
    if (!S.visible) return;
    for (const m of ms) {
      if (m.target !== S.viewBtn && m.target.getAttribute("aria-pressed") === "true") { show(false); return; }
    }
  }).observe(seg, { subtree: true, attributes: true, attributeFilter: ["aria-pressed"] });

  const panel = el("section", null, "services");
  panel.id = "services";
  panel.hidden = true;
  panel.setAttribute("aria-label", "Services");
  const bar = el("div", null, "sbar");
  const mk = (label, node) => { const l = el("label", label + " "); l.appendChild(node); return l; };
  S.stateEl = el("select");
  for (const [v, t] of [["", "any"], ["failed", "failed"], ["active", "active"], ["running", "running"], ["inactive", "inactive"], ["activating", "activating"]]) {
    const o = el("option", t); o.value = v; S.stateEl.appendChild(o);
  }
  S.stateEl.id = "svc-state";
  S.typeEl = el("select");
  for (const t of ["service", "socket", "timer", "target", "all"]) { const o = el("option", t); o.value = t; S.typeEl.appendChild(o); }
  S.typeEl.id = "svc-type";
  S.qEl = el("input");
  S.qEl.type = "search";
  S.qEl.id = "svc-q";
  S.qEl.placeholder = "name, description, unit:nginx";
  const refresh = btn("Refresh", "Reload the list");
  bar.append(mk("State", S.stateEl), mk("Type", S.typeEl), mk("Filter", S.qEl), refresh);
  S.msgEl = el("p", "", "msg");
  S.msgEl.setAttribute("role", "status");
  S.msgEl.setAttribute("aria-live", "polite");
  S.sumEl = el("p", "", "summary");
  S.wrap = el("div", null, "tablewrap");
  S.table = el("table");
  S.table.id = "svc-table";
  S.table.setAttribute("role", "grid");
  S.table.setAttribute("aria-label", "Services");
  S.table.setAttribute("aria-readonly", "true");
  const thead = el("thead");
  const hr = el("tr");
  hr.setAttribute("aria-rowindex", "1");
  for (const [h, num] of [["Unit"], ["Description"], ["State"], ["Enabled"], ["Main PID", 1], ["Memory", 1], ["CPU", 1], ["Tasks", 1], ["Ports"], ["Actions"]]) {
    const th = el("th", h, num ? "num" : "");
    th.scope = "col";
    hr.appendChild(th);
  }
  thead.appendChild(hr);
  S.tbody = el("tbody");
  S.table.append(thead, S.tbody);
  S.wrap.appendChild(S.table);
  panel.append(bar, S.msgEl, S.sumEl, S.wrap);
  const main = document.querySelector("main");
  main.appendChild(panel);
  S.panel = panel;

  // The unit detail dialog.
  const d = el("dialog", null, "detail");
  d.id = "svcdetail";
  d.setAttribute("aria-labelledby", "svctitle");
  const head = el("div", null, "dhead");
  S.dTitle = el("h2", "Unit");
  S.dTitle.id = "svctitle";
  S.dActs = el("div", null, "dactions");
  const close = btn("Close", "Close the unit detail");
  close.addEventListener("click", () => d.close());
  head.append(S.dTitle, S.dActs, close);
  S.dMsg = el("p", "", "msg");
  S.dMsg.setAttribute("role", "status");
  S.dMsg.setAttribute("aria-live", "polite");
  S.dBody = el("div", null, "dbody");
  d.append(head, S.dMsg, S.dBody);
  d.addEventListener("close", () => { S.detail = null; if (S.jes) { S.jes.close(); S.jes = null; } });
  document.body.appendChild(d);
  S.dlg = d;

  // Events.
  S.viewBtn.addEventListener("click", () => show(true));
  seg.addEventListener("click", (e) => { const b = e.target.closest("button"); if (b && b !== S.viewBtn && S.visible) show(false); });
  refresh.addEventListener("click", load);
  S.stateEl.addEventListener("change", load);
  S.typeEl.addEventListener("change", load);
  S.qEl.addEventListener("input", render);
  S.wrap.addEventListener("scroll", () => { if (S.shown.length > VIRTUAL_ABOVE) requestAnimationFrame(paint); });
  const onClick = (e) => {
    const a = e.target.closest("button[data-uact]");
    if (a) { act(a.dataset.unit, a.dataset.uact, S.dlg.open ? S.dMsg : S.msgEl); return; }
    const o = e.target.closest("button[data-uopen]");
    if (o) { const det = $("detail"); if (det && det.open && det !== S.dlg) det.close(); openDetail(o.dataset.uopen); return; }
    const p = e.target.closest("button[data-open-process]");
    if (p) {
      if (S.dlg.open) S.dlg.close();
      document.dispatchEvent(new CustomEvent("roy:open-process", { detail: { pid: Number(p.dataset.openProcess) } }));
      return;
    }
    const tr = e.target.closest("tr[data-unit]");
    if (tr) select(tr.dataset.unit, true);
  };
  panel.addEventListener("click", onClick);
  // The process list's and the Ports view's Unit column (views.mjs).
  document.addEventListener("roy:open-unit", (e) => {
    const det = $("detail");
    if (det && det.open) det.close();
    openDetail(String(e.detail.unit));
  });
  d.addEventListener("click", onClick);
  const det = $("dbody");
  if (det) det.addEventListener("click", onClick);
  // While the Services view shows, its keys are its own: the process
  // list's shortcuts (t, k, r on the hidden selection) must not fire.
  document.addEventListener("keydown", (e) => {
    if (!S.visible || e.ctrlKey || e.metaKey || e.altKey || document.querySelector("dialog[open]")) return;
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (e.key === "?" || e.key === "v") return; // the help dialog; the next view
    e.stopImmediatePropagation();
    if (e.key === "/") { e.preventDefault(); S.qEl.focus(); return; }
    if (t && t.closest && t.closest("tr[data-unit]") === t) { onKey(e); return; }
    if (e.key === "ArrowDown" && S.shown.length && !(t && t.closest && t.closest("header"))) {
      e.preventDefault();
      select(S.selected || S.shown[0].name, true);
    }
  }, true);
  return true;
}

function select(name, focus) {
  S.selected = name;
  for (const tr of S.tbody.querySelectorAll("tr[data-unit]")) {
    const on = tr.dataset.unit === name;
    tr.tabIndex = on ? 0 : -1;
    if (on) tr.setAttribute("aria-selected", "true"); else tr.removeAttribute("aria-selected");
    if (on && focus && document.activeElement !== tr && !tr.contains(document.activeElement)) tr.focus();
  }
}

// Keyboard: arrows move between rows, Enter opens the unit, s stops
// (after a confirmation), r restarts.
function onKey(e) {
  const tr = e.target.closest("tr[data-unit]");
  if (!tr || e.target !== tr) return;
  const i = S.shown.findIndex((u) => u.name === tr.dataset.unit);
  const go = (j) => {
    j = Math.max(0, Math.min(S.shown.length - 1, j));
    S.selected = S.shown[j].name;
    if (S.shown.length > VIRTUAL_ABOVE) { S.wrap.scrollTop = Math.max(0, j * ROW_H - S.wrap.clientHeight / 2); paint(); }
    select(S.selected, true);
  };
  switch (e.key) {
    case "ArrowDown": e.preventDefault(); go(i + 1); break;
    case "ArrowUp": e.preventDefault(); go(i - 1); break;
    case "Home": e.preventDefault(); go(0); break;
    case "End": e.preventDefault(); go(S.shown.length - 1); break;
    case "Enter": e.preventDefault(); openDetail(tr.dataset.unit); break;
    case "r": e.preventDefault(); act(tr.dataset.unit, "restart"); break;
    case "s": e.preventDefault(); act(tr.dataset.unit, "stop"); break;
    default:
  }
}

registerDetailSection({ id: "journal", title: "Journal", order: 25, render: journalSection });

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
else build();
