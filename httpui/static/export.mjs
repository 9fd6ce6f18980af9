// Downloads: the current view as CSV or JSON (made here), and the
// server's own CSV (GET /api/processes?format=csv).
import * as L from "./logic.mjs";
import { state } from "./store.mjs";
import { $, say } from "./dom.mjs";
import { api } from "./api.mjs";

function stampName(what, ext) {
  const d = new Date();
  const z = (n) => String(n).padStart(2, "0");
  return what + "-" + d.getFullYear() + z(d.getMonth() + 1) + z(d.getDate()) + "-" + z(d.getHours()) + z(d.getMinutes()) + z(d.getSeconds()) + "." + ext;
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

export function exportCSV() {
  if (state.prefs.view === "ports") download(stampName("sockets", "csv"), "text/csv", L.portsToCSV(state.rows));
  else download(stampName("processes", "csv"), "text/csv", L.toCSV(currentList()));
  say("Exported " + state.rows.length + " rows as CSV.", "ok");
}

export function exportJSON() {
  if (state.prefs.view === "ports") download(stampName("sockets", "json"), "application/json", JSON.stringify({ count: state.rows.length, items: state.rows }, null, 2));
  else download(stampName("processes", "json"), "application/json", L.toJSON(currentList()));
  say("Exported " + state.rows.length + " rows as JSON.", "ok");
}

export async function exportServer() {
  const keys = state.meta.serverSortKeys || L.SERVER_SORT_KEYS;
  const sort = keys.includes(state.prefs.sort) ? state.prefs.sort : "cpu";
  // The server applies the same search syntax (port:, user:, a bare port).
  const params = new URLSearchParams({ q: $("q").value.trim(), sort, order: state.prefs.order, format: "csv", fresh: "1" });
  try {
    const res = await api("/api/processes?" + params, { raw: true });
    download(stampName("processes", "csv"), "text/csv", await res.blob());
    say("Downloaded the server's CSV.", "ok");
  } catch (e) {
    say(e.message, "err");
  }
}
