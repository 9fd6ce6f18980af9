//go:build browser

package browser

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// unitCgroup creates a cgroup named like a service (NAME.service) under
// this process's own in the unified hierarchy, so that a child started in
// it has a unit in the inventory, as a service's processes have; the test
// skips where that is not possible (not root, no cgroup v2 mount).
func unitCgroup(t *testing.T, unit string) *os.File {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a cgroup")
	}
	mnt := ""
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			for i := range fl {
				if fl[i] == "-" && i+1 < len(fl) && fl[i+1] == "cgroup2" {
					mnt = fl[4]
				}
			}
		}
		f.Close()
	}
	b, _ := os.ReadFile("/proc/self/cgroup")
	here := ""
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			here = p
		}
	}
	if mnt == "" || here == "" {
		t.Skip("no cgroup v2 hierarchy")
	}
	dir := filepath.Join(mnt, here, unit)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		for i := 0; i < 100 && os.Remove(dir) != nil; i++ {
			time.Sleep(50 * time.Millisecond) // until its processes are reaped
		}
	})
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// spawnIn is spawn in the listening mode, the child born in cgroup cg
// (clone3's CLONE_INTO_CGROUP).
func spawnIn(t *testing.T, cg *os.File, name string) *childProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: exe, Args: []string{name, "-test.run=^$"}, Env: append(os.Environ(), "PW_CHILD=listen", "PW_COMM="+name)}
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child in a cgroup: %v", err)
	}
	c := &childProc{cmd: cmd, pid: cmd.Process.Pid, name: name}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("listening child: %v", err)
	}
	if c.port, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatalf("listening child said %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return c
}

