// Roy ProcWatch UI logic without the DOM: delta merge, filtering, sorting,
// tree building, ports, CSV/JSON export, preferences, virtual scrolling.
// An ES module, imported by the page's modules and by Node's test runner
// (test/js/logic.test.mjs): nothing here touches the DOM.

// --- formatting ---

export function fmtBytes(n) {
  if (!n) return "0";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
}

// stateLabel is a socket's state as ss(8) shows it: an unconnected UDP
// socket is UNCONN (the API keeps the original "NONE", docs/http-api.md).
export function stateLabel(s) {
  const st = s.status || "";
  return (st === "NONE" || st === "") && (s.type || "") === "udp" ? "UNCONN" : st;
}

export function isListener(s) {
  return s.status === "LISTEN" || ((s.type || "") === "udp" && !s.remote);
}

// portText says ":PORT" first (what an admin looks for), then the address,
// the peer and the state.
export function portText(s) {
  const local = s.local || "";
  const port = s.local_port || Number(local.slice(local.lastIndexOf(":") + 1)) || 0;
  const host = local.slice(0, local.lastIndexOf(":"));
  return ":" + port + " " + (s.type || "") + " " + host + (s.remote ? " → " + s.remote : "") + " " + stateLabel(s);
}

// sortedPorts puts listeners first, then by local port.
export function sortedPorts(ports) {
  return (ports || []).slice().sort((a, b) => (isListener(b) - isListener(a)) || (a.local_port || 0) - (b.local_port || 0));
}

// portsCell is the Ports column: the listeners' ":PORT"s first, then how
// many other sockets.
export function portsCell(p) {
  const ps = sortedPorts(p.ports);
  if (!ps.length) return "";
  const ls = ps.filter(isListener);
  const uniq = [...new Set(ls.map((x) => ":" + x.local_port))];
  const others = ps.length - ls.length;
  if (!uniq.length) return portText(ps[0]) + (ps.length > 1 ? " +" + (ps.length - 1) : "");
  return uniq.join(" ") + (others ? " +" + others + " conn" : "");
}

// fmtStarted shortens the local ISO start time: the time alone for today,
// the date and minutes otherwise.
export function fmtStarted(iso, now) {
  if (!iso) return "";
  const s = String(iso).replace("T", " ").replace(/\.\d+$/, "");
  now = now || new Date();
  const z = (n) => String(n).padStart(2, "0");
  const today = now.getFullYear() + "-" + z(now.getMonth() + 1) + "-" + z(now.getDate());
  return s.startsWith(today + " ") ? s.slice(11) : s.slice(0, 16);
}

// fmtCPUTime writes CPU seconds as htop's TIME+: m:ss.hh, or h:mm:ss from
// an hour on.
export function fmtCPUTime(sec) {
  sec = Math.max(0, Number(sec) || 0);
  const z = (n) => String(n).padStart(2, "0");
  if (sec >= 3600) return Math.floor(sec / 3600) + ":" + z(Math.floor(sec / 60) % 60) + ":" + z(Math.floor(sec) % 60);
  const cs = Math.round(sec * 100);
  return Math.floor(cs / 6000) + ":" + z(Math.floor(cs / 100) % 60) + "." + z(cs % 100);
}

export function cmdText(p) {
  const c = (p.cmdline || []).join(" ");
  return c || "[" + (p.name || "") + "]";
}

// --- columns (ids are stable: they are stored in preferences) ---

