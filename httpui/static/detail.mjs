// The process detail dialog (GET /api/process/PID). Its sections are a
// registry: registerDetailSection({id, title, order, render(p)}) adds one;
// render returns a Node, or null to leave the section out.
import * as L from "./logic.mjs";
import { state, on } from "./store.mjs";
import { $, el, button } from "./dom.mjs";
import { api } from "./api.mjs";
import { actionButtons, doAction, restartProc } from "./actions.mjs";

const sections = [];

export function registerDetailSection(s) {
  sections.push(s);
  sections.sort((a, b) => (a.order || 0) - (b.order || 0));
}

export function section(title, id) {
  const s = el("section", null, "dsec");
  if (id) s.id = "dsec-" + id;
  s.appendChild(el("h3", title));
  return s;
}

export function kvList(pairs) {
  const dl = el("dl", null, "kv");
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    dl.appendChild(el("dt", k));
    dl.appendChild(el("dd", v === null || v === "" ? "—" : v));
  }
  return dl;
}

export function table(caption, headers, rows, numCols) {
  const t = el("table", null, "dtable");
  t.appendChild(el("caption", caption, "vh"));
  const tr = el("tr");
  headers.forEach((h, i) => { const th = el("th", h, numCols && numCols.includes(i) ? "num" : ""); th.scope = "col"; tr.appendChild(th); });
  const thead = el("thead");
  thead.appendChild(tr);
  t.appendChild(thead);
  const tb = el("tbody");
  for (const r of rows) {
    const row = el("tr");
    r.forEach((c, i) => row.appendChild(el("td", c, numCols && numCols.includes(i) ? "num" : "")));
    tb.appendChild(row);
  }
  t.appendChild(tb);
  return t;
}

function pidLinks(refs, sep) {
  const wrap = el("p", null, "chain");
  if (!refs || !refs.length) { wrap.textContent = "none"; return wrap; }
  refs.forEach((r, i) => {
    if (i && sep) wrap.appendChild(el("span", sep, "sep"));
    const b = button((r.name || "?") + " (" + r.pid + ")", "Open PID " + r.pid, "link");
    b.dataset.openPid = r.pid;
    wrap.appendChild(b);
  });
  return wrap;
}

let lastFetch = 0;
let current = null; // the process shown

