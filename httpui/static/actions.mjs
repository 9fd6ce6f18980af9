// Actions on a process: the one list of action buttons (rows, the row
// menu and the detail use it), confirmations, the requests and their
// results. Every request pins the process by the create_time its row
// showed, so a reused PID is refused (409), never hit.
import * as L from "./logic.mjs";
import { state, emit } from "./store.mjs";
import { $, el, button, say } from "./dom.mjs";
import { api } from "./api.mjs";
import { refresh, load, ensureMeta, setReadOnly } from "./stream.mjs";

// ACTIONS: act is a signal name or restart, renice, signal (the menu).
// menu: only in the per-row menu (Signal… has it too), to keep rows short.
export const ACTIONS = [
  { label: "Terminate", title: "Send SIGTERM: ask it to exit (asks first)", act: "TERM", cls: "" },
  { label: "Kill", title: "Send SIGKILL: end it at once (asks first)", act: "KILL", cls: "danger" },
  { label: "HUP", title: "Send SIGHUP", act: "HUP", cls: "", menu: true },
  { label: "Restart", title: "Stop and start again (through systemd for a service)", act: "restart", cls: "" },
  { label: "Nice", title: "Change the priority (renice)", act: "renice", cls: "" },
  { label: "Signal…", title: "Send another signal", act: "signal", cls: "" },
];
const LABEL = Object.fromEntries(ACTIONS.map((a) => [a.act, a.label]));

function who(p) {
  return (p.name || "?") + " (PID " + p.pid + (p.username ? ", user " + p.username : "") + ")";
}

// refusal says why the daemon would refuse the action act on p, or "":
// the list's "protected" covers signals and restarts (renice too for a
// kernel thread).
export function refusal(p, gone, act) {
  if (gone) return "This process has exited.";
  if (state.meta.readOnly) return "Read-only token: actions need the admin token (/etc/roy-procwatch/token).";
  if (!p.protected || (act === "renice" && p.protected !== "kernel thread")) return "";
  return "Protected (" + p.protected + "): the daemon refuses this whoever asks.";
}

// actionButtons returns the buttons of p's actions; where is "row",
// "menu" or "detail". A protected or exited process gets them disabled,
// with the reason as their tooltip.
export function actionButtons(p, where, gone) {
  const out = [];
  for (const a of ACTIONS) {
    if (a.menu && where !== "menu") continue;
    const why = refusal(p, gone, a.act);
    const b = button(a.label, why || a.title + " — " + (p.name || "") + " (PID " + p.pid + ")", a.cls);
    b.dataset.act = a.act;
    b.setAttribute("aria-label", a.label + " " + (p.name || "") + " (PID " + p.pid + ")");
    if (why) b.disabled = true;
    if (where === "row") b.tabIndex = -1; // the grid is one Tab stop; keys act on the selected row
    out.push(b);
  }
  return out;
}

export function confirmDlg(title, text, okLabel, skip) {
  return new Promise((resolve) => {
    const d = $("confirmdlg");
    $("confirmtitle").textContent = title;
    $("confirmtext").textContent = text;
    $("confirmok").textContent = okLabel || "Confirm";
    $("confirmskipwrap").hidden = !skip;
    $("confirmskip").checked = false;
    d.returnValue = "";
    d.onclose = () => {
      const ok = d.returnValue === "ok";
      if (ok && skip && $("confirmskip").checked) skip();
      resolve(ok);
    };
    d.showModal();
    $("confirmno").focus();
  });
}

// --- results: one status region and a log of the last ones ---

const results = []; // newest first
const MAX_RESULTS = 20;
let toastTimer = null;

function resultNode(r) {
  const li = el("li", null, "result " + r.kind);
  li.appendChild(el("time", r.time.toLocaleTimeString()));
  li.appendChild(document.createTextNode(" " + r.text));
  if (r.openPid) {
    const b = button("Open PID " + r.openPid, "Open the new process", "link");
    b.dataset.openPid = r.openPid;
    li.appendChild(document.createTextNode(" "));
    li.appendChild(b);
  }
  return li;
}

// report shows an action's result (with the process's name and PID) in
// the status region and keeps it in the results log.
export function report(text, kind, openPid) {
  const r = { time: new Date(), text, kind, openPid };
  results.unshift(r);
  results.length = Math.min(results.length, MAX_RESULTS);
  const box = $("results");
  box.replaceChildren(resultNode(r));
  box.className = "results " + kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, kind === "err" ? 30000 : 12000);
  $("results-log").textContent = "Results (" + results.length + ")";
  if (!$("resultsdlg").open) return;
  renderResultsLog();
}

export function renderResultsLog() {
  const ol = $("resultlist");
  ol.replaceChildren();
  if (!results.length) ol.appendChild(el("li", "No actions yet.", "muted"));
  for (const r of results) ol.appendChild(resultNode(r));
}