export const COLUMNS = [
  { id: "pid", label: "PID", num: true, sort: (p) => p.pid, text: (p) => String(p.pid) },
  { id: "ppid", label: "PPID", num: true, sort: (p) => p.ppid, text: (p) => String(p.ppid) },
  { id: "name", label: "Name", sort: (p) => (p.name || "").toLowerCase(), text: (p) => p.name || "" },
  { id: "user", label: "User", sort: (p) => (p.username || "").toLowerCase(), text: (p) => p.username || "" },
  { id: "status", label: "Status", sort: (p) => p.status || "", text: (p) => p.status || "" },
  { id: "cpu", label: "CPU%", num: true, sort: (p) => p.cpu_percent || 0, text: (p) => (p.cpu_percent || 0).toFixed(1) },
  { id: "mem", label: "RSS", num: true, sort: (p) => p.memory_rss || 0, text: (p) => fmtBytes(p.memory_rss) },
  { id: "mempct", label: "MEM%", num: true, sort: (p) => p.memory_percent || 0, text: (p) => (p.memory_percent || 0).toFixed(1) },
  { id: "virt", label: "VIRT", num: true, sort: (p) => p.memory_vms || 0, text: (p) => fmtBytes(p.memory_vms) },
  { id: "time", label: "TIME+", num: true, sort: (p) => p.cpu_time || 0, text: (p) => fmtCPUTime(p.cpu_time) },
  { id: "nice", label: "Nice", num: true, sort: (p) => p.nice || 0, text: (p) => String(p.nice) },
  { id: "threads", label: "Threads", num: true, sort: (p) => p.num_threads || 0, text: (p) => String(p.num_threads || 0) },
  { id: "started", label: "Started", sort: (p) => p.create_time || 0, text: (p) => fmtStarted(p.create_time_iso) },
  { id: "ports", label: "Ports", sort: (p) => (p.ports || []).length, text: portsCell },
  { id: "unit", label: "Unit", sort: (p) => (p.unit || "").toLowerCase(), text: (p) => p.unit || "" },
  { id: "files", label: "Files", num: true, sort: (p) => p.open_files_count || 0, text: (p) => String(p.open_files_count || 0) },
  { id: "exe", label: "Executable", sort: (p) => p.exe || "", text: (p) => p.exe || "" },
  { id: "cmdline", label: "Command line", sort: (p) => cmdText(p).toLowerCase(), text: cmdText },
];
export const COLUMN_BY_ID = Object.fromEntries(COLUMNS.map((c) => [c.id, c]));
// The defaults fit 1366 px with room for the command line (the Unit
// column is capped in width); Started, Files, PPID, Threads, VIRT and
// Executable are one tick away (Columns…).
export const DEFAULT_COLUMNS = ["pid", "name", "user", "status", "cpu", "mempct", "mem", "time", "nice", "ports", "unit", "cmdline"];

// SERVER_SORT_KEYS are the sort keys GET /api/processes accepts, until the
// daemon says them itself (GET /api/meta); the other columns sort here.
export const SERVER_SORT_KEYS = ["cpu", "mem", "pid", "name"];

// --- the process map (pid -> process) and deltas ---

// applySnapshot returns a fresh map from a snapshot event or an API list.
export function applySnapshot(items) {
  const m = new Map();
  for (const p of items || []) m.set(p.pid, p);
  return m;
}

// applyDelta merges a delta event into map (in place) and returns it.
// Removals go first so that a reused PID (removed and added in the same
// delta) ends up as the new process. Changed entries hold the pid and the
// changed fields only.
export function applyDelta(map, d) {
  for (const pid of d.removed || []) map.delete(pid);
  for (const p of d.added || []) map.set(p.pid, p);
  for (const c of d.changed || []) {
    const cur = map.get(c.pid);
    if (cur) map.set(c.pid, Object.assign({}, cur, c));
  }
  return map;
}

// inSequence says whether a delta follows the last event seen; when it
// does not, the client must resynchronise (reconnect for a snapshot).
export function inSequence(lastSeq, d) {
  return typeof lastSeq === "number" && d.base === lastSeq;
}

// --- filtering and sorting ---

