// Roy ProcWatch UI: plain JS, no framework. Process data is untrusted (any
// user names their processes): it is only ever set with textContent, never
// parsed as HTML. The logic that can be tested without a DOM is in logic.js.
"use strict";

const L = window.ProcLogic;
const $ = (id) => document.getElementById(id);
let ROW_H = 30; // px; `tbody tr.r` in style.css, measured after the first paint

const state = {
  map: new Map(),      // pid -> process
  seq: null,           // last SSE sequence number
  prefs: null,
  signals: [],
  rows: [],            // the rows on screen: processes, tree rows or port rows
  selected: null,      // key of the selected row (the PID, or a socket key)
  selectedPid: null,
  collapsed: new Set(),
  outcomes: new Map(), // pid -> {text, kind}
  timer: null,
  es: null,
  streamGen: 0,
  sseFails: 0,
  mode: "off",         // off | sse | poll
  busy: false,
  again: false,
  loaded: false,
  stamp: null,
  rafPending: false,
  detailPid: null,
};

// --- small DOM helpers (text only) ---

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function button(label, title, cls) {
  const b = el("button", label, cls);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

function say(text, kind) {
  const m = $("msg");
  m.textContent = text || "";
  m.className = "msg" + (kind ? " " + kind : "");
}

function explain(status, body) {
  const e = (body && body.error) || "";
  switch (status) {
    case 401: return "401 Unauthorized: the token is missing or wrong. Paste the exact token shown by the daemon (or in /etc/roy-procwatch/token) into the X-Auth-Token field.";
    case 403: return "403 Access denied: " + (e || "this action is not permitted.");
    case 404: return "404 Not found: " + (e || "no such process") + " (it may have exited).";
    case 409: return "409 Conflict: " + (e || "the PID is no longer the same process") + (body && body.unit ? " (unit " + body.unit + ")" : "");
    case 429: return "429 Too many failed attempts: wait a second.";
    default: return status + ": " + (e || "request failed");
  }
}

async function api(path, opts) {
  opts = opts || {};
  const headers = { "X-Auth-Token": $("token").value.trim() };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method: opts.method || "GET",
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: "no-store",
    });
  } catch (e) {
    const err = new Error("Cannot reach the daemon: " + e.message);
    err.status = 0;
    throw err;
  }
  if (opts.raw && res.ok) return res;
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (!res.ok) {
    const err = new Error(explain(res.status, body));
    err.status = res.status;
    throw err;
  }
  return body;
}

// --- preferences ---

function savePrefs() {
  localStorage.setItem("roy_prefs", JSON.stringify(state.prefs));
}

// --- loading: polling and the event stream ---

function afterData() {
  state.loaded = true;
  if ($("msg").classList.contains("err") && /^(401|429|Cannot reach)/.test($("msg").textContent)) say("");
  if (!state.signals.length) {
    api("/api/signals").then((r) => { state.signals = r.signals || []; }).catch(() => {});
  }
  scheduleRender();
}

async function load() {
  if (state.busy) { state.again = true; return; } // one more after this one
  state.busy = true;
  state.again = false;
  try {
    const data = await api("/api/processes?sort=pid&order=asc");
    state.map = L.applySnapshot(data.items);
    state.stamp = new Date();
    afterData();
  } catch (e) {
    say(e.message, "err");
  } finally {
    state.busy = false;
    if (state.again) load();
  }
}

function stopLive() {
  state.streamGen++;
  if (state.es) { state.es.close(); state.es = null; }
  clearInterval(state.timer);
  state.timer = null;
  state.mode = "off";
}

function startPolling(why) {
  stopLive();
  state.mode = "poll";
  state.timer = setInterval(load, state.prefs.interval * 1000);
  if (why) say(why, "warn");
  load();
}

async function startStream() {
  stopLive();
  const gen = state.streamGen;
  if (typeof EventSource !== "function") { startPolling(); return; }
  let t;
  try {
    t = await api("/api/events/ticket", { method: "POST" });
  } catch (e) {
    if (gen !== state.streamGen) return;
    say(e.message, "err");
    if (e.status === 401 || e.status === 429) { renderSummary(); return; } // polling would fail the same way
    startPolling();
    return;
  }
  if (gen !== state.streamGen) return;
  const es = new EventSource("/api/events?interval=" + state.prefs.interval + "&ticket=" + encodeURIComponent(t.ticket));
  state.es = es;
  state.mode = "sse";
  es.addEventListener("snapshot", (ev) => {
    const d = JSON.parse(ev.data);
    state.map = L.applySnapshot(d.items);
    state.seq = d.seq;
    state.sseFails = 0;
    state.stamp = new Date();
    afterData();
  });
  es.addEventListener("delta", (ev) => {
    const d = JSON.parse(ev.data);
    if (!L.inSequence(state.seq, d)) { startStream(); return; } // resync: a new stream starts with a snapshot
    L.applyDelta(state.map, d);
    state.seq = d.seq;
    state.sseFails = 0;
    state.stamp = new Date();
    afterData();
  });
  es.onerror = () => {
    if (gen !== state.streamGen) return;
    // The ticket is single-use: EventSource's own reconnect would fail,
    // so close it and start again with a new ticket, or fall back to
    // polling after repeated failures.
    es.close();
    state.es = null;
    state.sseFails++;
    if (state.sseFails >= 3) {
      startPolling("The live stream is unavailable; polling every " + state.prefs.interval + " s instead.");
      return;
    }
    setTimeout(() => { if (gen === state.streamGen && $("auto").checked) startStream(); }, 1000 * state.sseFails);
  };
  renderSummary();
}

