// Unit tests of httpui/static/logic.mjs (the ES module the page imports)
// with Node's built-in runner:
//   node --test test/js/   (or scripts/js-test.sh)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as L from "../../httpui/static/logic.mjs";

const P = (pid, ppid, name, extra) =>
  Object.assign({ pid, ppid, name, username: "root", status: "sleeping", cpu_percent: 0, memory_rss: 0, nice: 0,
    num_threads: 1, create_time: pid, create_time_iso: "2026-01-01T00:00:00", cmdline: [name], ports: [], open_files_count: 0, exe: "" }, extra || {});

test("applySnapshot and applyDelta: added, removed, changed fields", () => {
  const m = L.applySnapshot([P(1, 0, "init"), P(2, 1, "a"), P(3, 1, "b")]);
  L.applyDelta(m, { seq: 2, base: 1, added: [P(4, 1, "c")], removed: [3], changed: [{ pid: 2, cpu_percent: 12.5, ports: [{ local: "0.0.0.0:80", status: "LISTEN", type: "tcp", local_port: 80, remote: null }] }] });
  assert.deepEqual([...m.keys()].sort(), [1, 2, 4]);
  assert.equal(m.get(2).cpu_percent, 12.5);
  assert.equal(m.get(2).name, "a", "unchanged fields are kept");
  assert.equal(m.get(2).ports[0].local_port, 80);
});

test("applyDelta: a reused PID ends up as the new process", () => {
  const m = L.applySnapshot([P(5, 1, "old")]);
  L.applyDelta(m, { removed: [5], added: [P(5, 1, "new")], changed: [] });
  assert.equal(m.get(5).name, "new");
});

test("applyDelta: changes for an unknown PID are ignored, objects are not mutated", () => {
  const orig = P(1, 0, "init");
  const m = L.applySnapshot([orig]);
  L.applyDelta(m, { changed: [{ pid: 9, cpu_percent: 1 }, { pid: 1, nice: 5 }] });
  assert.equal(m.size, 1);
  assert.equal(m.get(1).nice, 5);
  assert.equal(orig.nice, 0);
});

test("inSequence detects a gap", () => {
  assert.ok(L.inSequence(3, { base: 3 }));
  assert.ok(!L.inSequence(3, { base: 5 }));
  assert.ok(!L.inSequence(undefined, { base: 0 }));
});

test("matches: pid, name, user, cmdline, case-insensitive; port: and user: tokens", () => {
  const p = P(4321, 1, "Postgres", { username: "postgres", cmdline: ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/DATA"],
    ports: [{ local: "127.0.0.1:5432", local_port: 5432, status: "LISTEN", type: "tcp" }] });
  for (const q of ["", "432", "postGRES", "var/lib/data", "port:5432", "user:postgres", "port:5432 postgres"]) assert.ok(L.matches(p, q), q);
  for (const q of ["nginx", "port:80", "user:root", "postgres nginx"]) assert.ok(!L.matches(p, q), q);
});

test("view filters and sorts, ties by PID ascending", () => {
  const m = L.applySnapshot([P(3, 1, "c", { cpu_percent: 1 }), P(1, 0, "a", { cpu_percent: 1 }), P(2, 1, "b", { cpu_percent: 5 })]);
  assert.deepEqual(L.view(m, "", "cpu", "desc").map((p) => p.pid), [2, 1, 3]);
  assert.deepEqual(L.view(m, "", "pid", "asc").map((p) => p.pid), [1, 2, 3]);
  assert.deepEqual(L.view(m, "", "pid", "desc").map((p) => p.pid), [3, 2, 1]);
  assert.deepEqual(L.view(m, "", "name", "desc").map((p) => p.pid), [3, 2, 1]);
  assert.deepEqual(L.view(m, "b", "pid", "asc").map((p) => p.pid), [2]);
  assert.deepEqual(L.view(m, "", "bogus", "desc").map((p) => p.pid), [2, 1, 3], "unknown sort falls back to CPU");
});