// parseQuery reads the one search syntax of every view (and of the
// server's ?q=): words match a substring of the PID, name, user or command
// line (in the ports view: of the address, state, protocol, process name or
// user); a bare number matches a PID containing it, a port equal to it, or
// like a word;
// "port:5432" or ":5432" a port, "user:root" a user, "pid:42" a PID,
// "unit:nginx" a systemd unit (see unitMatches).
// All terms must match.
export function parseQuery(q) {
  const out = { text: [], nums: [], port: null, user: null, pid: null, unit: null };
  for (const t of String(q || "").trim().toLowerCase().split(/\s+/)) {
    if (!t) continue;
    let m;
    if ((m = /^(?:port:|:)(\d+)$/.exec(t))) out.port = Number(m[1]);
    else if ((m = /^pid:(\d+)$/.exec(t))) out.pid = Number(m[1]);
    else if ((m = /^user:(.+)$/.exec(t))) out.user = m[1];
    else if ((m = /^unit:(.+)$/.exec(t))) out.unit = m[1];
    else if (/^\d+$/.test(t)) out.nums.push(t);
    else out.text.push(t);
  }
  return out;
}

export function isEmptyQuery(pq) {
  return !pq.text.length && !pq.nums.length && pq.port == null && pq.user == null && pq.pid == null && pq.unit == null;
}

// unitLabel is how a narrow cell shows a unit: a service without its
// ".service" (the usual case), any other unit whole (session-3.scope).
export function unitLabel(unit) {
  return (unit || "").replace(/\.service$/, "");
}

// unitMatches says whether unit answers "unit:q" (q lower-case): q is part
// of the unit's name, as in the Services view's filter ("unit:nginx"
// matches nginx.service, "unit:getty@" every getty instance); a process in
// no unit never matches. The server's filter (daemon/procs) is the same.
export function unitMatches(unit, q) {
  return !!unit && unit.toLowerCase().includes(q);
}

const hasPort = (p, n) => (p.ports || []).some((x) => x.local_port === n);

export function matches(p, pq) {
  if (typeof pq === "string") pq = parseQuery(pq);
  if (pq.user != null && (p.username || "").toLowerCase() !== pq.user) return false;
  if (pq.pid != null && p.pid !== pq.pid) return false;
  if (pq.unit != null && !unitMatches(p.unit, pq.unit)) return false;
  if (pq.port != null && !hasPort(p, pq.port)) return false;
  for (const n of pq.nums) {
    if (!String(p.pid).includes(n) && !hasPort(p, Number(n)) && !wordMatches(p, n)) return false;
  }
  for (const t of pq.text) if (!wordMatches(p, t)) return false;
  return true;
}

function wordMatches(p, t) {
  return (p.name || "").toLowerCase().includes(t) || (p.username || "").toLowerCase().includes(t) ||
    (p.cmdline || []).some((a) => a.toLowerCase().includes(t));
}

export function comparator(sortId, order) {
  const col = COLUMN_BY_ID[sortId] || COLUMN_BY_ID.cpu;
  const dir = order === "asc" ? 1 : -1;
  return (a, b) => {
    const x = col.sort(a), y = col.sort(b);
    const c = x < y ? -1 : x > y ? 1 : 0;
    // Ties: PID ascending whatever the order, like the server.
    return c === 0 ? a.pid - b.pid : c * dir;
  };
}

// isKernelThread: the core says so ("protected": "kernel thread"), or, from
// an older daemon, kthreadd and its children without a command line.
export function isKernelThread(p) {
  if (p.protected) return p.protected === "kernel thread";
  return (p.pid === 2 || p.ppid === 2) && !(p.cmdline || []).length;
}

// view returns the filtered, sorted list; hideKthreads leaves kernel
// threads out (htop's K).
export function view(map, q, sortId, order, hideKthreads) {
  const pq = parseQuery(q);
  const out = [];
  for (const p of map.values()) if (matches(p, pq) && !(hideKthreads && isKernelThread(p))) out.push(p);
  out.sort(comparator(sortId, order));
  return out;
}

// --- tree ---

