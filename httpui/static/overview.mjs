// The host overview (an htop-like header) and the process detail's
// "Resources" section. Plain DOM and hand-drawn SVG; every value from the
// daemon is set with textContent. The pure helpers at the top are also run
// by node --test (test/js/overview.test.mjs).
//
//   GET /api/system                  current figures (bars, text values)
//   GET /api/system/history?since=   the last 10 minutes (sparklines)
//   GET /api/process/PID/history     CPU % and RSS samples of one process
//
// The header refreshes with the page's Auto setting and Refresh button, and
// stops asking while it is collapsed (the daemon samples only while someone
// looks).

// ---- pure helpers --------------------------------------------------------

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

// fmtBytes: 1536 → "1.5 KiB".
export function fmtBytes(n) {
  n = Number(n) || 0;
  let i = 0;
  while (Math.abs(n) >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(n >= 100 ? 0 : 1)) + " " + UNITS[i];
}

export function fmtRate(bps) { return fmtBytes(bps) + "/s"; }

export function fmtPct(p) { return (Number(p) || 0).toFixed(1) + "%"; }

// fmtUptime: seconds → "3d 4h 12m" (minutes only below an hour).
export function fmtUptime(s) {
  s = Math.max(0, Math.floor(Number(s) || 0));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return d + "d " + h + "h " + m + "m";
  if (h) return h + "h " + m + "m";
  return m + "m";
}

// sparkPath draws values (oldest first) into a w×h box as an SVG path,
// scaled to max (or the largest value when max is 0/absent). Empty input
// gives "".
export function sparkPath(values, w, h, max) {
  const n = values.length;
  if (!n) return "";
  let top = max || 0;
  if (!top) for (const v of values) top = Math.max(top, Number(v) || 0);
  if (!top) top = 1;
  const dx = n > 1 ? w / (n - 1) : 0;
  let d = "";
  for (let i = 0; i < n; i++) {
    const v = Math.min(Math.max(Number(values[i]) || 0, 0), top);
    const x = n > 1 ? i * dx : w;
    const y = h - (v / top) * h;
    d += (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
  }
  return d;
}

// areaPath closes a sparkline down to the baseline, for a filled graph.
export function areaPath(values, w, h, max) {
  const line = sparkPath(values, w, h, max);
  if (!line) return "";
  const n = values.length;
  const x0 = n > 1 ? 0 : w;
  return line + "L" + w.toFixed(1) + " " + h + "L" + x0.toFixed(1) + " " + h + "Z";
}

const LIMIT_LABELS = {
  nofile: "open files", nproc: "processes", as: "address space", data: "data", stack: "stack", rss: "resident set",
  memlock: "locked memory", cpu: "CPU time (s)", fsize: "file size", core: "core file", locks: "file locks",
  sigpending: "pending signals", msgqueue: "message queues", nice: "nice", rtprio: "real-time priority", rttime: "real-time timeout (µs)",
};
const BYTE_LIMITS = new Set(["as", "data", "stack", "rss", "memlock", "fsize", "core", "msgqueue"]);

// limitRow turns an extras.limits entry into table cells and whether its
// use is near the soft limit (≥ 80 %).
export function limitRow(l) {
  const bytes = BYTE_LIMITS.has(l.resource);
  const val = (v) => (v < 0 ? "unlimited" : bytes ? fmtBytes(v) : String(v));
  const known = typeof l.used === "number"; // null: the kernel does not say
  const near = known && l.soft > 0 && l.used >= 0.8 * l.soft;
  const used = known ? (bytes ? fmtBytes(l.used) : String(l.used)) : "";
  return {
    label: LIMIT_LABELS[l.resource] || l.resource,
    text: known ? used + "/" + val(l.soft) : val(l.soft),
    soft: val(l.soft), hard: val(l.hard), used, near,
  };
}

// ---- DOM -----------------------------------------------------------------

const SVGNS = "http://www.w3.org/2000/svg";
const KEEP = 600; // 10 minutes at 1 s

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

// spark returns an SVG sparkline {svg, set(values, max)}.
function spark(cls, w, h) {
  const svg = document.createElementNS(SVGNS, "svg");
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "spark " + (cls || ""));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const area = document.createElementNS(SVGNS, "path");
  area.setAttribute("class", "area");
  const line = document.createElementNS(SVGNS, "path");
  line.setAttribute("class", "line");
  svg.append(area, line);
  return {
    svg,
    set(values, max) {
      area.setAttribute("d", areaPath(values, w, h, max));
      line.setAttribute("d", sparkPath(values, w, h, max));
    },
  };
}