test("treeRows nests children, collapses, keeps ancestors of matches", () => {
  const m = L.applySnapshot([P(1, 0, "init"), P(10, 1, "sshd"), P(11, 10, "bash"), P(12, 11, "needle"), P(20, 1, "cron")]);
  const rows = L.treeRows(m, "", "pid", "asc");
  assert.deepEqual(rows.map((r) => [r.p.pid, r.depth]), [[1, 0], [10, 1], [11, 2], [12, 3], [20, 1]]);
  assert.ok(rows[0].hasChildren && !rows[4].hasChildren);
  const col = L.treeRows(m, "", "pid", "asc", new Set([10]));
  assert.deepEqual(col.map((r) => r.p.pid), [1, 10, 20]);
  assert.ok(col[1].collapsed);
  const f = L.treeRows(m, "needle", "pid", "asc");
  assert.deepEqual(f.map((r) => r.p.pid), [1, 10, 11, 12]);
});

test("treeRows: orphans are roots and a cycle does not loop", () => {
  const m = L.applySnapshot([P(5, 99, "orphan"), P(6, 7, "x"), P(7, 6, "y")]);
  const rows = L.treeRows(m, "", "pid", "asc");
  assert.equal(rows[0].p.pid, 5);
  assert.ok(rows.length <= 3);
});

test("portRows lists sockets with their process, filters by port, state, name", () => {
  const m = L.applySnapshot([
    P(100, 1, "postgres", { ports: [{ local: "127.0.0.1:5432", local_port: 5432, status: "LISTEN", type: "tcp", remote: null }] }),
    P(200, 1, "nginx", { ports: [{ local: "0.0.0.0:80", local_port: 80, status: "LISTEN", type: "tcp", remote: null },
      { local: "10.0.0.1:80", local_port: 80, status: "ESTABLISHED", type: "tcp", remote: "10.0.0.9:5432" }] }),
  ]);
  assert.equal(L.portRows(m, "").length, 3);
  assert.deepEqual(L.portRows(m, "").map((r) => r.port), [80, 5432, 80], "listeners first");
  assert.deepEqual(L.portRows(m, "5432").map((r) => r.pid), [100, 200], "the listener first; the remote port matches too");
  assert.deepEqual(L.portRows(m, "listen").map((r) => r.name), ["nginx", "postgres"]);
  assert.deepEqual(L.portRows(m, "port:5432").map((r) => r.pid), [100], "port: is the local port");
  assert.deepEqual(L.portRows(m, ":80 established").map((r) => r.remote), ["10.0.0.9:5432"]);
  assert.deepEqual(L.portRows(m, "nginx").length, 2);
});

