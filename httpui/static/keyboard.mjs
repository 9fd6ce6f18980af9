// Keyboard shortcuts of the page (the help dialog lists them).
import * as L from "./logic.mjs";
import { state, emit } from "./store.mjs";
import { $, say } from "./dom.mjs";
import { ROW_H, selectIndex, selectedIndex, selectedProcess, cycleView } from "./table.mjs";
import { doAction, openRowMenu } from "./actions.mjs";
import { openDetail } from "./detail.mjs";

const KEY_ACTIONS = { t: "TERM", k: "KILL", r: "restart", n: "renice", s: "signal" };

function anyDialogOpen() {
  return !!document.querySelector("dialog[open]");
}

export function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (anyDialogOpen()) return;
  const t = e.target;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");
  if (typing) {
    if (e.key === "Escape" && t.id === "q") { t.blur(); $("table").focus(); }
    if (e.key === "ArrowDown" && t.id === "q") { e.preventDefault(); $("table").focus(); selectIndex(0); }
    return;
  }
  if (e.key === "F10" && e.shiftKey) { const p = selectedProcess(); if (p) { e.preventDefault(); openRowMenu(p, false); } return; }
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
        emit("render");
      }
      return;
    case "Enter":
      if (t && t.tagName === "BUTTON") return;
      if (p) { e.preventDefault(); openDetail(p.pid); }
      return;
    case "v":
      cycleView();
      return;
    case "a": case "ContextMenu":
      if (p) { e.preventDefault(); openRowMenu(p, false); }
      return;
    case "u": // the selected process's unit, in the Services view (services.mjs)
      if (p && p.unit) {
        e.preventDefault();
        document.dispatchEvent(new CustomEvent("roy:open-unit", { detail: { unit: p.unit } }));
      } else if (p) {
        say("PID " + p.pid + " is in no systemd unit.", "warn");
      }
      return;
  }
  if (!p) {
    if (KEY_ACTIONS[e.key] || e.key === "a") say("Select a process first (arrows or a click).", "warn");
    return;
  }
  if (KEY_ACTIONS[e.key]) { e.preventDefault(); doAction(p, KEY_ACTIONS[e.key]); }
}