function setAuto(on) {
  localStorage.setItem("roy_auto", on ? "1" : "0");
  if (on) startStream(); else stopLive();
  renderSummary();
}

// --- rendering ---

function scheduleRender() {
  if (state.rafPending) return;
  state.rafPending = true;
  requestAnimationFrame(() => { state.rafPending = false; render(); });
}

function visibleColumns() {
  return state.prefs.columns.map((id) => L.COLUMN_BY_ID[id]).filter(Boolean);
}

function computeRows() {
  const q = $("q").value;
  const { sort, order, view } = state.prefs;
  if (view === "ports") return L.portRows(state.map, q);
  if (view === "tree") return L.treeRows(state.map, q, sort, order, state.collapsed);
  return L.view(state.map, q, sort, order).map((p) => ({ p, depth: 0 }));
}

const PORT_COLS = [
  { id: "proto", label: "Proto" }, { id: "local", label: "Local address" }, { id: "remote", label: "Remote address" },
  { id: "state", label: "State" }, { id: "pid", label: "PID", num: true }, { id: "name", label: "Process" }, { id: "user", label: "User" },
];

function renderHead() {
  const tr = el("tr");
  tr.setAttribute("aria-rowindex", "1");
  if (state.prefs.view === "ports") {
    for (const c of PORT_COLS) {
      const th = el("th", c.label, "c-s" + c.id + (c.num ? " num" : ""));
      th.scope = "col";
      tr.appendChild(th);
    }
  } else {
    for (const c of visibleColumns()) {
      const th = el("th", null, "c-" + c.id + (c.num ? " num" : ""));
      th.scope = "col";
      const b = button(c.label, "Sort by " + c.label, "sortbtn");
      b.dataset.sort = c.id;
      if (state.prefs.sort === c.id) {
        th.setAttribute("aria-sort", state.prefs.order === "asc" ? "ascending" : "descending");
        b.appendChild(el("span", state.prefs.order === "asc" ? " ▲" : " ▼", "arrow"));
      }
      th.appendChild(b);
      tr.appendChild(th);
    }
    const th = el("th", "Actions", "c-actions");
    th.scope = "col";
    tr.appendChild(th);
  }
  $("thead").replaceChildren(tr);
}

function render() {
  state.rows = computeRows();
  renderHead();
  paint();
  renderSummary();
}

function renderSummary() {
  const total = state.map.size;
  const shown = state.rows.length;
  const what = state.prefs.view === "ports" ? shown + " sockets" : shown === total ? total + " processes" : shown + " of " + total + " processes";
  const live = state.mode === "sse" ? "live (SSE, every " + state.prefs.interval + " s)" : state.mode === "poll" ? "polling every " + state.prefs.interval + " s" : "manual refresh";
  $("summary").textContent = (state.loaded ? what + " · " : "") + live + (state.stamp ? " · updated " + state.stamp.toLocaleTimeString() : "");
  $("table").setAttribute("aria-rowcount", String(shown + 1));
}

function rowKey(r) {
  return state.prefs.view === "ports" ? [r.pid, r.proto, r.local, r.remote].join("|") : r.p.pid;
}

function rowPid(r) {
  return state.prefs.view === "ports" ? r.pid : r.p.pid;
}

function selectedIndex() {
  if (state.selected == null) return -1;
  return state.rows.findIndex((r) => rowKey(r) === state.selected);
}

function spacer(h, cols) {
  const tr = el("tr", null, "spacer");
  tr.setAttribute("aria-hidden", "true");
  const td = el("td");
  td.colSpan = cols;
  td.style.height = h + "px"; // CSSOM, allowed by style-src 'self'
  tr.appendChild(td);
  return tr;
}

