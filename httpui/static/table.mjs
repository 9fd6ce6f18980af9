// The table: a registry of views (List, Tree, Ports…), the header, the
// virtualised body (only the rows in view are in the DOM) and selection.
//
// A view is one registerView({...}) call:
//   id, label, title      the switcher button
//   ariaLabel, role       the table's label and role (grid or treegrid)
//   noun                  what a row is, plural ("processes", "sockets")
//   rows(q)               the rows for the search q, in order
//   columns()             header cells [{id, label, num, sort}]: sort says the header sorts
//   cells(tr, r, i)       fills a row's cells (text only)
//   key(r), pid(r)        a row's stable key and its process's PID
// Other modules mount into the page without editing it: headerRegion()
// above the table (a host overview), detail.mjs's registerDetailSection.
import * as L from "./logic.mjs";
import { state, on, emit } from "./store.mjs";
import { $, el } from "./dom.mjs";

export let ROW_H = 30; // px; `tbody tr.r` in style.css, measured after the first paint
const views = [];

export function registerView(v) {
  views.push(v);
  emit("views");
}

export function viewIds() {
  return views.map((v) => v.id);
}

export function allViews() {
  return views.slice();
}

export function currentView() {
  return views.find((v) => v.id === state.prefs.view) || views[0];
}

// headerRegion returns the (shown) region above the table for a module's
// summary, e.g. a host overview.
export function headerRegion() {
  const r = $("overview");
  r.hidden = false;
  return r;
}

let rafPending = false;

export function scheduleRender() {
  if (rafPending) return;
  rafPending = true;
  requestAnimationFrame(() => { rafPending = false; render(); });
}

on("data", scheduleRender);
on("render", scheduleRender);
on("mode", () => renderSummary());

function renderHead() {
  const v = currentView();
  const tr = el("tr");
  tr.setAttribute("aria-rowindex", "1");
  for (const c of v.columns()) {
    const th = el("th", null, "c-" + c.id + (c.num ? " num" : ""));
    th.scope = "col";
    if (c.sort) {
      const b = el("button", c.label, "sortbtn");
      b.type = "button";
      b.title = "Sort by " + c.label;
      b.dataset.sort = c.id;
      if (state.prefs.sort === c.id) {
        th.setAttribute("aria-sort", state.prefs.order === "asc" ? "ascending" : "descending");
        b.appendChild(el("span", state.prefs.order === "asc" ? " ▲" : " ▼", "arrow"));
      }
      th.appendChild(b);
    } else {
      th.textContent = c.label;
    }
    tr.appendChild(th);
  }
  $("thead").replaceChildren(tr);
}

export function render() {
  state.rows = currentView().rows($("q").value);
  renderHead();
  paint();
  renderSummary();
  emit("rendered");
}

export function renderSummary() {
  const total = state.map.size;
  const shown = state.rows.length;
  const v = currentView();
  const what = v.noun !== "processes" ? shown + " " + v.noun : shown === total ? total + " processes" : shown + " of " + total + " processes";
  const live = state.mode === "sse" ? "live (SSE, every " + state.prefs.interval + " s)" : state.mode === "poll" ? "polling every " + state.prefs.interval + " s" : "manual refresh";
  $("summary").textContent = (state.loaded ? what + " · " : "") + live + (state.stamp ? " · updated " + state.stamp.toLocaleTimeString() : "");
  $("table").setAttribute("aria-rowcount", String(shown + 1));
}