// serverUnits is "pid=unit,..." of GET /api/processes?q=q.
func serverUnits(t *testing.T, q string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", baseURL+"/api/processes?fresh=1&q="+url.QueryEscape(q), nil)
	req.Header.Set("X-Auth-Token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b struct {
		Items []struct {
			PID  int
			Unit string
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range b.Items {
		out = append(out, fmt.Sprintf("%d=%s", p.PID, p.Unit))
	}
	return strings.Join(out, ",")
}

// Issue 11: the list and the Ports view show each process's unit (shown
// by default in the list, optional in the chooser), unit:NAME filters both,
// and a click on a unit opens its detail in the Services view.
func TestUnitColumnAndFilter(t *testing.T) {
	name := childName("u")
	unit := name + ".service"
	cg := unitCgroup(t, unit)
	c := spawnIn(t, cg, name)
	other := spawn(t, "sleep", childName("n"))
	ctx := newBrowser(t)
	openApp(t, ctx)
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("refresh"))))

	// A default column, and it fits 1366 px with the command line.
	heads := eval[string](t, ctx, `[...document.querySelectorAll("#thead th")].map(th => th.textContent.replace(/[▲▼]/g, "")).join(",")`)
	if !strings.Contains(heads, ",Unit,") {
		t.Fatalf("headers %s: no Unit column by default", heads)
	}
	search(t, ctx, name)
	rowSel := fmt.Sprintf(`#rows tr.r[data-pid="%d"]`, c.pid)
	// The cell says the service's name (its title the unit's).
	waitFor(t, ctx, "the child in its unit", fmt.Sprintf(`(td => td && td.textContent === %q)(document.querySelector(%q))`, name, rowSel+" td.c-unit"), 5*time.Second)
	if v := eval[string](t, ctx, `(w => w.scrollWidth + " " + w.clientWidth + " " + document.querySelector("#thead th.c-cmdline").getBoundingClientRect().width)(document.getElementById("tablewrap"))`); func() bool {
		var sw, cw, cmd float64
		fmt.Sscan(v, &sw, &cw, &cmd)
		return sw > cw || cmd < 130
	}() {
		t.Errorf("at 1366 px: table scrollWidth, clientWidth, command line width = %s", v)
	}
	if v := eval[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).title`, rowSel+" td.c-unit button")); !strings.Contains(v, unit) {
		t.Errorf("the unit link's title %q", v)
	}
	shot(t, ctx, "unit-column")

	// unit:NAME in the list: the child alone; and the server's ?q= agrees.
	search(t, ctx, "unit:"+name)
	waitFor(t, ctx, "unit: filter", fmt.Sprintf(`(p => p.length === 1 && p[0] === %d)([...document.querySelectorAll("#rows tr.r")].map(r => Number(r.dataset.pid)))`, c.pid), 5*time.Second)
	search(t, ctx, "unit:"+name+" pid:"+strconv.Itoa(other.pid))
	waitFor(t, ctx, "no row", `document.querySelectorAll("#rows tr.r").length === 0`, 5*time.Second)
	srv := serverUnits(t, "unit:"+name)
	if srv != fmt.Sprintf("%d=%s", c.pid, unit) {
		t.Errorf("the server's unit:%s = %q", name, srv)
	}
	// The sleeper has no unit here: an empty cell, no link.
	search(t, ctx, "pid:"+strconv.Itoa(other.pid))
	waitFor(t, ctx, "the other child", fmt.Sprintf(`!!document.querySelector('#rows tr.r[data-pid="%d"]')`, other.pid), 5*time.Second)
	if v := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('#rows tr.r[data-pid="%d"] td.c-unit').innerHTML`, other.pid)); v != "" {
		t.Errorf("a process in no unit: cell %q", v)
	}

	// The Ports view: the Unit column and the same filter.
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("view-ports"))))
	search(t, ctx, "unit:"+name)
	waitFor(t, ctx, "the socket in its unit", fmt.Sprintf(`(rs => rs.length === 1 && Number(rs[0].dataset.pid) === %d && rs[0].querySelector("td.c-sunit").textContent === %q && rs[0].textContent.includes(":%d"))([...document.querySelectorAll("#rows tr.r")])`, c.pid, name, c.port), 5*time.Second)
	if v := eval[string](t, ctx, `[...document.querySelectorAll("#thead th")].map(th => th.textContent.replace(/[▲▼]/g, "")).join(",")`); !strings.HasSuffix(v, ",Unit") {
		t.Errorf("ports headers %s", v)
	}
	// A click on the unit opens the Services view's detail for it (without
	// systemd on this host, the detail says so).
	click(t, ctx, fmt.Sprintf(`#rows tr.r[data-pid="%d"] td.c-sunit button[data-open-unit]`, c.pid))
	waitFor(t, ctx, "the unit's detail", fmt.Sprintf(`document.getElementById("svcdetail").open && document.getElementById("svctitle").textContent === %q`, unit), 5*time.Second)
	waitFor(t, ctx, "its answer", `document.querySelector("#svcdetail .msg").textContent.includes("systemd is not running on this host")`, 5*time.Second)
	if eval[bool](t, ctx, `document.getElementById("detail").open`) {
		t.Error("the click on the unit also opened the process detail")
	}
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#svcdetail .dhead button"))))
	waitFor(t, ctx, "the unit's detail closed", `!document.getElementById("svcdetail").open`, 3*time.Second)

	// The keyboard: u on the selected row opens its unit.
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("view-list"))))
	search(t, ctx, "unit:"+name)
	waitFor(t, ctx, "the row", fmt.Sprintf(`!!document.querySelector(%q)`, rowSel), 5*time.Second)
	eval[bool](t, ctx, `(() => { document.getElementById("table").focus(); return true })()`)
	must(t, chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent("u")))
	waitFor(t, ctx, "the unit's detail from the keyboard", fmt.Sprintf(`document.getElementById("svcdetail").open && document.getElementById("svctitle").textContent === %q`, unit), 5*time.Second)
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#svcdetail .dhead button"))))
	waitFor(t, ctx, "the unit's detail closed", `!document.getElementById("svcdetail").open`, 3*time.Second)

	// The list's unit link does the same; then the chooser hides the column.
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("view-list"))))
	search(t, ctx, "unit:"+name)
	waitFor(t, ctx, "the row", fmt.Sprintf(`!!document.querySelector(%q)`, rowSel+" td.c-unit button"), 5*time.Second)
	click(t, ctx, rowSel+" td.c-unit button")
	waitFor(t, ctx, "the unit's detail from the list", fmt.Sprintf(`document.getElementById("svcdetail").open && document.getElementById("svctitle").textContent === %q`, unit), 5*time.Second)
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#svcdetail .dhead button"))))
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("columns"))))
	waitFor(t, ctx, "the chooser", `document.getElementById("coldlg").open && !!document.getElementById("col-unit")`, 2*time.Second)
	eval[bool](t, ctx, `(cb => { cb.click(); return true })(document.getElementById("col-unit"))`)
	waitFor(t, ctx, "the column hidden", `![...document.querySelectorAll("#thead th")].some(th => th.textContent.startsWith("Unit")) && !JSON.parse(localStorage.getItem("roy_prefs")).columns.includes("unit")`, 3*time.Second)
	noCSPViolations(t, ctx)
}