// paint renders only the rows in view (plus overscan): smooth at 10,000.
function paint() {
  const wrap = $("tablewrap");
  const headH = $("thead").offsetHeight || ROW_H;
  const rows = state.rows;
  const ports = state.prefs.view === "ports";
  const ncols = ports ? PORT_COLS.length : visibleColumns().length + 1;
  const w = L.windowFor(wrap.scrollTop - headH, wrap.clientHeight, ROW_H, rows.length, 12);
  const frag = document.createDocumentFragment();
  frag.appendChild(spacer(w.start * ROW_H, ncols));
  for (let i = w.start; i < w.end; i++) frag.appendChild(ports ? portRow(rows[i], i) : procRow(rows[i], i));
  frag.appendChild(spacer((rows.length - w.end) * ROW_H, ncols));
  $("rows").replaceChildren(frag);
  const first = $("rows").querySelector("tr.r");
  if (first) {
    const h = first.getBoundingClientRect().height;
    if (h > 0 && Math.abs(h - ROW_H) > 0.5) { ROW_H = h; paint(); return; }
  }
  const sel = selectedIndex();
  const grid = $("table");
  if (sel >= w.start && sel < w.end) grid.setAttribute("aria-activedescendant", "row-" + String(state.selected).replace(/[^\w.:-]/g, "_"));
  else grid.removeAttribute("aria-activedescendant");
  if (!rows.length && state.loaded) {
    const tr = el("tr", null, "empty");
    const td = el("td", state.map.size ? "Nothing matches the search." : "No processes.");
    td.colSpan = ncols;
    tr.appendChild(td);
    $("rows").appendChild(tr);
  }
}

// markSelection updates the rendered rows in place (no repaint).
function markSelection() {
  for (const tr of $("rows").querySelectorAll("tr.r")) {
    const row = state.rows[Number(tr.dataset.idx)];
    const on = !!row && rowKey(row) === state.selected;
    tr.classList.toggle("sel", on);
    tr.setAttribute("aria-selected", on ? "true" : "false");
    if (on) $("table").setAttribute("aria-activedescendant", tr.id);
  }
}

function baseRow(key, pid, i) {
  const tr = el("tr", null, "r");
  tr.id = "row-" + String(key).replace(/[^\w.:-]/g, "_");
  tr.dataset.pid = pid;
  tr.dataset.idx = i;
  tr.setAttribute("aria-rowindex", String(i + 2));
  const sel = key === state.selected;
  tr.setAttribute("aria-selected", sel ? "true" : "false");
  if (sel) tr.classList.add("sel");
  return tr;
}

function procRow(r, i) {
  const p = r.p;
  const tr = baseRow(p.pid, p.pid, i);
  const tree = state.prefs.view === "tree";
  const cols = visibleColumns();
  const treeCol = cols.some((c) => c.id === "name") ? "name" : cols[0] && cols[0].id;
  for (const c of cols) {
    const td = el("td", null, "c-" + c.id + (c.num ? " num" : ""));
    if (tree && c.id === treeCol) {
      td.classList.add("treecell");
      td.style.paddingLeft = (0.3 + Math.min(r.depth, 12) * 0.85) + "rem"; // CSSOM, allowed by the CSP
      if (r.hasChildren) {
        const t = button(r.collapsed ? "▸" : "▾", (r.collapsed ? "Expand " : "Collapse ") + p.name, "twisty");
        t.dataset.act = "toggle";
        t.setAttribute("aria-expanded", r.collapsed ? "false" : "true");
        t.setAttribute("aria-label", (r.collapsed ? "Expand " : "Collapse ") + (p.name || p.pid));
        td.appendChild(t);
      } else {
        td.appendChild(el("span", "", "twisty-pad"));
      }
      td.appendChild(el("span", c.text(p), "tv"));
      tr.setAttribute("aria-level", String(r.depth + 1));
    } else if (c.id === "ports" && (p.ports || []).length > 1) {
      td.textContent = L.portText(p.ports[0]) + " +" + (p.ports.length - 1);
      td.title = p.ports.map(L.portText).join("\n");
    } else {
      td.textContent = c.text(p);
      if (c.id === "cmdline" || c.id === "exe" || c.id === "ports") td.title = c.text(p);
      else if (c.id === "started") td.title = (p.create_time_iso || "").replace("T", " ");
    }
    tr.appendChild(td);
  }
  const a = el("td", null, "c-actions actions");
  const acts = [
    ["Stop", "Send SIGTERM", "TERM", ""], ["Kill", "Send SIGKILL (asks first)", "KILL", "danger"], ["HUP", "Send SIGHUP", "HUP", ""],
    ["Restart", "Stop and start again (through systemd for a service)", "restart", ""], ["Nice", "Change the priority (renice)", "renice", ""],
    ["Signal…", "Send another signal", "signal", ""],
  ];
  for (const [label, title, act, cls] of acts) {
    const b = button(label, title + " — " + (p.name || "") + " (PID " + p.pid + ")", cls);
    b.dataset.act = act;
    b.setAttribute("aria-label", label + " " + (p.name || "") + " (PID " + p.pid + ")");
    a.appendChild(b);
  }
  const o = state.outcomes.get(p.pid);
  if (o) {
    const s = el("span", o.text, "outcome " + o.kind);
    s.title = o.text;
    a.appendChild(s);
  }
  tr.appendChild(a);
  return tr;
}