// meter is a labelled bar with stacked segments, a text value and a
// sparkline: role=meter with aria-valuenow/-text.
function meter(label, segs, sparkCls) {
  const row = el("div", null, "ov-meter");
  const name = el("span", label, "ov-lbl");
  const bar = el("span", null, "ov-bar");
  bar.setAttribute("role", "meter");
  bar.setAttribute("aria-label", label);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  const parts = segs.map((c) => { const s = el("span", null, "seg " + c); bar.appendChild(s); return s; });
  const val = el("span", "", "ov-val");
  const sp = spark(sparkCls, 120, 24);
  row.append(name, bar, val, sp.svg);
  return {
    row,
    set(pcts, text, pct) {
      let total = 0;
      pcts.forEach((p, i) => {
        const v = Math.max(0, Math.min(100 - total, Number(p) || 0));
        total += v;
        parts[i].style.width = v + "%";
      });
      const now = pct === undefined ? total : pct;
      bar.setAttribute("aria-valuenow", String(Math.round(now * 10) / 10));
      bar.setAttribute("aria-valuetext", text);
      val.textContent = text;
    },
    spark: sp,
  };
}

// stat is a text figure with a sparkline (load, network, disks).
function stat(label, sparkCls) {
  const row = el("div", null, "ov-meter ov-stat");
  const val = el("span", "", "ov-val wide");
  const sp = spark(sparkCls, 120, 24);
  row.append(el("span", label, "ov-lbl"), val, sp.svg);
  return { row, set(text) { val.textContent = text; }, spark: sp };
}

const COLLAPSE_KEY = "roy_overview_collapsed";

