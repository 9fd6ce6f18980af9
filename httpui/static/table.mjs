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

// Live updates never move rows under the admin: while the pointer is over
// the table or the keyboard is in it, data updates keep the rows in place
// (L.holdOrder) and a hint offers to re-sort; any other render (search,
// sort, view, the pointer leaving) re-sorts.
let hovering = false;
let rafPending = false, explicitPending = false;
let paused = false;

// held: the pointer is on the table, or the keyboard is working in it (a
// mouse click also focuses the table; that alone does not freeze the order
// once the pointer has left).
export function held() {
  const a = document.activeElement;
  return hovering || $("tablewrap").matches(":hover") || (!!a && $("table").contains(a) && a.matches(":focus-visible"));
}

export function scheduleRender(explicit) {
  if (explicit !== false) explicitPending = true;
  if (rafPending) return;
  rafPending = true;
  requestAnimationFrame(() => { rafPending = false; const e = explicitPending; explicitPending = false; render(e); });
}

on("data", () => scheduleRender(false));
on("render", () => scheduleRender(true));
on("mode", () => renderSummary());

// initHold tracks the pointer and focus on the table.
export function initHold() {
  const w = $("tablewrap");
  w.addEventListener("pointerenter", () => { hovering = true; });
  w.addEventListener("pointerleave", () => { hovering = false; if (paused) scheduleRender(true); });
  $("table").addEventListener("focusout", (e) => { if (paused && !$("table").contains(e.relatedTarget)) scheduleRender(true); });
  $("resort").addEventListener("click", () => render(true));
}

function renderHead() {
  const v = currentView();
  const tr = el("tr");
  tr.setAttribute("aria-rowindex", "1");
  const sorted = v.sorted ? v.sorted() : { id: state.prefs.sort, order: state.prefs.order };
  for (const c of v.columns()) {
    const th = el("th", null, "c-" + c.id + (c.num ? " num" : ""));
    th.scope = "col";
    if (c.sort) {
      const b = el("button", null, "sortbtn");
      b.type = "button";
      b.tabIndex = -1; // the grid is one Tab stop; the Sort menu is the keyboard's way
      b.title = "Sort by " + c.label;
      b.dataset.sort = c.sortId || c.id;
      b.appendChild(el("span", c.label, "lbl"));
      if (sorted.id === (c.sortId || c.id)) {
        th.setAttribute("aria-sort", sorted.order === "asc" ? "ascending" : "descending");
        b.appendChild(el("span", sorted.order === "asc" ? "▲" : "▼", "arrow"));
      }
      th.appendChild(b);
    } else {
      th.textContent = c.label;
    }
    tr.appendChild(th);
  }
  const old = $("thead").firstElementChild;
  if (!old || !old.isEqualNode(tr)) $("thead").replaceChildren(tr);
}

// render recomputes the rows; explicit is false for a data update, which
// keeps the order while held().
export function render(explicit) {
  const v = currentView();
  const fresh = v.rows($("q").value);
  if (explicit === false && held() && state.rows.length) {
    const h = L.holdOrder(state.rows, fresh, v.key);
    state.rows = h.rows;
    paused = h.moved;
  } else {
    state.rows = fresh;
    paused = false;
  }
  $("paused").hidden = !paused;
  renderHead();
  paint();
  renderSummary();
  emit("rendered");
}

// liveText says how the list is updated, with the cadence measured from
// the updates themselves (the daemon's snapshot cache can make it slower
// than asked).
export function liveText() {
  const asked = state.prefs.interval;
  if (state.mode === "sse" || state.mode === "poll") {
    const c = L.cadence(state.updates);
    const slow = c && Math.abs(c - asked) > 0.4 ? ", updates every " + c.toFixed(1) + " s (asked " + asked + " s)" : "";
    if (state.mode === "sse") return slow ? "live (SSE)" + slow : "live (SSE, every " + asked + " s)";
    return slow ? "polling" + slow : "polling every " + asked + " s";
  }
  if (state.mode === "reconnecting") return "live stream lost: reconnecting in " + state.retryIn + " s" + (state.polling ? ", polling meanwhile" : "");
  return "manual refresh";
}

export function renderSummary() {
  const total = state.map.size;
  const shown = state.rows.filter((r) => !r.gone).length;
  const v = currentView();
  const what = v.noun !== "processes" ? shown + " " + v.noun : shown === total ? total + " processes" : shown + " of " + total + " processes";
  $("summary").textContent = (state.loaded ? what + " · " : "") + liveText() + (state.stamp ? " · updated " + state.stamp.toLocaleTimeString() : "");
  $("table").setAttribute("aria-rowcount", String(state.rows.length + 1));
}

export function selectedIndex() {
  if (state.selected == null) return -1;
  const v = currentView();
  return state.rows.findIndex((r) => v.key(r) === state.selected);
}

export function rowId(key) {
  return "row-" + String(key).replace(/[^\w.:-]/g, "_");
}