function portRow(r, i) {
  const tr = baseRow(rowKey(r), r.pid, i);
  for (const c of PORT_COLS) {
    const td = el("td", String(r[c.id] == null ? "" : r[c.id]), "c-s" + c.id + (c.num ? " num" : ""));
    tr.appendChild(td);
  }
  return tr;
}

// --- actions ---

function confirmDlg(title, text, okLabel) {
  return new Promise((resolve) => {
    const d = $("confirmdlg");
    $("confirmtitle").textContent = title;
    $("confirmtext").textContent = text;
    $("confirmok").textContent = okLabel || "Confirm";
    d.returnValue = "";
    d.onclose = () => resolve(d.returnValue === "ok");
    d.showModal();
    $("confirmno").focus();
  });
}

function who(p) {
  return (p.name || "?") + " (PID " + p.pid + ")";
}

function outcome(pid, text, kind) {
  state.outcomes.set(pid, { text, kind });
  setTimeout(() => { if (state.outcomes.get(pid) && state.outcomes.get(pid).text === text) { state.outcomes.delete(pid); scheduleRender(); } }, 15000);
  scheduleRender();
}

async function act(p, path, body, done) {
  try {
    const r = await api("/api/process/" + p.pid + "/" + path, { method: "POST", body: Object.assign({ create_time: p.create_time }, body || {}) });
    const text = done(r);
    say(text, "ok");
    outcome(p.pid, text, "ok");
    if (state.detailPid === p.pid) $("dmsg").textContent = text;
    return r;
  } catch (e) {
    say(e.message, "err");
    outcome(p.pid, "✗ " + (e.status || "") + " " + e.message.replace(/^\d+ [^:]*: /, ""), "err");
    if (state.detailPid === p.pid) $("dmsg").textContent = e.message;
    return null;
  } finally {
    // Show the result now: with the stream on, reconnect (a new stream
    // starts with a fresh snapshot; mixing a poll into a delta stream could
    // leave a ghost row), else fetch the list.
    if (state.mode === "sse") startStream(); else load();
  }
}

async function sendSignal(p, sig) {
  sig = String(sig).toUpperCase().replace(/^SIG/, "");
  if (L.needsConfirm(sig) && !(await confirmDlg("Send SIG" + sig + "?", "Send SIG" + sig + " to " + who(p) + "? " + (sig === "KILL" ? "It cannot clean up." : ""), "Send SIG" + sig))) return null;
  return act(p, "signal", { signal: sig }, (r) => "SIG" + r.signal + " sent to " + r.pid);
}

async function restartProc(p) {
  if (!(await confirmDlg("Restart?", "Restart " + who(p) + "? A systemd service's main process is restarted through its unit; another process is stopped and launched again.", "Restart"))) return;
  act(p, "restart", {}, (r) => "Restarted " + r.old_pid + " as " + r.new_pid + (r.unit ? " (" + r.unit + ")" : ""));
}

function reniceProc(p) {
  const d = $("nicedlg");
  $("nicewho").textContent = who(p) + " now has nice " + p.nice + ".";
  const inp = $("nicevalue");
  inp.value = String(p.nice);
  d.returnValue = "";
  d.onclose = () => {
    if (d.returnValue !== "ok") return;
    const n = Number(inp.value);
    if (!Number.isInteger(n) || n < -20 || n > 19) { say("Nice must be an integer between -20 and 19.", "err"); return; }
    act(p, "renice", { nice: n }, (r) => "PID " + r.pid + " now has nice " + r.nice);
  };
  d.showModal();
  inp.select();
}

function openSignalDialog(p) {
  const dlg = $("sigdlg");
  $("sigwho").textContent = who(p);
  const sel = $("signame");
  sel.replaceChildren();
  for (const s of state.signals.length ? state.signals : ["TERM", "KILL", "INT", "HUP", "STOP", "CONT"]) {
    const o = el("option", "SIG" + s + (L.needsConfirm(s) ? " (asks first)" : ""));
    o.value = s;
    sel.appendChild(o);
  }
  dlg.returnValue = "";
  dlg.onclose = () => {
    if (dlg.returnValue !== "ok") return;
    sendSignal(p, sel.value);
  };
  dlg.showModal();
  sel.focus();
}

function doAction(p, what) {
  switch (what) {
    case "TERM": case "KILL": case "HUP": return sendSignal(p, what);
    case "restart": return restartProc(p);
    case "renice": return reniceProc(p);
    case "signal": return openSignalDialog(p);
  }
}