// openDetail shows pid's detail; live (a refresh while open) keeps the
// scroll position, the open <details> and the sections that did not change.
export async function openDetail(pid, live) {
  const d = $("detail");
  if (!live) {
    state.detailPid = pid;
    current = null;
    $("dtitle").textContent = "PID " + pid;
    $("dmsg").textContent = "Loading…";
    $("dbody").replaceChildren();
    $("dactions").replaceChildren();
    $("dnav").replaceChildren();
    if (!d.open) d.showModal();
  }
  lastFetch = Date.now();
  let p;
  try {
    p = await api("/api/process/" + pid);
  } catch (e) {
    if (state.detailPid !== pid) return;
    $("dmsg").textContent = live && e.status === 404 ? "This process has exited; what it showed last is below." : e.message;
    return;
  }
  if (state.detailPid !== pid || !d.open) return;
  if (!live || /^(Loading|This process has exited)/.test($("dmsg").textContent)) $("dmsg").textContent = "";
  current = p;
  $("dtitle").textContent = (p.name || "?") + " — PID " + p.pid;
  const acts = $("dactions");
  const btns = actionButtons(p, "detail");
  const reload = button("Reload", "Read this process again");
  reload.dataset.act = "reload";
  btns.push(reload);
  if (!acts.firstChild || acts.childElementCount !== btns.length || btns.some((b, i) => !b.isEqualNode(acts.children[i]))) {
    for (const b of btns) b.addEventListener("click", () => { if (b.dataset.act === "reload") openDetail(pid, true); else doAction(current || p, b.dataset.act); });
    acts.replaceChildren(...btns);
  }
  const body = $("dbody");
  const nav = $("dnav");
  const open = new Set([...body.querySelectorAll("details[open]")].map((x) => x.closest("section").id));
  const top = body.scrollTop;
  const secs = [];
  for (const s of sections) {
    const node = s.render(p);
    if (!node) continue;
    const sec = section(typeof s.title === "function" ? s.title(p) : s.title, s.id);
    sec.querySelector("h3").tabIndex = -1;
    sec.appendChild(node);
    if (open.has(sec.id)) for (const x of sec.querySelectorAll("details")) x.open = true;
    secs.push(sec);
  }
  // Keep the sections that did not change (focus and selection stay).
  const old = new Map([...body.children].map((x) => [x.id, x]));
  const want = secs.map((n) => { const o = old.get(n.id); return o && o.isEqualNode(n) ? o : n; });
  const replaced = want.length !== body.childElementCount || want.some((n, i) => body.children[i] !== n);
  if (replaced) body.replaceChildren(...want);
  body.scrollTop = top;
  // A module that is not a registered section (services.mjs, on its own
  // branch) decorates the detail from this DOM event.
  if (!live || replaced) document.dispatchEvent(new CustomEvent("roy:process-detail", { detail: { pid: p.pid, unit: p.unit, body } }));
  // Section links: every section is one Tab and Enter away.
  const links = secs.map((sec) => {
    const b = button(sec.querySelector("h3").textContent.replace(/ \(.*$/, ""), "Go to this section", "small");
    b.dataset.section = sec.id;
    return b;
  });
  if (nav.childElementCount !== links.length || links.some((b, i) => !b.isEqualNode(nav.children[i]))) nav.replaceChildren(...links);
}

// initDetail wires the section links and the live refresh.
export function initDetail() {
  $("dnav").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-section]");
    if (!b) return;
    const h = document.querySelector("#" + b.dataset.section + " h3");
    if (h) { h.scrollIntoView({ block: "start" }); h.focus({ preventScroll: true }); }
  });
  // With Auto on, the open detail follows the list's updates, at most once
  // per interval.
  on("data", () => {
    if (state.detailPid == null || !$("detail").open || state.mode === "off") return;
    if (Date.now() - lastFetch < state.prefs.interval * 1000 - 100) return;
    openDetail(state.detailPid, true);
  });
  // After a restart, follow the process to its new PID.
  on("result", (p, text, kind, r) => {
    if (state.detailPid !== p.pid) return;
    $("dmsg").textContent = text;
    if (r && r.new_pid && r.new_pid !== p.pid) {
      const msg = text;
      openDetail(r.new_pid).then(() => { if (state.detailPid === r.new_pid && !$("dmsg").textContent) $("dmsg").textContent = msg; });
    }
  });
}

// --- the built-in sections ---

function frag(...nodes) {
  const f = document.createDocumentFragment();
  for (const n of nodes) if (n) f.appendChild(n);
  return f;
}

const ids = (a) => (a || []).join(" / ");

registerDetailSection({ id: "process", title: "Process", order: 10, render: (p) => kvList([
  ["PID", p.pid], ["PPID", p.ppid], ["Name", p.name], ["User", p.username + " (uid " + p.uid + ")"],
  ["UIDs (r/e/s)", ids(p.uids)], ["GIDs (r/e/s)", ids(p.gids)],
  ["Status", p.status], ["Protected", p.protected || undefined], ["CPU %", (p.cpu_percent || 0).toFixed(1)], ["CPU time (TIME+)", L.fmtCPUTime(p.cpu_time)],
  ["RSS", L.fmtBytes(p.memory_rss) + " (" + (p.memory_percent || 0).toFixed(1) + " % of RAM)"], ["Virtual size", L.fmtBytes(p.memory_vms)], ["Nice", p.nice],
  ["Threads", p.num_threads], ["Started", (p.create_time_iso || "").replace("T", " ")], ["Open files", p.open_files_count + " (descriptors on files outside /dev)"],
  ["Executable", p.exe], ["Working directory", p.cwd], ["Command line", (p.cmdline || []).join(" ")],
]) });