// morph updates the rendered node o to look like n, keeping o's elements
// where only attributes or text differ: a button under the pointer or with
// focus stays the same element, so a click across a live update is not
// lost and the focus stays.
function morph(o, n) {
  if (o.isEqualNode(n)) { o.procRef = n.procRef; return o; }
  if (o.nodeType !== n.nodeType || o.nodeName !== n.nodeName) { o.replaceWith(n); return n; }
  if (o.nodeType === Node.TEXT_NODE) { o.nodeValue = n.nodeValue; return o; }
  for (const a of [...o.attributes]) if (!n.hasAttribute(a.name)) o.removeAttribute(a.name);
  for (const a of n.attributes) if (o.getAttribute(a.name) !== a.value) o.setAttribute(a.name, a.value);
  if ("procRef" in n) o.procRef = n.procRef;
  if (o.nodeName === "BUTTON") o.disabled = n.disabled;
  const oc = [...o.childNodes], nc = [...n.childNodes];
  if (oc.length !== nc.length) { o.replaceChildren(...nc); return o; }
  oc.forEach((c, i) => morph(c, nc[i]));
  return o;
}

function sameRow(a, b) {
  return !!a && a.sig === b.sig && a.p === b.p && a.idx === b.idx && a.sel === b.sel && a.gone === b.gone &&
    a.depth === b.depth && a.collapsed === b.collapsed && a.kids === b.kids;
}

function buildRow(v, r, i) {
  const key = v.key(r);
  const tr = el("tr", null, "r" + (r.gone ? " gone" : ""));
  tr.id = rowId(key);
  tr.dataset.pid = v.pid(r);
  tr.dataset.key = String(key);
  tr.dataset.idx = i;
  tr.setAttribute("aria-rowindex", String(i + 2));
  const sel = key === state.selected;
  tr.setAttribute("aria-selected", sel ? "true" : "false");
  if (sel) tr.classList.add("sel");
  tr.procRef = r.p || null;
  v.cells(tr, r, i);
  return tr;
}

const spacers = {};
function spacer(which, h, cols) {
  let tr = spacers[which];
  if (!tr) {
    tr = spacers[which] = el("tr", null, "spacer");
    tr.setAttribute("aria-hidden", "true");
    tr.appendChild(el("td"));
  }
  const td = tr.firstChild;
  td.colSpan = cols;
  td.style.height = h + "px"; // CSSOM, allowed by style-src 'self'
  return tr;
}

// paint renders only the rows in view (plus overscan): smooth at 10,000.
// Rows already on screen are updated in place (morph) and only moved when
// their order changed.
export function paint() {
  const wrap = $("tablewrap");
  const headH = $("thead").offsetHeight || ROW_H;
  const rows = state.rows;
  const v = currentView();
  const ncols = v.columns().length;
  const w = L.windowFor(wrap.scrollTop - headH, wrap.clientHeight, ROW_H, rows.length, 12);
  const tbody = $("rows");
  const old = new Map();
  for (const tr of tbody.querySelectorAll("tr.r")) old.set(tr.dataset.key, tr);
  const want = [spacer("top", w.start * ROW_H, ncols)];
  // What a rendered row depends on besides its own data: a row whose
  // process object (deltas replace changed ones), position, selection and
  // state are unchanged is kept as it is, not rebuilt.
  const sig = v.id + "|" + v.columns().map((c) => c.id).join(",");
  for (let i = w.start; i < w.end; i++) {
    const r = rows[i];
    const key = String(v.key(r));
    const o = old.get(key);
    const rs = { sig, p: r.p, idx: i, sel: v.key(r) === state.selected, gone: !!r.gone, depth: r.depth, collapsed: r.collapsed, kids: r.hasChildren };
    if (o && r.p && sameRow(o.rowSig, rs)) { want.push(o); old.delete(key); continue; }
    const n = buildRow(v, r, i);
    n.rowSig = rs;
    if (o) { const m = morph(o, n); m.rowSig = rs; want.push(m); old.delete(key); } else want.push(n);
  }
  want.push(spacer("bottom", (rows.length - w.end) * ROW_H, ncols));
  if (!rows.length && state.loaded) {
    const tr = el("tr", null, "empty");
    const td = el("td", state.map.size ? "Nothing matches the search." : "No processes.");
    td.colSpan = ncols;
    tr.appendChild(td);
    want.push(tr);
  }
  let cur = tbody.firstChild;
  for (const node of want) {
    if (node === cur) { cur = cur.nextSibling; continue; }
    tbody.insertBefore(node, cur);
  }
  while (cur) { const nx = cur.nextSibling; cur.remove(); cur = nx; }
  const first = tbody.querySelector("tr.r");
  if (first) {
    const h = first.getBoundingClientRect().height;
    if (h > 0 && Math.abs(h - ROW_H) > 0.5) { ROW_H = h; paint(); return; }
  }
  const sel = selectedIndex();
  const grid = $("table");
  if (sel >= w.start && sel < w.end) grid.setAttribute("aria-activedescendant", rowId(state.selected));
  else grid.removeAttribute("aria-activedescendant");
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
  // The Sort/Order menus sort the process columns; a view with its own
  // header sorting hides them.
  for (const id of ["sort", "order"]) $(id).closest("label").hidden = !!v.sortBy;
  $("tablewrap").scrollTop = 0;
  $("rows").replaceChildren();
  render(true);
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