// --- detail view ---

function section(title) {
  const s = el("section", null, "dsec");
  s.appendChild(el("h3", title));
  return s;
}

function kvList(pairs) {
  const dl = el("dl", null, "kv");
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    dl.appendChild(el("dt", k));
    const dd = el("dd", v === null || v === "" ? "—" : v);
    dl.appendChild(dd);
  }
  return dl;
}

function table(caption, headers, rows, numCols) {
  const t = el("table", null, "dtable");
  t.appendChild(el("caption", caption, "vh"));
  const tr = el("tr");
  headers.forEach((h, i) => { const th = el("th", h, numCols && numCols.includes(i) ? "num" : ""); th.scope = "col"; tr.appendChild(th); });
  const thead = el("thead");
  thead.appendChild(tr);
  t.appendChild(thead);
  const tb = el("tbody");
  for (const r of rows) {
    const row = el("tr");
    r.forEach((c, i) => row.appendChild(el("td", c, numCols && numCols.includes(i) ? "num" : "")));
    tb.appendChild(row);
  }
  t.appendChild(tb);
  return t;
}

function pidLinks(refs, sep) {
  const wrap = el("p", null, "chain");
  if (!refs || !refs.length) { wrap.textContent = "none"; return wrap; }
  refs.forEach((r, i) => {
    if (i && sep) wrap.appendChild(el("span", sep, "sep"));
    const b = button((r.name || "?") + " (" + r.pid + ")", "Open PID " + r.pid, "link");
    b.dataset.openPid = r.pid;
    wrap.appendChild(b);
  });
  return wrap;
}

async function openDetail(pid) {
  const d = $("detail");
  state.detailPid = pid;
  $("dtitle").textContent = "PID " + pid;
  $("dmsg").textContent = "Loading…";
  $("dbody").replaceChildren();
  $("dactions").replaceChildren();
  if (!d.open) d.showModal();
  let p;
  try {
    p = await api("/api/process/" + pid);
  } catch (e) {
    if (state.detailPid === pid) $("dmsg").textContent = e.message;
    return;
  }
  if (state.detailPid !== pid) return;
  $("dmsg").textContent = "";
  $("dtitle").textContent = (p.name || "?") + " — PID " + p.pid;
  const acts = $("dactions");
  for (const [label, what, cls] of [["Stop", "TERM", ""], ["Kill", "KILL", "danger"], ["Restart", "restart", ""], ["Nice", "renice", ""], ["Signal…", "signal", ""], ["Reload", "reload", ""]]) {
    const b = button(label, null, cls);
    b.addEventListener("click", () => { if (what === "reload") openDetail(pid); else doAction(p, what); });
    acts.appendChild(b);
  }
  const body = $("dbody");
  const ids = (a) => (a || []).join(" / ");
  const s1 = section("Process");
  s1.appendChild(kvList([
    ["PID", p.pid], ["PPID", p.ppid], ["Name", p.name], ["User", p.username + " (uid " + p.uid + ")"],
    ["UIDs (r/e/s)", ids(p.uids)], ["GIDs (r/e/s)", ids(p.gids)],
    ["Status", p.status], ["CPU %", (p.cpu_percent || 0).toFixed(1)], ["RSS", L.fmtBytes(p.memory_rss)], ["Nice", p.nice],
    ["Threads", p.num_threads], ["Started", (p.create_time_iso || "").replace("T", " ")], ["Open files", p.open_files_count],
    ["Executable", p.exe], ["Working directory", p.cwd], ["Command line", (p.cmdline || []).join(" ")],
  ]));
  body.appendChild(s1);

  const s2 = section("Control group and unit");
  s2.appendChild(kvList([["cgroup", p.cgroup], ["systemd unit", p.unit]]));
  if (p.unit) {
    const b = button("Restart through " + p.unit, "Restart: for a service's main process, systemd restarts the unit", "");
    b.addEventListener("click", () => restartProc(p));
    s2.appendChild(b);
  }
  body.appendChild(s2);

  const s3 = section("Sockets (" + (p.ports || []).length + ")");
  s3.appendChild((p.ports || []).length
    ? table("Sockets", ["Proto", "Local", "Remote", "State", "Family"], p.ports.map((x) => [x.type || "", x.local, x.remote || "—", x.status, (x.family || "").replace("AddressFamily.", "")]))
    : el("p", "No TCP or UDP sockets.", "muted"));
  body.appendChild(s3);

  const m = p.memory || {};
  const s4 = section("Memory (smaps_rollup)");
  s4.appendChild(kvList([["RSS", L.fmtBytes(m.rss)], ["PSS", L.fmtBytes(m.pss)], ["Swap", L.fmtBytes(m.swap)], ["Anonymous", L.fmtBytes(m.anonymous)],
    ["File-backed", L.fmtBytes(m.file)], ["Private", L.fmtBytes(m.private)], ["Shared", L.fmtBytes(m.shared)]]));
  const kinds = L.mappingKinds(p.top_mappings);
  if (kinds.length) {
    s4.appendChild(el("h4", "Top mappings by kind"));
    s4.appendChild(table("Top mappings by kind", ["Kind", "Mappings", "RSS", "PSS", "Swap"], kinds.map((k) => [k.kind, String(k.count), L.fmtBytes(k.rss), L.fmtBytes(k.pss), L.fmtBytes(k.swap)]), [1, 2, 3, 4]));
    s4.appendChild(el("h4", "Top mappings"));
    s4.appendChild(table("Top mappings", ["Mapping", "Kind", "RSS", "PSS", "Swap"], (p.top_mappings || []).map((x) => [x.path || "[anon]", x.kind, L.fmtBytes(x.rss), L.fmtBytes(x.pss), L.fmtBytes(x.swap)]), [2, 3, 4]));
  }
  body.appendChild(s4);

  const s5 = section("Family");
  s5.appendChild(el("h4", "Parent chain"));
  s5.appendChild(pidLinks(p.parents, " › "));
  s5.appendChild(el("h4", "Children (" + (p.children || []).length + ")"));
  s5.appendChild(pidLinks(p.children, ""));
  body.appendChild(s5);

  const files = p.open_files || [];
  const s6 = section("Open files (" + files.length + ")");
  if (files.length) {
    const ul = el("ul", null, "files");
    for (const f of files.slice(0, 1000)) ul.appendChild(el("li", f));
    if (files.length > 1000) ul.appendChild(el("li", "… " + (files.length - 1000) + " more", "muted"));
    s6.appendChild(ul);
  } else s6.appendChild(el("p", "None visible.", "muted"));
  body.appendChild(s6);

  const s7 = section("Environment");
  if (Array.isArray(p.environ)) {
    const det = el("details");
    det.appendChild(el("summary", p.environ.length + " variables"));
    const ul = el("ul", null, "files");
    for (const v of p.environ) ul.appendChild(el("li", v));
    det.appendChild(ul);
    s7.appendChild(det);
  } else s7.appendChild(el("p", "Not available for this caller or process.", "muted"));
  body.appendChild(s7);
  // The Services view (services.mjs) adds the Journal section and the unit link.
  document.dispatchEvent(new CustomEvent("roy:process-detail", { detail: { pid: p.pid, unit: p.unit, body } }));
}