test("toCSV: header like the server, quoting, formula defusing", () => {
  const csv = L.toCSV([P(7, 1, "=cmd|x", { cmdline: ["sh", "-c", 'echo "a,b"'], ports: [{ type: "tcp", local: "127.0.0.1:8080", remote: null, status: "LISTEN" }] })]);
  const lines = csv.trimEnd().split("\r\n");
  assert.equal(lines[0], L.CSV_HEADER.join(","));
  assert.equal(lines.length, 2);
  assert.match(lines[1], /^7,1,'=cmd\|x,root,sleeping,0\.00,0,0,1,/);
  assert.match(lines[1], /tcp 127\.0\.0\.1:8080 LISTEN/);
  assert.ok(lines[1].endsWith('"sh -c echo ""a,b"""'));
  assert.equal(L.csvSafe("-1"), "'-1");
  assert.equal(L.csvSafe("@x"), "'@x");
  assert.equal(L.csvSafe("ok"), "ok");
  // Numbers are ours, not defused: a negative nice stays a number.
  assert.match(L.toCSV([P(8, 1, "n", { nice: -5 })]).split("\r\n")[1], /^8,1,n,root,sleeping,0\.00,0,-5,1,/);
});

test("toCSV and portsToCSV share rowsToCSV", () => {
  assert.equal(L.rowsToCSV(["a", "b"], [[1, "=x"], [-2, "q\"r"]]), 'a,b\r\n1,\'=x\r\n-2,"q""r"\r\n');
});

test("toJSON has the list shape", () => {
  const j = JSON.parse(L.toJSON([P(1, 0, "a")]));
  assert.equal(j.count, 1);
  assert.equal(j.items[0].pid, 1);
});

test("needsConfirm: KILL and STOP ask, HUP does not", () => {
  for (const s of ["KILL", "SIGKILL", "stop", "QUIT", "INT"]) assert.ok(L.needsConfirm(s), s);
  for (const s of ["HUP", "CONT", "sigusr1"]) assert.ok(!L.needsConfirm(s), s);
});

test("loadPrefs validates and keeps defaults", () => {
  assert.deepEqual(L.loadPrefs(null), L.PREF_DEFAULTS);
  assert.deepEqual(L.loadPrefs("{not json"), L.PREF_DEFAULTS);
  const views = ["list", "tree", "ports"];
  const p = L.loadPrefs(JSON.stringify({ columns: ["cmdline", "pid", "bogus", "pid"], sort: "mem", order: "asc", theme: "dark", interval: 5, view: "tree" }), views);
  assert.deepEqual(p.columns, ["cmdline", "pid"]);
  assert.equal(p.sort, "mem");
  assert.equal(p.order, "asc");
  assert.equal(p.theme, "dark");
  assert.equal(p.interval, 5);
  assert.equal(p.view, "tree");
  const bad = L.loadPrefs(JSON.stringify({ columns: [], sort: "x", order: "up", theme: "pink", interval: 0.01, view: "3d" }), views);
  assert.deepEqual(bad, L.PREF_DEFAULTS);
});

test("moveColumn", () => {
  assert.deepEqual(L.moveColumn(["a", "b", "c"], "b", -1), ["b", "a", "c"]);
  assert.deepEqual(L.moveColumn(["a", "b", "c"], "c", 1), ["a", "b", "c"]);
});

test("windowFor renders only visible rows plus overscan at 10,000 rows", () => {
  assert.deepEqual(L.windowFor(0, 600, 30, 10000, 10), { start: 0, end: 31 });
  const w = L.windowFor(150000, 600, 30, 10000, 10);
  assert.equal(w.start, 4990);
  assert.equal(w.end, 5031);
  assert.deepEqual(L.windowFor(1e9, 600, 30, 100, 10), { start: 100, end: 100 });
  assert.deepEqual(L.windowFor(0, 600, 30, 0, 10), { start: 0, end: 0 });
});

test("moveSelection", () => {
  assert.equal(L.moveSelection(-1, "ArrowDown", 5, 2), 0);
  assert.equal(L.moveSelection(4, "ArrowDown", 5, 2), 4);
  assert.equal(L.moveSelection(0, "ArrowUp", 5, 2), 0);
  assert.equal(L.moveSelection(1, "PageDown", 5, 2), 3);
  assert.equal(L.moveSelection(3, "Home", 5, 2), 0);
  assert.equal(L.moveSelection(0, "End", 5, 2), 4);
  assert.equal(L.moveSelection(0, "ArrowDown", 0, 2), -1);
});

test("view on 10,000 processes stays fast", () => {
  const items = [];
  for (let i = 1; i <= 10000; i++) items.push(P(i, i > 1 ? 1 + (i % 50) : 0, "proc" + i, { cpu_percent: i % 97 }));
  const m = L.applySnapshot(items);
  const t0 = performance.now();
  const v = L.view(m, "proc12", "cpu", "desc");
  const t = L.treeRows(m, "", "pid", "asc");
  const el = performance.now() - t0;
  assert.ok(v.length > 0 && t.length === 10000);
  assert.ok(el < 500, "took " + el + " ms");
});

test("portsToCSV and mappingKinds", () => {
  const csv = L.portsToCSV([{ proto: "tcp", local: "127.0.0.1:80", remote: "", state: "LISTEN", pid: 5, name: "=evil", user: "root" }]);
  assert.equal(csv, "proto,local,remote,state,pid,name,user\r\ntcp,127.0.0.1:80,,LISTEN,5,'=evil,root\r\n");
  const k = L.mappingKinds([{ kind: "file", rss: 10, pss: 5, swap: 0 }, { kind: "heap", rss: 30, pss: 30, swap: 1 }, { kind: "file", rss: 5, pss: 5, swap: 0 }]);
  assert.deepEqual(k.map((x) => [x.kind, x.count, x.rss]), [["heap", 1, 30], ["file", 2, 15]]);
});

test("fmtStarted: time alone today, date and minutes before", () => {
  const now = new Date(2026, 10, 29, 12, 0, 0);
  assert.equal(L.fmtStarted("2026-11-29T01:27:07", now), "01:27:07");
  assert.equal(L.fmtStarted("2026-11-28T23:59:59.123", now), "2026-11-28 23:59");
  assert.equal(L.fmtStarted("", now), "");
});

// Issue 10 item 5: one search syntax in every view.
test("one search syntax: a bare number is a PID or a port, :PORT and port:PORT, pid:, user:", () => {
  const lst = P(1234, 1, "python3", { ports: [{ local: "127.0.0.1:18931", local_port: 18931, status: "LISTEN", type: "tcp" }] });
  const other = P(18931, 1, "bash");
  const m = L.applySnapshot([lst, other, P(7, 1, "x")]);
  assert.deepEqual(L.view(m, "18931", "pid", "asc").map((p) => p.pid), [1234, 18931], "the listener and the PID");
  assert.deepEqual(L.view(m, ":18931", "pid", "asc").map((p) => p.pid), [1234]);
  assert.deepEqual(L.view(m, "port:18931", "pid", "asc").map((p) => p.pid), [1234]);
  assert.deepEqual(L.view(m, "pid:7", "pid", "asc").map((p) => p.pid), [7]);
  assert.deepEqual(L.view(m, "23", "pid", "asc").map((p) => p.pid), [1234], "PID substring, like the server");
  assert.deepEqual(L.portRows(m, "18931").map((r) => r.pid), [1234]);
  assert.deepEqual(L.portRows(m, ":18931").map((r) => r.pid), [1234]);
  assert.deepEqual(L.portRows(m, "port:18931 user:root").map((r) => r.pid), [1234]);
  assert.deepEqual(L.portRows(m, "user:nobody"), []);
  assert.equal(L.parseQuery("port:80 PID:3 User:Root web 12").port, 80);
  assert.deepEqual(L.parseQuery("port:80 pid:3 user:root web 12"), { text: ["web"], nums: ["12"], port: 80, user: "root", pid: 3, unit: null });
  assert.equal(L.parseQuery("Unit:NGINX").unit, "nginx");
});

// The cases the server's filter runs too (daemon/procs query_cases_test.go):
// one syntax, the same answers.
test("one search syntax: the cases shared with the server, unit: included", () => {
  const f = JSON.parse(readFileSync(new URL("./query-cases.json", import.meta.url), "utf8"));
  assert.ok(f.cases.length >= 10);
  for (const c of f.cases) {
    const got = f.processes.filter((p) => L.matches(p, c.q)).map((p) => p.pid);
    assert.deepEqual(got, c.pids, "q=" + JSON.stringify(c.q));
  }
});

test("unit: the Unit column, unit: in the list, tree and ports views", () => {
  const web = P(10, 1, "nginx", { unit: "nginx.service", ports: [{ local: "0.0.0.0:80", local_port: 80, status: "LISTEN", type: "tcp" }] });
  const kid = P(11, 10, "nginx", { unit: "nginx.service" });
  const sh = P(20, 1, "bash", { unit: "session-3.scope", ports: [{ local: "127.0.0.1:9000", local_port: 9000, status: "LISTEN", type: "tcp" }] });
  const old = P(30, 1, "legacy"); // an older daemon: no unit key
  const m = L.applySnapshot([P(1, 0, "systemd", { unit: "init.scope" }), web, kid, sh, old]);
  assert.ok(L.DEFAULT_COLUMNS.includes("unit"), "shown by default");
  const col = L.COLUMN_BY_ID.unit;
  assert.equal(col.label, "Unit");
  assert.equal(col.text(web), "nginx.service");
  assert.equal(col.text(old), "");
  assert.equal(L.unitLabel("nginx.service"), "nginx");
  assert.equal(L.unitLabel("session-3.scope"), "session-3.scope");
  assert.equal(L.unitLabel("a.service.scope"), "a.service.scope");
  assert.equal(L.unitLabel(undefined), "");
  assert.deepEqual(L.view(m, "unit:nginx", "pid", "asc").map((p) => p.pid), [10, 11]);
  assert.deepEqual(L.view(m, "unit:session-3.scope", "pid", "asc").map((p) => p.pid), [20]);
  assert.deepEqual(L.view(m, "unit:legacy", "pid", "asc"), []);
  assert.deepEqual(L.view(m, "", "unit", "asc").map((p) => p.pid), [30, 1, 10, 11, 20], "sorted by unit, none first");
  // The tree keeps the ancestors of a match.
  assert.deepEqual(L.treeRows(m, "unit:nginx", "pid", "asc").map((r) => r.p.pid), [1, 10, 11]);
  const rows = L.portRows(m, "", "unit", "asc");
  assert.deepEqual(rows.map((r) => r.unit), ["nginx.service", "session-3.scope"]);
  assert.deepEqual(L.portRows(m, "unit:nginx").map((r) => r.pid), [10]);
  assert.deepEqual(L.portRows(m, "unit:session-3 :9000").map((r) => r.pid), [20]);
  assert.deepEqual(L.portRows(m, "unit:session-3 :80"), []);
  // A stored column choice without it stays as chosen; the chooser offers it.
  assert.deepEqual(L.loadPrefs(JSON.stringify({ columns: ["pid", "unit"] }), ["list"]).columns, ["pid", "unit"]);
  assert.ok(!L.loadPrefs(JSON.stringify({ columns: ["pid", "name"] }), ["list"]).columns.includes("unit"));
});

test("ports column: listeners first as :PORT, never a client before the listener; UDP unconnected is UNCONN", () => {
  const p = P(5, 1, "srv", { ports: [
    { type: "tcp", local: "127.0.0.1:40000", local_port: 40000, remote: "127.0.0.1:18765", status: "ESTABLISHED" },
    { type: "tcp", local: "127.0.0.1:18765", local_port: 18765, remote: null, status: "LISTEN" },
    { type: "udp", local: "0.0.0.0:5353", local_port: 5353, remote: null, status: "NONE" }] });
  assert.equal(L.portsCell(p), ":5353 :18765 +1 conn");
  assert.equal(L.portText(p.ports[1]), ":18765 tcp 127.0.0.1 LISTEN");
  assert.equal(L.portText(p.ports[2]), ":5353 udp 0.0.0.0 UNCONN");
  assert.equal(L.portsCell(P(6, 1, "c", { ports: [p.ports[0]] })), ":40000 tcp 127.0.0.1 → 127.0.0.1:18765 ESTABLISHED");
  assert.equal(L.portRows(L.applySnapshot([p]), "")[0].state, "UNCONN");
});

test("ports view sorts by its headers", () => {
  const m = L.applySnapshot([P(9, 1, "b", { ports: [{ type: "tcp", local: "0.0.0.0:22", local_port: 22, status: "LISTEN" }] }),
    P(3, 1, "a", { ports: [{ type: "tcp", local: "0.0.0.0:80", local_port: 80, status: "LISTEN" }] })]);
  assert.deepEqual(L.portRows(m, "", "pid", "asc").map((r) => r.pid), [3, 9]);
  assert.deepEqual(L.portRows(m, "", "pid", "desc").map((r) => r.pid), [9, 3]);
  assert.deepEqual(L.portRows(m, "", "local", "desc").map((r) => r.port), [80, 22]);
  assert.deepEqual(L.portRows(m, "", "name", "asc").map((r) => r.name), ["a", "b"]);
});

// Issue 10 item 2: Terminate asks first, unless turned off.
test("needsConfirm: TERM asks unless the preference says not", () => {
  assert.ok(L.needsConfirm("TERM"));
  assert.ok(L.needsConfirm("SIGTERM", { confirmTerm: true }));
  assert.ok(!L.needsConfirm("TERM", { confirmTerm: false }));
  assert.ok(L.needsConfirm("KILL", { confirmTerm: false }), "KILL always asks");
  assert.equal(L.loadPrefs(JSON.stringify({ confirmTerm: false }), ["list"]).confirmTerm, false);
  assert.equal(L.loadPrefs(JSON.stringify({ confirmTerm: "no" }), ["list"]).confirmTerm, true);
});

// Issue 10 item 1: rows hold still under the pointer.
test("holdOrder keeps positions, marks gone rows, appends new ones", () => {
  const k = (r) => r.p.pid;
  const row = (pid, cpu) => ({ p: { pid, cpu } });
  const prev = [row(1, 9), row(2, 5), row(3, 1)];
  const fresh = [row(3, 50), row(4, 20), row(1, 10)]; // 3 jumped up, 2 exited, 4 is new
  const h = L.holdOrder(prev, fresh, k);
  assert.deepEqual(h.rows.map((r) => [r.p.pid, !!r.gone]), [[1, false], [2, true], [3, false], [4, false]]);
  assert.equal(h.rows[2].p.cpu, 50, "values are updated in place");
  assert.ok(h.moved);
  const same = L.holdOrder(fresh, fresh, k);
  assert.ok(!same.moved);
  assert.deepEqual(same.rows, fresh);
});

// Issue 10 item 7: the real cadence and the reconnect backoff.
test("cadence is the median gap; backoff grows to 30 s", () => {
  assert.equal(L.cadence([0, 1000]), 0);
  assert.equal(L.cadence([0, 2000, 4100, 6000]), 2);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 9].map(L.backoff), [1, 2, 4, 8, 16, 30, 30]);
});

