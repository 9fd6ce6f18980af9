// Roy ProcWatch UI: plain JS, no framework. Process data is untrusted
// (any user names their processes): it is only ever set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { timer: null, signals: [], busy: false };

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fmtBytes(n) {
  if (!n) return "0";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function say(text, kind) {
  const m = $("msg");
  m.textContent = text || "";
  m.className = "msg" + (kind ? " " + kind : "");
}

function explain(status, body) {
  const e = (body && body.error) || "";
  switch (status) {
    case 401: return "401 Unauthorized: paste the exact token shown by the daemon into the X-Auth-Token field.";
    case 403: return "403 Access denied: " + e;
    case 404: return "404 Not found: " + e;
    case 409: return "409 Conflict: " + e;
    case 429: return "429 Too many failed attempts: wait a second.";
    default: return status + ": " + (e || "request failed");
  }
}

async function api(path, opts) {
  opts = opts || {};
  const headers = { "X-Auth-Token": $("token").value.trim() };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method: opts.method || "GET",
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    cache: "no-store",
  });
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (!res.ok) {
    const err = new Error(explain(res.status, body));
    err.status = res.status;
    throw err;
  }
  return body;
}

function portText(p) {
  return (p.type || "") + " " + p.local + (p.remote ? " → " + p.remote : "") + " " + p.status;
}

function actionButton(label, title, fn, cls) {
  const b = el("button", label, cls);
  b.type = "button";
  b.title = title;
  b.addEventListener("click", fn);
  return b;
}

async function act(p, path, body, done) {
  try {
    const r = await api("/api/process/" + p.pid + "/" + path, { method: "POST", body: Object.assign({ create_time: p.create_time }, body || {}) });
    say(done(r), "ok");
  } catch (e) {
    say(e.message, "err");
  }
  load();
}

function sendSignal(p, sig) {
  return act(p, "signal", { signal: sig }, (r) => "Sent SIG" + r.signal + " to " + r.pid + ".");
}

function row(p) {
  const tr = el("tr");
  tr.dataset.pid = p.pid;
  tr.appendChild(el("td", p.pid, "num"));
  tr.appendChild(el("td", p.name, "name"));
  tr.appendChild(el("td", p.username));
  tr.appendChild(el("td", p.status));
  tr.appendChild(el("td", p.cpu_percent.toFixed(1), "num"));
  tr.appendChild(el("td", fmtBytes(p.memory_rss), "num"));
  tr.appendChild(el("td", p.nice, "num"));
  tr.appendChild(el("td", (p.create_time_iso || "").replace("T", " ")));
  const ports = el("td", null, "ports");
  for (const pt of p.ports || []) ports.appendChild(el("div", portText(pt)));
  tr.appendChild(ports);
  tr.appendChild(el("td", p.open_files_count, "num"));
  const cmd = (p.cmdline || []).join(" ");
  const c = el("td", cmd || "[" + p.name + "]", "cmd");
  c.title = cmd;
  tr.appendChild(c);
  const a = el("td", null, "actions");
  a.appendChild(actionButton("Stop", "Send SIGTERM", () => sendSignal(p, "TERM")));
  a.appendChild(actionButton("Kill", "Send SIGKILL", () => {
    if (confirm("Kill " + p.name + " (PID " + p.pid + ") with SIGKILL?")) sendSignal(p, "KILL");
  }, "danger"));
  a.appendChild(actionButton("HUP", "Send SIGHUP", () => sendSignal(p, "HUP")));
  a.appendChild(actionButton("Restart", "Stop and start again (through systemd for a service)", () => {
    if (confirm("Restart " + p.name + " (PID " + p.pid + ")?"))
      act(p, "restart", {}, (r) => "Restarted " + r.old_pid + " as " + r.new_pid + (r.unit ? " (" + r.unit + ")" : "") + ".");
  }));
  a.appendChild(actionButton("Nice", "Change the priority (renice)", () => {
    const v = prompt("New nice value for " + p.name + " (-20..19):", String(p.nice));
    if (v === null) return;
    const n = Number(v);
    if (!Number.isInteger(n)) { say("Nice must be an integer between -20 and 19.", "err"); return; }
    act(p, "renice", { nice: n }, (r) => "PID " + r.pid + " now has nice " + r.nice + ".");
  }));
  a.appendChild(actionButton("Signal…", "Send another signal", () => openSignalDialog(p)));
  tr.appendChild(a);
  return tr;
}

function openSignalDialog(p) {
  const dlg = $("sigdlg");
  $("sigwho").textContent = p.name + " (PID " + p.pid + ")";
  const sel = $("signame");
  sel.replaceChildren();
  for (const s of state.signals.length ? state.signals : ["TERM", "KILL", "INT", "HUP", "STOP", "CONT"]) {
    sel.appendChild(el("option", "SIG" + s)).value = s;
  }
  dlg.onclose = () => {
    if (dlg.returnValue !== "ok") return;
    const s = sel.value;
    if ((s === "KILL" || s === "STOP") && !confirm("Send SIG" + s + " to " + p.name + "?")) return;
    sendSignal(p, s);
  };
  dlg.showModal();
}

async function load() {
  if (state.busy) return;
  state.busy = true;
  const params = new URLSearchParams({ q: $("q").value, sort: $("sort").value, order: $("order").value });
  try {
    const data = await api("/api/processes?" + params);
    const rows = document.createDocumentFragment();
    for (const p of data.items) rows.appendChild(row(p));
    $("rows").replaceChildren(rows);
    $("summary").textContent = data.count + " processes · " + new Date().toLocaleTimeString();
    if ($("msg").classList.contains("err") && /^(401|429)/.test($("msg").textContent)) say("");
    if (!state.signals.length) {
      api("/api/signals").then((r) => { state.signals = r.signals || []; }).catch(() => {});
    }
  } catch (e) {
    say(e.message, "err");
  } finally {
    state.busy = false;
  }
}

function setAuto(on) {
  clearInterval(state.timer);
  state.timer = on ? setInterval(load, 3000) : null;
  localStorage.setItem("roy_auto", on ? "1" : "0");
}

function applyTheme(t) {
  document.documentElement.dataset.theme = t || "";
  $("theme").setAttribute("aria-pressed", t === "dark" ? "true" : "false");
}

function init() {
  const tok = $("token");
  tok.value = localStorage.getItem("roy_token") || "";
  tok.addEventListener("input", () => localStorage.setItem("roy_token", tok.value.trim()));
  for (const id of ["sort", "order"]) {
    const v = localStorage.getItem("roy_" + id);
    if (v) $(id).value = v;
    $(id).addEventListener("change", () => { localStorage.setItem("roy_" + id, $(id).value); load(); });
  }
  let debounce;
  $("q").addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(load, 200); });
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("auto").checked = localStorage.getItem("roy_auto") === "1";
  $("auto").addEventListener("change", () => setAuto($("auto").checked));
  setAuto($("auto").checked);
  applyTheme(localStorage.getItem("roy_theme"));
  $("theme").addEventListener("click", () => {
    const cur = document.documentElement.dataset.theme ||
      (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    const next = cur === "dark" ? "light" : "dark";
    localStorage.setItem("roy_theme", next);
    applyTheme(next);
  });
  if (tok.value) load(); else say("Paste the token printed by the daemon (or from /etc/roy-procwatch/token) and press Refresh.");
}

document.addEventListener("DOMContentLoaded", init);