// --- exports ---

function stampName(ext) {
  const d = new Date();
  const z = (n) => String(n).padStart(2, "0");
  return "processes-" + d.getFullYear() + z(d.getMonth() + 1) + z(d.getDate()) + "-" + z(d.getHours()) + z(d.getMinutes()) + z(d.getSeconds()) + "." + ext;
}

function download(name, type, data) {
  const url = URL.createObjectURL(data instanceof Blob ? data : new Blob([data], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function currentList() {
  return L.view(state.map, $("q").value, state.prefs.sort, state.prefs.order);
}

function exportCSV() {
  if (state.prefs.view === "ports") download(stampName("csv").replace("processes", "sockets"), "text/csv", L.portsToCSV(state.rows));
  else download(stampName("csv"), "text/csv", L.toCSV(currentList()));
  say("Exported " + state.rows.length + " rows as CSV.", "ok");
}

function exportJSON() {
  if (state.prefs.view === "ports") download(stampName("json").replace("processes", "sockets"), "application/json", JSON.stringify({ count: state.rows.length, items: state.rows }, null, 2));
  else download(stampName("json"), "application/json", L.toJSON(currentList()));
  say("Exported " + state.rows.length + " rows as JSON.", "ok");
}

async function exportServer() {
  const sort = ["cpu", "mem", "pid", "name"].includes(state.prefs.sort) ? state.prefs.sort : "cpu";
  const params = new URLSearchParams({ q: $("q").value.replace(/\b(port|user):\S+/g, "").trim(), sort, order: state.prefs.order, format: "csv" });
  try {
    const res = await api("/api/processes?" + params, { raw: true });
    download(stampName("csv"), "text/csv", await res.blob());
    say("Downloaded the server's CSV.", "ok");
  } catch (e) {
    say(e.message, "err");
  }
}

// --- columns dialog ---

function renderColumnsDialog() {
  const ul = $("collist");
  ul.replaceChildren();
  const order = state.prefs.columns.concat(L.COLUMNS.map((c) => c.id).filter((id) => !state.prefs.columns.includes(id)));
  order.forEach((id) => {
    const c = L.COLUMN_BY_ID[id];
    const on = state.prefs.columns.includes(id);
    const li = el("li");
    const lab = el("label");
    const cb = el("input");
    cb.type = "checkbox";
    cb.checked = on;
    cb.id = "col-" + id;
    cb.addEventListener("change", () => {
      let cols = state.prefs.columns.filter((x) => x !== id);
      if (cb.checked) cols.push(id);
      if (!cols.length) { cb.checked = true; return; }
      state.prefs.columns = cols;
      savePrefs();
      renderColumnsDialog();
      render();
      $("col-" + id).focus();
    });
    lab.appendChild(cb);
    lab.appendChild(document.createTextNode(" " + c.label));
    li.appendChild(lab);
    if (on) {
      for (const [txt, delta] of [["↑", -1], ["↓", 1]]) {
        const b = button(txt, null, "small");
        b.setAttribute("aria-label", "Move " + c.label + (delta < 0 ? " up" : " down"));
        b.id = "col-" + id + (delta < 0 ? "-up" : "-down");
        b.addEventListener("click", () => {
          state.prefs.columns = L.moveColumn(state.prefs.columns, id, delta);
          savePrefs();
          renderColumnsDialog();
          render();
          const again = $(b.id);
          if (again) again.focus();
        });
        li.appendChild(b);
      }
    }
    ul.appendChild(li);
  });
}

// --- view, theme, sort ---

function setView(v) {
  if (v !== state.prefs.view) state.selected = v === "ports" ? null : state.selectedPid;
  state.prefs.view = v;
  savePrefs();
  for (const x of ["list", "tree", "ports"]) $("view-" + x).setAttribute("aria-pressed", x === v ? "true" : "false");
  $("table").setAttribute("aria-label", v === "ports" ? "Sockets" : v === "tree" ? "Process tree" : "Processes");
  $("table").setAttribute("role", v === "tree" ? "treegrid" : "grid");
  $("table").classList.toggle("tree", v === "tree");
  $("tablewrap").scrollTop = 0;
  render();
}

function effectiveTheme() {
  return state.prefs.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}

function applyTheme() {
  document.documentElement.dataset.theme = state.prefs.theme || "";
  const dark = effectiveTheme() === "dark";
  $("theme").setAttribute("aria-pressed", dark ? "true" : "false");
}

function setSort(id, order) {
  state.prefs.sort = id;
  if (order) state.prefs.order = order;
  $("sort").value = id;
  $("order").value = state.prefs.order;
  savePrefs();
  render();
}

function setIntervalPref(n) {
  state.prefs.interval = n;
  savePrefs();
  $("autolabel").textContent = "Auto (" + n + " s)";
  if ($("auto").checked) startStream();
  renderSummary();
}

// --- keyboard ---

function selectIndex(i) {
  if (i < 0 || i >= state.rows.length) return;
  state.selected = rowKey(state.rows[i]);
  state.selectedPid = rowPid(state.rows[i]);
  const wrap = $("tablewrap");
  const headH = $("thead").offsetHeight || ROW_H;
  const top = i * ROW_H;
  if (top < wrap.scrollTop) wrap.scrollTop = top;
  else if (top + ROW_H + headH > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = top + ROW_H + headH - wrap.clientHeight;
  paint();
}

function selectedProcess() {
  return state.selectedPid == null ? null : state.map.get(state.selectedPid) || null;
}

function anyDialogOpen() {
  return !!document.querySelector("dialog[open]");
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (anyDialogOpen()) return;
  const t = e.target;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");
  if (typing) {
    if (e.key === "Escape" && t.id === "q") { t.blur(); $("table").focus(); }
    if (e.key === "ArrowDown" && t.id === "q") { e.preventDefault(); $("table").focus(); selectIndex(0); }
    return;
  }
  const page = Math.max(1, Math.floor($("tablewrap").clientHeight / ROW_H) - 1);
  const p = selectedProcess();
  switch (e.key) {
    case "/": e.preventDefault(); $("q").focus(); $("q").select(); return;
    case "?": e.preventDefault(); $("helpdlg").showModal(); return;
    case "ArrowDown": case "ArrowUp": case "PageDown": case "PageUp": case "Home": case "End":
      if (t && t.tagName === "BUTTON" && t.closest("header")) return;
      e.preventDefault();
      selectIndex(L.moveSelection(selectedIndex(), e.key, state.rows.length, page));
      return;
    case "ArrowLeft": case "ArrowRight":
      if (state.prefs.view === "tree" && p) {
        e.preventDefault();
        if (e.key === "ArrowLeft") state.collapsed.add(p.pid); else state.collapsed.delete(p.pid);
        render();
      }
      return;
    case "Enter":
      if (t && t.tagName === "BUTTON") return;
      if (p) { e.preventDefault(); openDetail(p.pid); }
      return;
    case "v": {
      const order = ["list", "tree", "ports"];
      setView(order[(order.indexOf(state.prefs.view) + 1) % 3]);
      return;
    }
  }
  if (!p) {
    if ("tkrns".includes(e.key)) say("Select a process first (arrows or a click).", "warn");
    return;
  }
  const map = { t: "TERM", k: "KILL", r: "restart", n: "renice", s: "signal" };
  if (map[e.key]) { e.preventDefault(); doAction(p, map[e.key]); }
}

// --- wiring ---

function init() {
  state.prefs = L.loadPrefs(localStorage.getItem("roy_prefs"));
  // Add the other sortable columns to the original sort menu (docs/http-api.md).
  const sortSel = $("sort");
  for (const c of L.COLUMNS) {
    if (![...sortSel.options].some((o) => o.value === c.id)) {
      const o = el("option", c.label);
      o.value = c.id;
      sortSel.appendChild(o);
    }
  }
  sortSel.value = state.prefs.sort;
  $("order").value = state.prefs.order;
  $("interval").value = String(state.prefs.interval);
  $("autolabel").textContent = "Auto (" + state.prefs.interval + " s)";

  const tok = $("token");
  tok.value = localStorage.getItem("roy_token") || "";
  tok.addEventListener("input", () => localStorage.setItem("roy_token", tok.value.trim()));
  tok.addEventListener("change", () => { if ($("auto").checked) startStream(); else load(); });

  sortSel.addEventListener("change", () => setSort(sortSel.value));
  $("order").addEventListener("change", () => setSort(state.prefs.sort, $("order").value));
  $("interval").addEventListener("change", () => setIntervalPref(Number($("interval").value)));
  $("q").addEventListener("input", scheduleRender); // filters as you type, no reload
  $("controls").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("auto").checked) startStream(); else load();
  });
  $("auto").checked = localStorage.getItem("roy_auto") === "1";
  $("auto").addEventListener("change", () => setAuto($("auto").checked));

  for (const v of ["list", "tree", "ports"]) $("view-" + v).addEventListener("click", () => setView(v));
  $("columns").addEventListener("click", () => { renderColumnsDialog(); $("coldlg").showModal(); });
  $("colreset").addEventListener("click", () => { state.prefs.columns = L.DEFAULT_COLUMNS.slice(); savePrefs(); renderColumnsDialog(); render(); });
  $("export-csv").addEventListener("click", exportCSV);
  $("export-json").addEventListener("click", exportJSON);
  $("export-server").addEventListener("click", exportServer);
  $("help").addEventListener("click", () => $("helpdlg").showModal());
  $("theme").addEventListener("click", () => {
    state.prefs.theme = effectiveTheme() === "dark" ? "light" : "dark";
    savePrefs();
    applyTheme();
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", applyTheme);
  $("detail").addEventListener("close", () => { state.detailPid = null; $("table").focus(); });
  $("dbody").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-open-pid]");
    if (b) openDetail(Number(b.dataset.openPid));
  });
  // The Services view (services.mjs) opens process details through this.
  document.addEventListener("roy:open-process", (e) => openDetail(e.detail.pid));

  // Table: one delegated listener for header sorting, row buttons, rows.
  $("thead").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-sort]");
    if (!b) return;
    const id = b.dataset.sort;
    setSort(id, state.prefs.sort === id ? (state.prefs.order === "asc" ? "desc" : "asc") : (L.COLUMN_BY_ID[id].num ? "desc" : "asc"));
  });
  $("rows").addEventListener("click", (e) => {
    const tr = e.target.closest("tr.r");
    if (!tr) return;
    const pid = Number(tr.dataset.pid);
    const row = state.rows[Number(tr.dataset.idx)];
    state.selected = row ? rowKey(row) : pid;
    state.selectedPid = pid;
    const b = e.target.closest("button[data-act]");
    const p = state.map.get(pid);
    if (b && b.dataset.act === "toggle") {
      if (state.collapsed.has(pid)) state.collapsed.delete(pid); else state.collapsed.add(pid);
      render();
      return;
    }
    markSelection();
    if (b && p) { doAction(p, b.dataset.act); return; }
    openDetail(pid);
  });
  let scrollRaf = false;
  $("tablewrap").addEventListener("scroll", () => {
    if (scrollRaf) return;
    scrollRaf = true;
    requestAnimationFrame(() => { scrollRaf = false; paint(); });
  });
  window.addEventListener("resize", scheduleRender);
  document.addEventListener("keydown", onKey);

  applyTheme();
  setView(state.prefs.view);
  if (tok.value) {
    if ($("auto").checked) startStream(); else load();
  } else {
    say("Paste the token printed by the daemon (or from /etc/roy-procwatch/token) and press Refresh.");
  }
}

document.addEventListener("DOMContentLoaded", init);
