// The built-in views: List, Tree and Ports, each one registerView call.
import * as L from "./logic.mjs";
import { state, emit } from "./store.mjs";
import { el, button } from "./dom.mjs";
import { registerView } from "./table.mjs";
import { actionButtons } from "./actions.mjs";

function visibleColumns() {
  return state.prefs.columns.map((id) => L.COLUMN_BY_ID[id]).filter(Boolean);
}

function procColumns() {
  return visibleColumns().map((c) => ({ id: c.id, label: c.label, num: c.num, sort: true }))
    .concat([{ id: "actions", label: "Actions" }]);
}

// procCells fills a process row: the chosen columns, then the actions.
function procCells(tr, r) {
  const p = r.p;
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
    } else if (c.id === "ports" && (p.ports || []).length) {
      td.textContent = L.portsCell(p);
      td.title = L.sortedPorts(p.ports).map(L.portText).join("\n");
    } else if (c.id === "unit" && p.unit) {
      td.appendChild(unitButton(p.unit));
    } else if (c.id === "status") {
      td.textContent = c.text(p);
      const st = STATE_CLASS[p.status];
      if (st) td.classList.add(st);
    } else {
      td.textContent = c.text(p);
      if (c.id === "cmdline" || c.id === "exe" || c.id === "ports") td.title = c.text(p);
      else if (c.id === "started") td.title = (p.create_time_iso || "").replace("T", " ");
    }
    tr.appendChild(td);
  }
  const a = el("td", null, "c-actions actions");
  for (const b of actionButtons(p, "row", r.gone)) a.appendChild(b);
  const m = button("⋯", "Actions for " + (p.name || "") + " (PID " + p.pid + ")", "menubtn");
  m.dataset.act = "menu";
  m.tabIndex = -1;
  m.setAttribute("aria-label", "Actions for " + (p.name || "") + " (PID " + p.pid + ")");
  m.setAttribute("aria-haspopup", "dialog");
  a.appendChild(m);
  tr.appendChild(a);
}

// unitButton is a unit name that opens the unit's detail in the Services
// view (services.mjs listens for "roy:open-unit"; app.mjs sends it).
function unitButton(unit) {
  const b = button(L.unitLabel(unit), "Open the unit " + unit, "linkbtn unitlink");
  b.setAttribute("aria-label", "Open the unit " + unit);
  b.dataset.openUnit = unit;
  b.tabIndex = -1;
  return b;
}

// Uninterruptible sleep (D) and zombies (Z) are what an admin looks for.
const STATE_CLASS = { "disk-sleep": "st-d", zombie: "st-z" };

const procKey = (r) => r.p.pid;

registerView({
  id: "list", label: "List", ariaLabel: "Processes", role: "grid", noun: "processes",
  rows: (q) => L.view(state.map, q, state.prefs.sort, state.prefs.order, state.prefs.hideKthreads).map((p) => ({ p, depth: 0 })),
  columns: procColumns, cells: procCells, key: procKey, pid: procKey,
});

registerView({
  id: "tree", label: "Tree", title: "Parent/child tree (F5 in htop)", ariaLabel: "Process tree", role: "treegrid", noun: "processes",
  rows: (q) => L.treeRows(state.map, q, state.prefs.sort, state.prefs.order, state.collapsed, state.prefs.hideKthreads),
  columns: procColumns, cells: procCells, key: procKey, pid: procKey,
});

const PORT_COLS = [
  { id: "proto", label: "Proto" }, { id: "local", label: "Local address" }, { id: "remote", label: "Remote address" },
  { id: "state", label: "State" }, { id: "pid", label: "PID", num: true }, { id: "name", label: "Process" }, { id: "user", label: "User" },
  { id: "unit", label: "Unit" },
];

registerView({
  id: "ports", label: "Ports", title: "Every socket with its process (like ss -tulpn)", ariaLabel: "Sockets", role: "grid", noun: "sockets",
  rows: (q) => L.portRows(state.map, q, state.prefs.portSort, state.prefs.portOrder),
  columns: () => PORT_COLS.map((c) => ({ id: "s" + c.id, sortId: c.id, label: c.label, num: c.num, sort: true })),
  sorted: () => ({ id: state.prefs.portSort, order: state.prefs.portOrder }),
  // A header click sorts by it; again flips the order.
  sortBy: (id) => {
    if (!L.PORT_SORTS[id]) return;
    state.prefs.portOrder = state.prefs.portSort === id && state.prefs.portOrder === "asc" ? "desc" : "asc";
    state.prefs.portSort = id;
    emit("prefs");
    emit("render");
  },
  cells: (tr, r) => {
    for (const c of PORT_COLS) {
      if (c.id === "unit") {
        const td = el("td", null, "c-sunit");
        if (r.unit) td.appendChild(unitButton(r.unit));
        tr.appendChild(td);
        continue;
      }
      tr.appendChild(el("td", String(r[c.id] == null ? "" : r[c.id]), "c-s" + c.id + (c.num ? " num" : "")));
    }
  },
  key: (r) => [r.pid, r.proto, r.local, r.remote].join("|"),
  pid: (r) => r.pid,
});