// Issue 10 item 10: hide kernel threads (htop's K).
test("hideKthreads leaves kernel threads out of the list and the tree", () => {
  const m = L.applySnapshot([P(1, 0, "systemd"), P(2, 0, "kthreadd", { cmdline: [] }), P(3, 2, "rcu_gp", { cmdline: [] }),
    P(4, 1, "sshd"), P(5, 1, "odd", { protected: "kernel thread", cmdline: [] })]);
  assert.deepEqual(L.view(m, "", "pid", "asc", true).map((p) => p.pid), [1, 4]);
  assert.deepEqual(L.view(m, "", "pid", "asc", false).length, 5);
  assert.deepEqual(L.treeRows(m, "", "pid", "asc", null, true).map((r) => r.p.pid), [1, 4]);
  assert.ok(!L.isKernelThread(P(6, 1, "init", { protected: "pid 1" })));
});

// Issue 10 item 11: TIME+ like htop, and the new columns sort.
test("fmtCPUTime and the %MEM, TIME+, VIRT columns", () => {
  assert.equal(L.fmtCPUTime(0), "0:00.00");
  assert.equal(L.fmtCPUTime(65.5), "1:05.50");
  assert.equal(L.fmtCPUTime(3725), "1:02:05");
  assert.equal(L.fmtCPUTime(undefined), "0:00.00");
  const m = L.applySnapshot([P(1, 0, "a", { cpu_time: 5, memory_percent: 0.5, memory_vms: 10 }), P(2, 0, "b", { cpu_time: 50, memory_percent: 0.1, memory_vms: 5 })]);
  assert.deepEqual(L.view(m, "", "time", "desc").map((p) => p.pid), [2, 1]);
  assert.deepEqual(L.view(m, "", "mempct", "desc").map((p) => p.pid), [1, 2]);
  assert.deepEqual(L.view(m, "", "virt", "asc").map((p) => p.pid), [2, 1]);
  assert.equal(L.COLUMN_BY_ID.mempct.text(m.get(1)), "0.5");
  assert.equal(L.COLUMN_BY_ID.virt.text(m.get(1)), "10 B");
});