// treeRows flattens the parent/child forest of all processes in map into
// rows {p, depth, hasChildren, collapsed}. With a query, only matches and
// their ancestors are kept (so a match is shown where it lives). Siblings
// follow the given sort. collapsed is a Set of PIDs.
export function treeRows(map, q, sortId, order, collapsed, hideKthreads) {
  collapsed = collapsed || new Set();
  const pq = parseQuery(q);
  if (hideKthreads) {
    const m = new Map();
    for (const [k, p] of map) if (!isKernelThread(p)) m.set(k, p);
    map = m;
  }
  const filtering = pq.text.length > 0 || pq.port || pq.user || pq.unit != null;
  let keep = null;
  if (filtering) {
    keep = new Set();
    for (const p of map.values()) {
      if (!matches(p, pq)) continue;
      let cur = p;
      const guard = new Set();
      while (cur && !keep.has(cur.pid) && !guard.has(cur.pid)) {
        guard.add(cur.pid);
        keep.add(cur.pid);
        cur = map.get(cur.ppid);
      }
    }
  }
  const kids = new Map();
  const roots = [];
  for (const p of map.values()) {
    if (keep && !keep.has(p.pid)) continue;
    const parent = p.ppid !== p.pid ? map.get(p.ppid) : undefined;
    if (parent && (!keep || keep.has(parent.pid))) {
      if (!kids.has(parent.pid)) kids.set(parent.pid, []);
      kids.get(parent.pid).push(p);
    } else {
      roots.push(p);
    }
  }
  const cmp = comparator(sortId, order);
  const rows = [];
  const seen = new Set();
  const walk = (p, depth) => {
    if (seen.has(p.pid)) return; // a PID cycle would be a bug; never loop
    seen.add(p.pid);
    const ch = kids.get(p.pid) || [];
    const isCollapsed = collapsed.has(p.pid) && ch.length > 0;
    rows.push({ p, depth, hasChildren: ch.length > 0, collapsed: isCollapsed });
    if (isCollapsed) return;
    ch.sort(cmp);
    for (const c of ch) walk(c, depth + 1);
  };
  roots.sort(cmp);
  for (const r of roots) walk(r, 0);
  return rows;
}

// --- ports ---

const remotePort = (r) => (r ? Number(r.slice(r.lastIndexOf(":") + 1)) || 0 : 0);

// portMatches applies parseQuery's terms to one socket row.
export function portMatches(r, pq) {
  if (pq.user != null && r.user.toLowerCase() !== pq.user) return false;
  if (pq.pid != null && r.pid !== pq.pid) return false;
  if (pq.unit != null && !unitMatches(r.unit, pq.unit)) return false;
  if (pq.port != null && r.port !== pq.port) return false;
  for (const n of pq.nums) {
    if (!String(r.pid).includes(n) && r.port !== Number(n) && remotePort(r.remote) !== Number(n)) return false;
  }
  for (const t of pq.text) {
    if (![r.proto, r.local, r.remote, r.state, r.name, r.user].some((h) => h.toLowerCase().includes(t))) return false;
  }
  return true;
}

// PORT_SORTS are the sort keys of the ports view's headers.
export const PORT_SORTS = {
  proto: (r) => r.proto, local: (r) => r.port, remote: (r) => r.remote, state: (r) => r.state,
  pid: (r) => r.pid, name: (r) => r.name.toLowerCase(), user: (r) => r.user.toLowerCase(),
  unit: (r) => r.unit.toLowerCase(),
};

// portRows lists every socket with its process, filtered by q (see
// parseQuery); by default listeners first, then by local port and PID, or
// by the column sortId.
export function portRows(map, q, sortId, order) {
  const pq = parseQuery(q);
  const rows = [];
  for (const p of map.values()) {
    for (const s of p.ports || []) {
      const r = {
        proto: s.type || "", local: s.local || "", remote: s.remote || "", state: stateLabel(s), listen: isListener(s),
        port: s.local_port || 0, family: s.family || "", pid: p.pid, name: p.name || "", user: p.username || "", unit: p.unit || "",
      };
      if (portMatches(r, pq)) rows.push(r);
    }
  }
  const by = PORT_SORTS[sortId];
  const dir = order === "desc" ? -1 : 1;
  rows.sort((a, b) => {
    if (by) {
      const x = by(a), y = by(b);
      if (x !== y) return (x < y ? -1 : 1) * dir;
    }
    return (b.listen - a.listen) || a.port - b.port || a.pid - b.pid || a.local.localeCompare(b.local);
  });
  return rows;
}