// initOverview renders the header into root. opts.api(path) performs an
// authenticated GET and resolves to the JSON body; opts.onTick(fn)
// registers fn to run at each refresh of the page (Auto or Refresh);
// opts.now asks for a first refresh at once.
export function initOverview(root, opts) {
  const points = [];
  let cores = [];
  let busy = false;
  // Collapsed by default on a phone-sized screen, where the list comes
  // first; the user's choice wins once made.
  const stored = localStorage.getItem(COLLAPSE_KEY);
  let collapsed = stored === null ? matchMedia("(max-width: 40rem)").matches : stored === "1";

  root.hidden = false;
  root.replaceChildren();
  const head = el("div", null, "ov-head");
  const tog = el("button", "", "ov-toggle");
  tog.type = "button";
  tog.setAttribute("aria-controls", "ov-body");
  const summary = el("span", "", "ov-summary");
  summary.setAttribute("aria-live", "off");
  head.append(tog, summary);
  const body = el("div", null, "ov-body");
  body.id = "ov-body";
  const coreBox = el("div", null, "ov-cores");
  coreBox.setAttribute("role", "group");
  coreBox.setAttribute("aria-label", "CPU cores");
  const side = el("div", null, "ov-side");
  const cpu = meter("CPU", ["u", "s", "w", "st"], "cpu");
  const mem = meter("Mem", ["m"], "mem");
  const swp = meter("Swap", ["sw"], "swap");
  const load = stat("Load", "load");
  const net = stat("Net", "net");
  const disk = stat("Disk", "disk");
  const legend = el("p", "user · system · iowait · steal", "ov-legend");
  side.append(cpu.row, mem.row, swp.row, load.row, net.row, disk.row, legend);
  const fsBox = el("div", null, "ov-fs");
  body.append(coreBox, side, fsBox);
  // Errors go in the head line: the header's height never changes with
  // its data, so rows below do not move under the pointer.
  const msg = el("span", "", "ov-msg");
  msg.setAttribute("role", "status");
  head.appendChild(msg);
  root.append(head, body);

  function applyCollapsed() {
    body.hidden = collapsed;
    tog.textContent = (collapsed ? "▸" : "▾") + " Host";
    tog.setAttribute("aria-expanded", collapsed ? "false" : "true");
    tog.title = collapsed ? "Show the host overview" : "Hide the host overview";
    root.classList.toggle("collapsed", collapsed);
  }
  tog.addEventListener("click", () => {
    collapsed = !collapsed;
    localStorage.setItem(COLLAPSE_KEY, collapsed ? "1" : "0");
    applyCollapsed();
    if (!collapsed) refresh();
  });
  applyCollapsed();

  function ensureCores(n) {
    if (cores.length === n) return;
    coreBox.replaceChildren();
    cores = [];
    for (let i = 0; i < n; i++) {
      const m = meter(String(i), ["u", "s", "w", "st"], "core");
      m.row.classList.add("ov-core");
      m.row.querySelector(".ov-bar").setAttribute("aria-label", "CPU " + i);
      coreBox.appendChild(m.row);
      cores.push(m);
    }
  }

  function render(sys) {
    const c = sys.cpu || {};
    const per = c.per_core || [];
    ensureCores(per.length);
    per.forEach((pc, i) => cores[i].set([pc.user, pc.system, pc.iowait, pc.steal], fmtPct(pc.percent), pc.percent));
    cpu.set([c.user, c.system, c.iowait, c.steal], fmtPct(c.percent), c.percent);
    const m = sys.memory || {}, s = sys.swap || {};
    mem.set([m.percent], fmtBytes(m.used) + " / " + fmtBytes(m.total), m.percent);
    swp.set([s.percent], s.total ? fmtBytes(s.used) + " / " + fmtBytes(s.total) : "none", s.percent);
    const l = sys.load || [0, 0, 0];
    load.set(l.map((x) => Number(x).toFixed(2)).join(" "));
    let rx = 0, tx = 0, rd = 0, wr = 0;
    for (const n of sys.net || []) { rx += n.rx_bps; tx += n.tx_bps; }
    for (const d of sys.disks || []) { rd += d.read_bps; wr += d.write_bps; }
    net.set("↓ " + fmtRate(rx) + "  ↑ " + fmtRate(tx));
    disk.set("r " + fmtRate(rd) + "  w " + fmtRate(wr));
    const t = sys.tasks || {};
    summary.textContent = summary.title = [sys.hostname, sys.os, sys.kernel].filter(Boolean).join(" · ") +
      " — up " + fmtUptime(sys.uptime_s) + " · tasks " + (t.total || 0) + ", " + (t.running || 0) + " running, " +
      (t.blocked || 0) + " blocked, " + (t.threads || 0) + " threads · load " + l.map((x) => Number(x).toFixed(2)).join(" ");
    fsBox.replaceChildren();
    for (const f of sys.filesystems || []) {
      const fm = meter(f.mountpoint, ["fs"], "");
      fm.row.classList.add("ov-fsrow");
      fm.row.title = f.device + " (" + f.fstype + ")";
      fm.set([f.percent], fmtBytes(f.used) + " / " + fmtBytes(f.total), f.percent);
      fm.row.querySelector("svg").remove(); // no history per filesystem
      fsBox.appendChild(fm.row);
    }
  }

  function renderHistory() {
    const col = (k) => points.map((p) => p[k]);
    cpu.spark.set(col("cpu"), 100);
    mem.spark.set(col("mem_percent"), 100);
    swp.spark.set(col("swap_percent"), 100);
    load.spark.set(col("load1"), 0);
    net.spark.set(points.map((p) => p.net_rx_bps + p.net_tx_bps), 0);
    disk.spark.set(points.map((p) => p.disk_read_bps + p.disk_write_bps), 0);
    cores.forEach((m, i) => m.spark.set(points.map((p) => (p.cores || [])[i] || 0), 100));
  }

  async function refresh() {
    if (collapsed || busy) return;
    busy = true;
    try {
      const since = points.length ? "?since=" + encodeURIComponent(points[points.length - 1].time) : "";
      // The figures first: that reading is then in the history.
      const sys = await opts.api("/api/system");
      const hist = await opts.api("/api/system/history" + since);
      for (const p of hist.points || []) points.push(p);
      if (points.length > KEEP) points.splice(0, points.length - KEEP);
      render(sys);
      renderHistory();
      msg.textContent = "";
    } catch (e) {
      msg.textContent = "Host overview: " + e.message;
    } finally {
      busy = false;
    }
  }

  opts.onTick(refresh);
  if (opts.now) refresh();
  return { refresh };
}