export function selectedIndex() {
  if (state.selected == null) return -1;
  const v = currentView();
  return state.rows.findIndex((r) => v.key(r) === state.selected);
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

export function rowId(key) {
  return "row-" + String(key).replace(/[^\w.:-]/g, "_");
}

// paint renders only the rows in view (plus overscan): smooth at 10,000.
export function paint() {
  const wrap = $("tablewrap");
  const headH = $("thead").offsetHeight || ROW_H;
  const rows = state.rows;
  const v = currentView();
  const ncols = v.columns().length;
  const w = L.windowFor(wrap.scrollTop - headH, wrap.clientHeight, ROW_H, rows.length, 12);
  const frag = document.createDocumentFragment();
  frag.appendChild(spacer(w.start * ROW_H, ncols));
  for (let i = w.start; i < w.end; i++) {
    const r = rows[i];
    const key = v.key(r);
    const tr = el("tr", null, "r");
    tr.id = rowId(key);
    tr.dataset.pid = v.pid(r);
    tr.dataset.idx = i;
    tr.setAttribute("aria-rowindex", String(i + 2));
    const sel = key === state.selected;
    tr.setAttribute("aria-selected", sel ? "true" : "false");
    if (sel) tr.classList.add("sel");
    v.cells(tr, r, i);
    frag.appendChild(tr);
  }
  frag.appendChild(spacer((rows.length - w.end) * ROW_H, ncols));
  $("rows").replaceChildren(frag);
  const first = $("rows").querySelector("tr.r");
  if (first) {
    const h = first.getBoundingClientRect().height;
    if (h > 0 && Math.abs(h - ROW_H) > 0.5) { ROW_H = h; paint(); return; }
  }
  const sel = selectedIndex();
  const grid = $("table");
  if (sel >= w.start && sel < w.end) grid.setAttribute("aria-activedescendant", rowId(state.selected));
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
export function markSelection() {
  const v = currentView();
  for (const tr of $("rows").querySelectorAll("tr.r")) {
    const row = state.rows[Number(tr.dataset.idx)];
    const on = !!row && v.key(row) === state.selected;
    tr.classList.toggle("sel", on);
    tr.setAttribute("aria-selected", on ? "true" : "false");
    if (on) $("table").setAttribute("aria-activedescendant", tr.id);
  }
}

export function selectIndex(i) {
  if (i < 0 || i >= state.rows.length) return;
  const v = currentView();
  state.selected = v.key(state.rows[i]);
  state.selectedPid = v.pid(state.rows[i]);
  const wrap = $("tablewrap");
  const headH = $("thead").offsetHeight || ROW_H;
  const top = i * ROW_H;
  if (top < wrap.scrollTop) wrap.scrollTop = top;
  else if (top + ROW_H + headH > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = top + ROW_H + headH - wrap.clientHeight;
  paint();
}

export function selectedProcess() {
  return state.selectedPid == null ? null : state.map.get(state.selectedPid) || null;
}

// setView switches the view and renders; the switcher buttons come from
// the registry (renderSwitcher).
export function setView(id) {
  const v = views.find((x) => x.id === id) || views[0];
  if (v.id !== state.prefs.view) state.selected = v.id === "list" || v.id === "tree" ? state.selectedPid : null;
  state.prefs.view = v.id;
  emit("prefs");
  for (const b of $("views").querySelectorAll("button")) b.setAttribute("aria-pressed", b.dataset.view === v.id ? "true" : "false");
  $("table").setAttribute("aria-label", v.ariaLabel || v.label);
  $("table").setAttribute("role", v.role || "grid");
  $("table").className = "view-" + v.id;
  $("tablewrap").scrollTop = 0;
  render();
}

export function cycleView() {
  const i = views.findIndex((x) => x.id === state.prefs.view);
  setView(views[(i + 1) % views.length].id);
}

export function renderSwitcher() {
  const g = $("views");
  g.replaceChildren();
  for (const v of views) {
    const b = el("button", v.label);
    b.type = "button";
    b.id = "view-" + v.id;
    b.dataset.view = v.id;
    if (v.title) b.title = v.title;
    b.setAttribute("aria-pressed", state.prefs && state.prefs.view === v.id ? "true" : "false");
    b.addEventListener("click", () => setView(v.id));
    g.appendChild(b);
  }
}
