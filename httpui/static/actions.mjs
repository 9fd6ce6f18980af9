// Actions on a process: the one list of action buttons (rows and the
// detail use it), confirmations, and the requests. Every request pins the
// process by its create_time, so a reused PID is refused (409), never hit.
import * as L from "./logic.mjs";
import { state, emit } from "./store.mjs";
import { $, el, button, say } from "./dom.mjs";
import { api } from "./api.mjs";
import { refresh, ensureMeta } from "./stream.mjs";

// ACTIONS: [label, title, action, class]. The action is a signal name or
// restart, renice, signal (the menu).
export const ACTIONS = [
  { label: "Stop", title: "Send SIGTERM", act: "TERM", cls: "" },
  { label: "Kill", title: "Send SIGKILL (asks first)", act: "KILL", cls: "danger" },
  { label: "HUP", title: "Send SIGHUP", act: "HUP", cls: "", row: true },
  { label: "Restart", title: "Stop and start again (through systemd for a service)", act: "restart", cls: "" },
  { label: "Nice", title: "Change the priority (renice)", act: "renice", cls: "" },
  { label: "Signal…", title: "Send another signal", act: "signal", cls: "" },
];

function who(p) {
  return (p.name || "?") + " (PID " + p.pid + ")";
}

// actionButtons returns the buttons of p's actions; where is "row" or
// "detail" (HUP is a row shortcut only: the menu has it).
export function actionButtons(p, where) {
  const out = [];
  for (const a of ACTIONS) {
    if (a.row && where !== "row") continue;
    const b = button(a.label, a.title + " — " + (p.name || "") + " (PID " + p.pid + ")", a.cls);
    b.dataset.act = a.act;
    b.setAttribute("aria-label", a.label + " " + (p.name || "") + " (PID " + p.pid + ")");
    out.push(b);
  }
  return out;
}

export function confirmDlg(title, text, okLabel) {
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

function outcome(pid, text, kind) {
  state.outcomes.set(pid, { text, kind });
  setTimeout(() => { if (state.outcomes.get(pid) && state.outcomes.get(pid).text === text) { state.outcomes.delete(pid); emit("render"); } }, 15000);
  emit("render");
}

async function act(p, path, body, done) {
  try {
    const r = await api("/api/process/" + p.pid + "/" + path, { method: "POST", body: Object.assign({ create_time: p.create_time }, body || {}) });
    const text = done(r);
    say(text, "ok");
    outcome(p.pid, text, "ok");
    emit("result", p, text, "ok", r);
    return r;
  } catch (e) {
    say(e.message, "err");
    outcome(p.pid, "✗ " + (e.status || "") + " " + e.message.replace(/^\d+ [^:]*: /, ""), "err");
    emit("result", p, e.message, "err", null);
    return null;
  } finally {
    refresh();
  }
}

async function sendSignal(p, sig) {
  sig = String(sig).toUpperCase().replace(/^SIG/, "");
  if (L.needsConfirm(sig) && !(await confirmDlg("Send SIG" + sig + "?", "Send SIG" + sig + " to " + who(p) + "? " + (sig === "KILL" ? "It cannot clean up." : ""), "Send SIG" + sig))) return null;
  return act(p, "signal", { signal: sig }, (r) => "SIG" + r.signal + " sent to " + r.pid);
}

export async function restartProc(p) {
  if (!(await confirmDlg("Restart?", "Restart " + who(p) + "? A systemd service's main process is restarted through its unit; another process is stopped and launched again.", "Restart"))) return;
  act(p, "restart", {}, (r) => "Restarted " + r.old_pid + " as " + r.new_pid + (r.unit ? " (" + r.unit + ")" : ""));
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
    act(p, "renice", { nice: n }, (r) => "PID " + r.pid + " now has nice " + r.nice);
  };
  d.showModal();
  inp.select();
}

async function openSignalDialog(p) {
  await ensureMeta();
  const dlg = $("sigdlg");
  $("sigwho").textContent = who(p);
  const sel = $("signame");
  sel.replaceChildren();
  for (const s of state.meta.signals) {
    const o = el("option", "SIG" + s + (L.needsConfirm(s) ? " (asks first)" : ""));
    o.value = s;
    sel.appendChild(o);
  }
  if (!state.meta.signals.length) { say("The daemon's signal list could not be loaded.", "err"); return; }
  dlg.returnValue = "";
  dlg.onclose = () => {
    if (dlg.returnValue !== "ok") return;
    sendSignal(p, sel.value);
  };
  dlg.showModal();
  sel.focus();
}

// doAction runs the action named what (an ACTIONS act) on p.
export function doAction(p, what) {
  switch (what) {
    case "restart": return restartProc(p);
    case "renice": return reniceProc(p);
    case "signal": return openSignalDialog(p);
    default: return sendSignal(p, what);
  }
}