// resourcesView is the detail's "Resources" part: CPU % and RSS graphs
// from the process's history (fetched with opts.api), I/O, context
// switches, CPU times, OOM score and limits. update(p) fills it from p
// (the /api/process/PID JSON) and reloads the graphs; the node stays the
// same, so a live detail does not flash. Extras are absent when the
// caller may not inspect the process.
export function resourcesView(opts) {
  const node = el("div", null, "ov-res");
  const graphs = el("div", null, "ov-graphs");
  const cpuG = graph("CPU %", "cpu");
  const rssG = graph("RSS", "mem");
  graphs.append(cpuG.fig, rssG.fig);
  const facts = el("div", null, "ov-facts");
  node.append(graphs, facts);
  let gen = 0;
  function update(p) {
    facts.replaceChildren(...extrasNodes(p.extras));
    const g = ++gen;
    const ct = p.create_time ? "?create_time=" + encodeURIComponent(p.create_time) : "";
    opts.api("/api/process/" + p.pid + "/history" + ct).then((h) => {
      if (g !== gen) return; // a newer update is on its way
      const s = h.samples || [];
      cpuG.set(s.map((x) => x.cpu_percent), (v) => fmtPct(v), s.length);
      rssG.set(s.map((x) => x.memory_rss), fmtBytes, s.length);
    }).catch((e) => { if (g === gen) cpuG.note("No history: " + e.message); });
  }
  return { node, update };
}

function extrasNodes(ex) {
  if (!ex) return [el("p", "I/O, limits and context switches are shown to callers who may inspect this process.", "muted")];
  const dl = el("dl", null, "kv");
  const add = (k, v) => { dl.append(el("dt", k), el("dd", v)); };
  add("I/O read", fmtBytes(ex.io.read_bytes) + " (" + fmtRate(ex.io.read_bps) + ")");
  add("I/O written", fmtBytes(ex.io.write_bytes) + " (" + fmtRate(ex.io.write_bps) + ")");
  add("Context switches", ex.ctx_switches.voluntary + " voluntary, " + ex.ctx_switches.involuntary + " involuntary");
  add("CPU time", ex.cpu_times.user.toFixed(2) + " s user, " + ex.cpu_times.system.toFixed(2) + " s system");
  add("OOM score", ex.oom_score + " (adj " + ex.oom_score_adj + ")");
  const t = el("table", null, "dtable ov-limits");
  t.appendChild(el("caption", "Resource limits (used/soft; hard)", "vh"));
  const hr = el("tr");
  for (const h of ["Limit", "Used / soft", "Hard"]) { const th = el("th", h); th.scope = "col"; hr.appendChild(th); }
  const thead = el("thead");
  thead.appendChild(hr);
  const tb = el("tbody");
  for (const l of ex.limits || []) {
    const r = limitRow(l);
    const tr = el("tr", null, r.near ? "near" : "");
    const label = el("td", r.label);
    if (r.near) {
      label.appendChild(el("span", " near the limit", "vh"));
      tr.title = "Within 20% of the soft limit";
    }
    tr.append(label, el("td", r.text, "num"), el("td", r.hard, "num"));
    tb.appendChild(tr);
  }
  t.append(thead, tb);
  return [dl, t];
}

// graph is a titled SVG graph with its latest and peak values in text.
function graph(title, cls) {
  const fig = el("figure", null, "ov-graph " + cls);
  const cap = el("figcaption", title);
  const sp = spark(cls, 300, 60);
  sp.svg.removeAttribute("aria-hidden");
  sp.svg.setAttribute("role", "img");
  sp.svg.setAttribute("aria-label", title + " over time");
  const txt = el("p", "Loading…", "ov-gtext");
  fig.append(cap, sp.svg, txt);
  return {
    fig,
    set(values, fmt, n) {
      let peak = 0;
      for (const v of values) peak = Math.max(peak, v);
      sp.set(values, cls === "cpu" ? Math.max(100, peak) : 0);
      txt.textContent = n ? "now " + fmt(values[n - 1]) + ", peak " + fmt(peak) + " (" + n + " samples)" : "no samples yet";
      sp.svg.setAttribute("aria-label", title + ": " + txt.textContent);
    },
    note(t) { txt.textContent = t; },
  };
}
