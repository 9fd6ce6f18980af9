// Preferences (columns, sort, theme, interval, view) in localStorage, the
// theme, the sort controls and the columns dialog.
import * as L from "./logic.mjs";
import { state, on, emit } from "./store.mjs";
import { $, el, button } from "./dom.mjs";

export function savePrefs() {
  localStorage.setItem("roy_prefs", JSON.stringify(state.prefs));
}

on("prefs", savePrefs);

export function initPrefs(viewIds) {
  state.prefs = L.loadPrefs(localStorage.getItem("roy_prefs"), viewIds);
  // The sort menu lists every sortable column: one list, in logic.mjs.
  const sortSel = $("sort");
  sortSel.replaceChildren();
  for (const c of L.COLUMNS) {
    const o = el("option", c.label);
    o.value = c.id;
    sortSel.appendChild(o);
  }
  sortSel.value = state.prefs.sort;
  $("order").value = state.prefs.order;
  $("interval").value = String(state.prefs.interval);
  $("autolabel").textContent = "Auto (" + state.prefs.interval + " s)";
}

export function effectiveTheme() {
  return state.prefs.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}

export function applyTheme() {
  document.documentElement.dataset.theme = state.prefs.theme || "";
  $("theme").setAttribute("aria-pressed", effectiveTheme() === "dark" ? "true" : "false");
}

export function toggleTheme() {
  state.prefs.theme = effectiveTheme() === "dark" ? "light" : "dark";
  savePrefs();
  applyTheme();
}

export function setSort(id, order) {
  state.prefs.sort = id;
  if (order) state.prefs.order = order;
  $("sort").value = id;
  $("order").value = state.prefs.order;
  savePrefs();
  emit("render");
}

// headerSort sorts by a clicked header: again flips the order; a new
// numeric column starts descending, a text column ascending.
export function headerSort(id) {
  const c = L.COLUMN_BY_ID[id];
  if (!c) return;
  setSort(id, state.prefs.sort === id ? (state.prefs.order === "asc" ? "desc" : "asc") : (c.num ? "desc" : "asc"));
}

export function setIntervalPref(n) {
  state.prefs.interval = n;
  savePrefs();
  $("autolabel").textContent = "Auto (" + n + " s)";
}

export function resetColumns() {
  state.prefs.columns = L.DEFAULT_COLUMNS.slice();
  savePrefs();
  renderColumnsDialog();
  emit("render");
}

export function renderColumnsDialog() {
  $("pref-confirm-term").checked = state.prefs.confirmTerm;
  $("pref-hide-kthreads").checked = state.prefs.hideKthreads;
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
      const cols = state.prefs.columns.filter((x) => x !== id);
      if (cb.checked) cols.push(id);
      if (!cols.length) { cb.checked = true; return; }
      state.prefs.columns = cols;
      savePrefs();
      renderColumnsDialog();
      emit("render");
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
          emit("render");
          const again = $(b.id);
          if (again) again.focus();
        });
        li.appendChild(b);
      }
    }
    ul.appendChild(li);
  });
}
