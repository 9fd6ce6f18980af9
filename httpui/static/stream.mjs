// Loading the list: one request (Refresh), polling, or the server-sent
// event stream (a snapshot, then deltas). Emits "data" when the process
// map changed and "mode" when the live mode changed.
import * as L from "./logic.mjs";
import { state, emit } from "./store.mjs";
import { $, say } from "./dom.mjs";
import { api } from "./api.mjs";

let busy = false, again = false;
let timer = null, es = null, gen = 0, fails = 0, metaAsked = false;

// loadMeta asks once for the daemon's constants (signals, sort keys, nice
// range): GET /api/meta when the daemon has it, else GET /api/signals.
async function loadMeta() {
  if (metaAsked) return;
  metaAsked = true;
  try {
    const m = await api("/api/meta");
    if (Array.isArray(m.signals)) state.meta.signals = m.signals;
    const keys = m.sort_keys || m.sortKeys;
    if (Array.isArray(keys)) state.meta.serverSortKeys = keys;
    const nice = m.nice || {};
    if (Number.isInteger(nice.min)) state.meta.niceMin = nice.min;
    if (Number.isInteger(nice.max)) state.meta.niceMax = nice.max;
    if (state.meta.signals.length) return;
  } catch (_) { /* an older daemon: no /api/meta */ }
  try {
    const r = await api("/api/signals");
    state.meta.signals = r.signals || [];
  } catch (_) { metaAsked = false; }
}

// ensureMeta resolves when the signals are known (or cannot be).
export async function ensureMeta() {
  if (!state.meta.signals.length) { metaAsked = false; await loadMeta(); }
}

function afterData() {
  state.loaded = true;
  state.stamp = new Date();
  if ($("msg").classList.contains("err") && /^(401|429|Cannot reach)/.test($("msg").textContent)) say("");
  loadMeta();
  emit("data");
}

// load fetches the list once.
export async function load() {
  if (busy) { again = true; return; } // one more after this one
  busy = true;
  again = false;
  try {
    const data = await api("/api/processes?sort=pid&order=asc");
    state.map = L.applySnapshot(data.items);
    afterData();
  } catch (e) {
    say(e.message, "err");
  } finally {
    busy = false;
    if (again) load();
  }
}

export function stopLive() {
  gen++;
  if (es) { es.close(); es = null; }
  clearInterval(timer);
  timer = null;
  state.mode = "off";
}

function startPolling(why) {
  stopLive();
  state.mode = "poll";
  timer = setInterval(load, state.prefs.interval * 1000);
  if (why) say(why, "warn");
  load();
  emit("mode");
}

export async function startStream() {
  stopLive();
  const g = gen;
  if (typeof EventSource !== "function") { startPolling(); return; }
  let t;
  try {
    t = await api("/api/events/ticket", { method: "POST" });
  } catch (e) {
    if (g !== gen) return;
    say(e.message, "err");
    if (e.status === 401 || e.status === 429) { emit("mode"); return; } // polling would fail the same way
    startPolling();
    return;
  }
  if (g !== gen) return;
  const src = new EventSource("/api/events?interval=" + state.prefs.interval + "&ticket=" + encodeURIComponent(t.ticket));
  es = src;
  state.mode = "sse";
  src.addEventListener("snapshot", (ev) => {
    const d = JSON.parse(ev.data);
    state.map = L.applySnapshot(d.items);
    state.seq = d.seq;
    fails = 0;
    afterData();
  });
  src.addEventListener("delta", (ev) => {
    const d = JSON.parse(ev.data);
    if (!L.inSequence(state.seq, d)) { startStream(); return; } // resync: a new stream starts with a snapshot
    L.applyDelta(state.map, d);
    state.seq = d.seq;
    fails = 0;
    afterData();
  });
  src.onerror = () => {
    if (g !== gen) return;
    // The ticket is single-use: EventSource's own reconnect would fail,
    // so close it and start again with a new ticket, or fall back to
    // polling after repeated failures.
    src.close();
    es = null;
    fails++;
    if (fails >= 3) {
      startPolling("The live stream is unavailable; polling every " + state.prefs.interval + " s instead.");
      return;
    }
    setTimeout(() => { if (g === gen && $("auto").checked) startStream(); }, 1000 * fails);
  };
  emit("mode");
}

// refresh reloads now, in the current mode: a new stream starts with a
// fresh snapshot; mixing a poll into a delta stream could leave a ghost row.
export function refresh() {
  if (state.mode === "sse") startStream(); else load();
}

// start begins the mode the Auto checkbox says.
export function start() {
  if ($("auto").checked) startStream(); else { stopLive(); load(); emit("mode"); }
}

export function setAuto(on) {
  localStorage.setItem("roy_auto", on ? "1" : "0");
  if (on) startStream(); else stopLive();
  emit("mode");
}