// --- export ---

// csvSafe defuses spreadsheet formulas in untrusted cells, like the server.
export function csvSafe(s) {
  s = s == null ? "" : String(s);
  return s !== "" && "=+-@\t\r".includes(s[0]) ? "'" + s : s;
}

export function csvCell(s) {
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export const CSV_HEADER = ["pid", "ppid", "name", "username", "status", "cpu_percent", "memory_rss", "nice", "num_threads", "create_time_iso", "open_files_count", "ports", "exe", "cmdline"];

// rowsToCSV writes a header and rows of cells, RFC 4180 style. String cells
// are untrusted (process-controlled) and defused; number cells are ours.
export function rowsToCSV(header, rows) {
  const lines = [header.map(csvCell).join(",")];
  for (const r of rows) lines.push(r.map((c) => csvCell(typeof c === "number" ? String(c) : csvSafe(c))).join(","));
  return lines.join("\r\n") + "\r\n";
}

export const PORT_CSV_HEADER = ["proto", "local", "remote", "state", "pid", "name", "user"];

export function portsToCSV(rows) {
  return rowsToCSV(PORT_CSV_HEADER, rows.map((r) => [r.proto, r.local, r.remote, r.state, r.pid, r.name, r.user]));
}

// mappingKinds sums the top mappings by kind (file, heap, stack, anon…),
// largest RSS first.
export function mappingKinds(maps) {
  const by = new Map();
  for (const m of maps || []) {
    const k = m.kind || "other";
    const s = by.get(k) || { kind: k, count: 0, rss: 0, pss: 0, swap: 0 };
    s.count++; s.rss += m.rss || 0; s.pss += m.pss || 0; s.swap += m.swap || 0;
    by.set(k, s);
  }
  return [...by.values()].sort((a, b) => b.rss - a.rss || a.kind.localeCompare(b.kind));
}

// procCSVCells is one process as the cells of GET /api/processes?format=csv.
function procCSVCells(p) {
  const ports = (p.ports || []).map((pt) => (pt.type || "") + " " + pt.local + (pt.remote ? "->" + pt.remote : "") + " " + pt.status).join("; ");
  return [
    p.pid, p.ppid, p.name || "", p.username || "", p.status || "", (p.cpu_percent || 0).toFixed(2), p.memory_rss || 0, p.nice,
    p.num_threads || 0, p.create_time_iso || "", p.open_files_count || 0, ports, p.exe || "", (p.cmdline || []).join(" "),
  ];
}

// toCSV has the columns of GET /api/processes?format=csv.
export function toCSV(list) {
  return rowsToCSV(CSV_HEADER, list.map(procCSVCells));
}

export function toJSON(list) {
  return JSON.stringify({ count: list.length, items: list }, null, 2);
}

// --- signals ---

export const GENTLE = new Set(["HUP", "CONT", "USR1", "USR2", "WINCH"]);

// needsConfirm: signals that end a process, freeze it or dump it ask
// first; TERM too, unless the preference confirmTerm is off.
export function needsConfirm(sig, prefs) {
  const s = String(sig).toUpperCase().replace(/^SIG/, "");
  if (s === "TERM") return !prefs || prefs.confirmTerm !== false;
  return !GENTLE.has(s);
}

// --- preferences ---

export const PREF_DEFAULTS = { columns: DEFAULT_COLUMNS, sort: "cpu", order: "desc", theme: "", interval: 3, view: "list", confirmTerm: true, hideKthreads: false, portSort: "", portOrder: "asc" };
export const INTERVALS = [1, 2, 3, 5, 10, 30];

// loadPrefs validates stored preferences, dropping what is unknown; views
// lists the ids of the registered views.
export function loadPrefs(raw, views) {
  let o = {};
  try { o = JSON.parse(raw || "{}") || {}; } catch (_) { o = {}; }
  const p = Object.assign({}, PREF_DEFAULTS);
  if (Array.isArray(o.columns)) {
    const cols = o.columns.filter((c, i) => COLUMN_BY_ID[c] && o.columns.indexOf(c) === i);
    if (cols.length) p.columns = cols;
  }
  if (COLUMN_BY_ID[o.sort]) p.sort = o.sort;
  if (o.order === "asc" || o.order === "desc") p.order = o.order;
  if (o.theme === "light" || o.theme === "dark") p.theme = o.theme;
  if (INTERVALS.includes(Number(o.interval))) p.interval = Number(o.interval);
  if ((views || ["list"]).includes(o.view)) p.view = o.view;
  if (typeof o.confirmTerm === "boolean") p.confirmTerm = o.confirmTerm;
  if (typeof o.hideKthreads === "boolean") p.hideKthreads = o.hideKthreads;
  if (PORT_SORTS[o.portSort]) p.portSort = o.portSort;
  if (o.portOrder === "asc" || o.portOrder === "desc") p.portOrder = o.portOrder;
  return p;
}

// moveColumn moves id by delta (-1 up, +1 down) in cols (a new array).
export function moveColumn(cols, id, delta) {
  const out = cols.slice();
  const i = out.indexOf(id), j = i + delta;
  if (i < 0 || j < 0 || j >= out.length) return out;
  out[i] = out[j];
  out[j] = id;
  return out;
}

// --- virtual scrolling ---

// windowFor returns the [start, end) rows to render for a scroll
// position, with overscan rows either side.
export function windowFor(scrollTop, viewport, rowHeight, total, overscan) {
  overscan = overscan == null ? 10 : overscan;
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const count = Math.ceil(viewport / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(total, first + count + overscan);
  return { start: Math.min(start, end), end };
}

// moveSelection returns the index after a key (ArrowUp/Down, PageUp/Down,
// Home, End) from index i among total rows; page is rows per page.
export function moveSelection(i, key, total, page) {
  if (!total) return -1;
  const cur = i < 0 ? -1 : i;
  switch (key) {
    case "ArrowDown": return Math.min(total - 1, cur + 1);
    case "ArrowUp": return cur < 0 ? 0 : Math.max(0, cur - 1);
    case "PageDown": return Math.min(total - 1, cur + page);
    case "PageUp": return Math.max(0, cur - page);
    case "Home": return 0;
    case "End": return total - 1;
  }
  return cur;
}

// --- live updates ---

// holdOrder keeps the rows on screen in place while the admin points at
// or works in the table: rows keep their positions (updated from fresh),
// rows that left are kept, marked gone, and new rows come last. key gives
// a row's identity. It returns {rows, moved}: moved says whether fresh's
// own order differs (a re-sort is pending).
export function holdOrder(prev, fresh, key) {
  const byKey = new Map();
  for (const r of fresh) byKey.set(key(r), r);
  const out = [];
  const seen = new Set();
  for (const r of prev) {
    const k = key(r);
    if (seen.has(k)) continue;
    seen.add(k);
    const f = byKey.get(k);
    out.push(f || Object.assign({}, r, { gone: true }));
  }
  for (const r of fresh) if (!seen.has(key(r))) out.push(r);
  let moved = out.length !== fresh.length;
  for (let i = 0; !moved && i < out.length; i++) moved = out[i] !== fresh[i];
  return { rows: out, moved };
}

// cadence is the median gap in seconds between the last update times (ms),
// or 0 with fewer than three.
export function cadence(times) {
  if (times.length < 3) return 0;
  const gaps = [];
  for (let i = 1; i < times.length; i++) gaps.push(times[i] - times[i - 1]);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] / 1000;
}

// backoff is the wait in seconds before reconnect attempt n (1, 2, 4… 30).
export function backoff(n) {
  return Math.min(30, 2 ** Math.max(0, n - 1));
}
