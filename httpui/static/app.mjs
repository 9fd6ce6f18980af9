// Roy ProcWatch UI: plain ES modules, no framework, no build step. This
// module wires the page; the others each have one job:
//   logic.mjs    pure logic (also run by node --test)   store.mjs   shared state, events
//   api.mjs      token and requests                    stream.mjs  load, poll, SSE
//   table.mjs    view registry, virtualised table      views.mjs   List, Tree, Ports
//   actions.mjs  action buttons, dialogs, requests      detail.mjs  process detail
//   keyboard.mjs shortcuts                              prefs.mjs   preferences, theme, columns
//   export.mjs   CSV/JSON downloads
// A new view is one registerView call in its own module, imported below.
import * as L from "./logic.mjs";
import { state, on, emit } from "./store.mjs";
import { $, say } from "./dom.mjs";
import { storedToken, isRemembered, saveToken } from "./api.mjs";
import * as stream from "./stream.mjs";
import * as table from "./table.mjs";
import "./views.mjs";
import { doAction, openRowMenu, renderResultsLog } from "./actions.mjs";
import { openDetail, initDetail } from "./detail.mjs";
import "./hostview.mjs";
import { onKey } from "./keyboard.mjs";
import * as prefs from "./prefs.mjs";
import { exportCSV, exportJSON, exportServer } from "./export.mjs";

function init() {
  prefs.initPrefs(table.viewIds());
  table.renderSwitcher();

  const tok = $("token");
  const remember = $("remember");
  tok.value = storedToken();
  remember.checked = isRemembered();
  tok.addEventListener("input", () => saveToken(tok.value, remember.checked));
  remember.addEventListener("change", () => saveToken(tok.value, remember.checked));
  tok.addEventListener("change", () => { stream.reloadMeta(); stream.start(); });
  on("meta", () => {
    $("readonly").hidden = !state.meta.readOnly;
    table.render(true);
  });

  $("sort").addEventListener("change", () => prefs.setSort($("sort").value));
  $("order").addEventListener("change", () => prefs.setSort(state.prefs.sort, $("order").value));
  $("interval").addEventListener("change", () => {
    prefs.setIntervalPref(Number($("interval").value));
    if ($("auto").checked) stream.startStream();
    table.renderSummary();
  });
  $("q").addEventListener("input", table.scheduleRender); // filters as you type, no reload
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); stream.start(); });
  $("auto").checked = localStorage.getItem("roy_auto") === "1";
  $("auto").addEventListener("change", () => stream.setAuto($("auto").checked));

  $("columns").addEventListener("click", () => { prefs.renderColumnsDialog(); $("coldlg").showModal(); });
  for (const [id, key] of [["pref-confirm-term", "confirmTerm"], ["pref-hide-kthreads", "hideKthreads"]]) {
    $(id).addEventListener("change", () => { state.prefs[key] = $(id).checked; prefs.savePrefs(); table.render(true); });
  }
  $("results-log").addEventListener("click", () => { renderResultsLog(); $("resultsdlg").showModal(); });
  for (const box of [$("results"), $("resultlist")]) {
    box.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-open-pid]");
      if (!b) return;
      if ($("resultsdlg").open) $("resultsdlg").close();
      openDetail(Number(b.dataset.openPid));
    });
  }
  on("open-detail", openDetail);
  // Modules that do not import ours open a process detail with this event.
  document.addEventListener("roy:open-process", (e) => openDetail(Number(e.detail.pid)));
  $("colreset").addEventListener("click", prefs.resetColumns);
  $("export-csv").addEventListener("click", exportCSV);
  $("export-json").addEventListener("click", exportJSON);
  $("export-server").addEventListener("click", exportServer);
  $("help").addEventListener("click", () => $("helpdlg").showModal());
  $("theme").addEventListener("click", prefs.toggleTheme);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", prefs.applyTheme);
  $("detail").addEventListener("close", () => { state.detailPid = null; $("table").focus(); });
  $("dbody").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-open-pid]");
    if (b) openDetail(Number(b.dataset.openPid));
  });

  // Table: one delegated listener for header sorting, row buttons, rows.
  $("thead").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-sort]");
    if (!b) return;
    const v = table.currentView();
    if (v.sortBy) v.sortBy(b.dataset.sort); else prefs.headerSort(b.dataset.sort);
  });
  $("rows").addEventListener("click", (e) => {
    const tr = e.target.closest("tr.r");
    if (!tr) return;
    const pid = Number(tr.dataset.pid);
    const row = state.rows[Number(tr.dataset.idx)];
    state.selected = row ? table.currentView().key(row) : pid;
    state.selectedPid = pid;
    const u = e.target.closest("button[data-open-unit]");
    if (u) {
      table.markSelection();
      // The Services view (services.mjs) opens the unit's detail.
      document.dispatchEvent(new CustomEvent("roy:open-unit", { detail: { unit: u.dataset.openUnit } }));
      return;
    }
    const b = e.target.closest("button[data-act]");
    // The process as this row showed it when pressed (its create_time pins
    // it), not whatever the map holds for the PID now.
    const p = tr.procRef || state.map.get(pid);
    const gone = tr.classList.contains("gone");
    if (b && b.dataset.act === "toggle") {
      if (state.collapsed.has(pid)) state.collapsed.delete(pid); else state.collapsed.add(pid);
      table.render(true);
      return;
    }
    table.markSelection();
    if (b && p && b.dataset.act === "menu") { openRowMenu(p, gone); return; }
    if (b && p) { if (!b.disabled) doAction(p, b.dataset.act); return; }
    openDetail(pid);
  });
  let scrollRaf = false;
  $("tablewrap").addEventListener("scroll", () => {
    if (scrollRaf) return;
    scrollRaf = true;
    requestAnimationFrame(() => { scrollRaf = false; table.paint(); });
  });
  window.addEventListener("resize", table.scheduleRender);
  document.addEventListener("keydown", onKey);

  table.initHold();
  initDetail();
  // Phones: the header shows the search and the views; "More" the rest
  // (open by itself while there is no token).
  const bar = document.querySelector("header.bar");
  const more = (on) => { bar.classList.toggle("more", on); $("more").setAttribute("aria-expanded", on ? "true" : "false"); };
  $("more").addEventListener("click", () => more(!bar.classList.contains("more")));
  more(!tok.value);
  prefs.applyTheme();
  table.setView(state.prefs.view);
  if (tok.value) stream.start();
  else say("Paste the token printed by the daemon (or from /etc/roy-procwatch/token) and press Refresh.", "hint");
  on("views", () => table.renderSwitcher());
}

// A read-only handle for the browser tests and the console.
window.ProcWatch = { state, L, emit, render: table.render, paint: table.paint };

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