async function act(p, what, path, body, done) {
  const name = LABEL[what] || what;
  let openPid = null;
  try {
    const r = await api("/api/process/" + p.pid + "/" + path, { method: "POST", body: Object.assign({ create_time: p.create_time }, body || {}) });
    const text = name + " " + who(p) + ": " + done(r);
    if (r && r.new_pid) openPid = r.new_pid;
    report(text, "ok", openPid);
    emit("result", p, text, "ok", r);
    return r;
  } catch (e) {
    if (e.code === "read_only_token") setReadOnly(true);
    const text = name + " " + who(p) + " failed: " + e.message;
    report(text, "err");
    emit("result", p, text, "err", null);
    return null;
  } finally {
    if (openPid) untilShown(openPid); else refresh();
  }
}

// untilShown refreshes (fresh snapshots) until pid is in the list, for up
// to ~10 s: a relaunched process must not be "Nothing matches".
async function untilShown(pid) {
  refresh();
  for (let i = 0; i < 20 && !state.map.has(pid); i++) {
    await new Promise((r) => setTimeout(r, 500));
    if (!state.map.has(pid)) await load(true);
  }
  if (state.mode === "sse") refresh(); // the stream's next snapshot has it too
}

async function sendSignal(p, sig) {
  sig = String(sig).toUpperCase().replace(/^SIG/, "");
  if (L.needsConfirm(sig, state.prefs)) {
    const what = sig === "KILL" ? "It is ended at once and cannot clean up." : sig === "TERM" ? "It is asked to exit and may clean up first." : "";
    const label = LABEL[sig] || "Send SIG" + sig;
    const skip = sig === "TERM" ? () => { state.prefs.confirmTerm = false; emit("prefs"); } : null;
    if (!(await confirmDlg(label + "?", "Send SIG" + sig + " to " + who(p) + "? " + what, label + " (SIG" + sig + ")", skip))) return null;
  }
  return act(p, LABEL[sig] ? sig : "signal", "signal", { signal: sig }, (r) => "SIG" + r.signal + " sent");
}

export async function restartProc(p) {
  if (!(await confirmDlg("Restart?", "Restart " + who(p) + "? A systemd service's main process is restarted through its unit; another process is stopped and launched again.", "Restart"))) return;
  act(p, "restart", "restart", {}, (r) => "restarted as PID " + r.new_pid + (r.unit ? " (" + r.unit + ")" : "") + (r.how ? ", " + r.how : ""));
}

function reniceProc(p) {
  const d = $("nicedlg");
  const { niceMin, niceMax } = state.meta;
  $("nicewho").textContent = who(p) + " now has nice " + p.nice + ".";
  const inp = $("nicevalue");
  inp.min = String(niceMin);
  inp.max = String(niceMax);
  inp.value = String(p.nice);
  d.returnValue = "";
  d.onclose = () => {
    if (d.returnValue !== "ok") return;
    const n = Number(inp.value);
    if (!Number.isInteger(n) || n < niceMin || n > niceMax) { say("Nice must be an integer between " + niceMin + " and " + niceMax + ".", "err"); return; }
    act(p, "renice", "renice", { nice: n }, (r) => "nice is now " + r.nice);
  };
  d.showModal();
  inp.select();
}

async function openSignalDialog(p) {
  await ensureMeta();
  if (!state.meta.signals.length) { say("The daemon's signal list could not be loaded.", "err"); return; }
  const dlg = $("sigdlg");
  $("sigwho").textContent = who(p);
  const sel = $("signame");
  sel.replaceChildren();
  for (const s of state.meta.signals) {
    const o = el("option", "SIG" + s + (L.needsConfirm(s, state.prefs) ? " (asks first)" : ""));
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

// openRowMenu lists p's actions in a dialog (the per-row menu: phones,
// and the keyboard's "a" or the context-menu key).
export function openRowMenu(p, gone) {
  const d = $("rowmenu");
  $("rowmenutitle").textContent = who(p);
  const box = $("rowmenuacts");
  box.replaceChildren();
  for (const b of actionButtons(p, "menu", gone)) {
    b.addEventListener("click", () => { d.close(); doAction(p, b.dataset.act); });
    box.appendChild(b);
  }
  const det = button("Details", "Open the process detail");
  det.dataset.openPid = p.pid;
  det.addEventListener("click", () => { d.close(); emit("open-detail", p.pid); });
  box.appendChild(det);
  d.showModal();
  const first = box.querySelector("button:not([disabled])");
  if (first) first.focus();
}

// doAction runs the action named what (an ACTIONS act) on p, the process
// as its row showed it.
export function doAction(p, what) {
  const why = refusal(p, false, what);
  if (why) { report(who(p) + ": " + why, "err"); return null; }
  switch (what) {
    case "restart": return restartProc(p);
    case "renice": return reniceProc(p);
    case "signal": return openSignalDialog(p);
    default: return sendSignal(p, what);
  }
}
