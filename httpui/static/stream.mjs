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
    setReadOnly(m.read_only === true);
    if (state.meta.signals.length) return;
  } catch (_) { /* an older daemon: no /api/meta */ }
  try {
    const r = await api("/api/signals");
    state.meta.signals = r.signals || [];
  } catch (_) { metaAsked = false; }
}

// setReadOnly records whether the token is the read-only one; "meta" tells
// the page (badge, action buttons) when that changes.
export function setReadOnly(ro) {
  if (state.meta.readOnly === ro) return;
  state.meta.readOnly = ro;
  emit("meta");
}

// reloadMeta asks again (another token may be another kind of token).
export function reloadMeta() {
  metaAsked = false;
  setReadOnly(false);
  return loadMeta();
}

// ensureMeta resolves when the signals are known (or cannot be).
export async function ensureMeta() {
  if (!state.meta.signals.length) { metaAsked = false; await loadMeta(); }
}

function afterData() {
  state.loaded = true;
  state.stamp = new Date();
  state.updates.push(Date.now());
  if (state.updates.length > 8) state.updates.shift();
  // The first-visit hint and a failed load's error are over now.
  const m = $("msg");
  if (m.classList.contains("hint") || (m.classList.contains("err") && /^(401|429|Cannot reach)/.test(m.textContent))) say("");
  loadMeta();
  emit("data");
}

// failed shows a load error; a wrong token also clears the list, so that
// nothing seen with an earlier token stays on screen.
function failed(e) {
  say(e.message, "err");
  if (e.status === 401 || e.status === 429) {
    state.map = new Map();
    state.loaded = false;
    state.stamp = null;
    emit("data");
  }
}

// load fetches the list once; fresh asks the daemon for a new snapshot
// rather than its cached one (Refresh).
export async function load(fresh) {
  if (busy) { again = true; return; } // one more after this one
  busy = true;
  again = false;
  try {
    const data = await api("/api/processes?sort=pid&order=asc" + (fresh ? "&fresh=1" : ""));
    state.map = L.applySnapshot(data.items);
    afterData();
  } catch (e) {
    failed(e);
  } finally {
    busy = false;
    if (again) load();
  }
}

export function stopLive() {
  gen++;
  if (es) { es.close(); es = null; }
  clearInterval(timer);
  clearTimeout(retry);
  timer = null;
  state.mode = "off";
  state.polling = false;
  state.updates = [];
}

function startPolling() {
  stopLive();
  state.mode = "poll";
  timer = setInterval(load, state.prefs.interval * 1000);
  load();
  emit("mode");
}

let retry = null;

// reconnect tries the stream again after a growing wait (1, 2, 4… 30 s),
// for as long as Auto is on; from the third failure it polls meanwhile.
function reconnect(g) {
  fails++;
  state.mode = "reconnecting";
  state.retryIn = L.backoff(fails);
  if (fails >= 3 && !timer) {
    state.polling = true;
    timer = setInterval(load, state.prefs.interval * 1000);
  }
  emit("mode");
  retry = setTimeout(() => { if (g === gen && $("auto").checked) openStream(); }, state.retryIn * 1000);
}

// startStream opens the live stream; fresh asks for a first snapshot
// newer than the daemon's cache (Refresh, after an action).
export function startStream(fresh) {
  stopLive();
  fails = 0;
  if (typeof EventSource !== "function") { startPolling(); return; }
  openStream(fresh);
}

// openStream opens one stream, keeping the reconnect state.
async function openStream(fresh) {
  if (es) { es.close(); es = null; }
  const g = gen;
  let t;
  try {
    t = await api("/api/events/ticket", { method: "POST" });
  } catch (e) {
    if (g !== gen) return;
    if (e.status === 401 || e.status === 429) { failed(e); stopLive(); emit("mode"); return; } // retrying would fail the same way
    reconnect(g);
    return;
  }
  if (g !== gen) return;
  const src = new EventSource("/api/events?interval=" + state.prefs.interval + (fresh ? "&fresh=1" : "") + "&ticket=" + encodeURIComponent(t.ticket));
  es = src;
  src.addEventListener("snapshot", (ev) => {
    if (g !== gen) return;
    const d = JSON.parse(ev.data);
    state.map = L.applySnapshot(d.items);
    state.seq = d.seq;
    if (fails) say("The live stream is back.", "ok");
    fails = 0;
    clearInterval(timer);
    timer = null;
    state.polling = false;
    state.mode = "sse";
    emit("mode");
    afterData();
  });
  src.addEventListener("delta", (ev) => {
    if (g !== gen) return;
    const d = JSON.parse(ev.data);
    if (!L.inSequence(state.seq, d)) { startStream(); return; } // resync: a new stream starts with a snapshot
    L.applyDelta(state.map, d);
    state.seq = d.seq;
    afterData();
  });
  src.onerror = () => {
    if (g !== gen) return;
    // The ticket is single-use: EventSource's own reconnect would fail,
    // so close it and start again with a new ticket.
    src.close();
    es = null;
    reconnect(g);
  };
  if (state.mode !== "reconnecting") { state.mode = "sse"; emit("mode"); }
}

// refresh reloads now, in the current mode, with a fresh snapshot: a new
// stream starts with one; mixing a poll into a delta stream could leave a
// ghost row.
export function refresh() {
  if (state.mode === "sse" || state.mode === "reconnecting") startStream(true); else load(true);
}

// start begins the mode the Auto checkbox says (the Refresh button).
export function start() {
  if ($("auto").checked) startStream(true); else { stopLive(); load(true); emit("mode"); }
}

export function setAuto(on) {
  localStorage.setItem("roy_auto", on ? "1" : "0");
  if (on) startStream(); else stopLive();
  emit("mode");
}