registerDetailSection({ id: "unit", title: "Control group and unit", order: 20, render: (p) => {
  const f = frag(kvList([["cgroup", p.cgroup], ["systemd unit", p.unit]]));
  if (p.unit) {
    const b = button("Restart through " + p.unit, "Restart: for a service's main process, systemd restarts the unit", "");
    b.addEventListener("click", () => restartProc(p));
    f.appendChild(b);
  }
  return f;
} });

registerDetailSection({ id: "sockets", title: (p) => "Sockets (" + (p.ports || []).length + ")", order: 30, render: (p) => (p.ports || []).length
  ? table("Sockets", ["Proto", "Local", "Remote", "State", "Family"], L.sortedPorts(p.ports).map((x) => [x.type || "", x.local, x.remote || "—", L.stateLabel(x), (x.family || "").replace("AddressFamily.", "")]))
  : el("p", "No TCP or UDP sockets.", "muted") });

registerDetailSection({ id: "memory", title: "Memory (smaps_rollup)", order: 40, render: (p) => {
  const m = p.memory || {};
  const f = frag(kvList([["RSS", L.fmtBytes(m.rss)], ["PSS", L.fmtBytes(m.pss)], ["Swap", L.fmtBytes(m.swap)], ["Anonymous", L.fmtBytes(m.anonymous)],
    ["File-backed", L.fmtBytes(m.file)], ["Private", L.fmtBytes(m.private)], ["Shared", L.fmtBytes(m.shared)]]));
  const kinds = L.mappingKinds(p.top_mappings);
  if (kinds.length) {
    f.appendChild(el("h4", "Top mappings by kind"));
    f.appendChild(table("Top mappings by kind", ["Kind", "Mappings", "RSS", "PSS", "Swap"], kinds.map((k) => [k.kind, String(k.count), L.fmtBytes(k.rss), L.fmtBytes(k.pss), L.fmtBytes(k.swap)]), [1, 2, 3, 4]));
    f.appendChild(el("h4", "Top mappings"));
    f.appendChild(table("Top mappings", ["Mapping", "Kind", "RSS", "PSS", "Swap"], (p.top_mappings || []).map((x) => [x.path || "[anon]", x.kind, L.fmtBytes(x.rss), L.fmtBytes(x.pss), L.fmtBytes(x.swap)]), [2, 3, 4]));
  }
  return f;
} });

registerDetailSection({ id: "family", title: "Family", order: 50, render: (p) => frag(
  el("h4", "Parent chain"), pidLinks(p.parents, " › "),
  el("h4", "Children (" + (p.children || []).length + ")"), pidLinks(p.children, "")) });

registerDetailSection({ id: "files", title: (p) => "Open paths (" + (p.open_files || []).length + ")", order: 60, render: (p) => {
  const files = p.open_files || [];
  if (!files.length) return el("p", "None visible.", "muted");
  const f = document.createDocumentFragment();
  f.appendChild(el("p", "Every descriptor on a path, /dev included (\"Open files\" above counts those outside /dev).", "muted"));
  const ul = el("ul", null, "files");
  for (const f of files.slice(0, 1000)) ul.appendChild(el("li", f));
  if (files.length > 1000) ul.appendChild(el("li", "… " + (files.length - 1000) + " more", "muted"));
  f.appendChild(ul);
  return f;
} });

registerDetailSection({ id: "environment", title: "Environment", order: 70, render: (p) => {
  if (!Array.isArray(p.environ)) return el("p", "Not available for this caller or process.", "muted");
  const det = el("details");
  det.appendChild(el("summary", p.environ.length + " variables"));
  const ul = el("ul", null, "files");
  for (const v of p.environ) ul.appendChild(el("li", v));
  det.appendChild(ul);
  return det;
} });
