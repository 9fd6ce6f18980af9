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

export async function openDetail(pid) {
  const d = $("detail");
  state.detailPid = pid;
  $("dtitle").textContent = "PID " + pid;
  $("dmsg").textContent = "Loading…";
  $("dbody").replaceChildren();
  $("dactions").replaceChildren();
  if (!d.open) d.showModal();
  let p;
  try {
    p = await api("/api/process/" + pid);
  } catch (e) {
    if (state.detailPid === pid) $("dmsg").textContent = e.message;
    return;
  }
  if (state.detailPid !== pid) return;
  $("dmsg").textContent = "";
  $("dtitle").textContent = (p.name || "?") + " — PID " + p.pid;
  const acts = $("dactions");
  for (const b of actionButtons(p, "detail")) {
    b.addEventListener("click", () => doAction(p, b.dataset.act));
    acts.appendChild(b);
  }
  const reload = button("Reload", "Read this process again");
  reload.addEventListener("click", () => openDetail(pid));
  acts.appendChild(reload);
  const body = $("dbody");
  for (const s of sections) {
    const node = s.render(p);
    if (!node) continue;
    const sec = section(typeof s.title === "function" ? s.title(p) : s.title, s.id);
    sec.appendChild(node);
    body.appendChild(sec);
  }
}

on("result", (p, text) => { if (state.detailPid === p.pid) $("dmsg").textContent = text; });

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
  ["Status", p.status], ["CPU %", (p.cpu_percent || 0).toFixed(1)], ["RSS", L.fmtBytes(p.memory_rss)], ["Nice", p.nice],
  ["Threads", p.num_threads], ["Started", (p.create_time_iso || "").replace("T", " ")], ["Open files", p.open_files_count],
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
  ? table("Sockets", ["Proto", "Local", "Remote", "State", "Family"], p.ports.map((x) => [x.type || "", x.local, x.remote || "—", x.status, (x.family || "").replace("AddressFamily.", "")]))
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

registerDetailSection({ id: "files", title: (p) => "Open files (" + (p.open_files || []).length + ")", order: 60, render: (p) => {
  const files = p.open_files || [];
  if (!files.length) return el("p", "None visible.", "muted");
  const ul = el("ul", null, "files");
  for (const f of files.slice(0, 1000)) ul.appendChild(el("li", f));
  if (files.length > 1000) ul.appendChild(el("li", "… " + (files.length - 1000) + " more", "muted"));
  return ul;
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
