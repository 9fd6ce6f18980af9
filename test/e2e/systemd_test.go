//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

const (
	addr    = "127.0.0.1:8088"
	baseURL = "http://" + addr
	svc     = "roy-procwatch.service"
	sock    = "roy-procwatch.socket"
)

var ct *container

// listenRE matches the socket in `ss -ltn` (BindToDevice=lo adds "%lo").
var listenRE = regexp.MustCompile(`(?m)^LISTEN\s+\d+\s+\d+\s+127\.0\.0\.1(%lo)?:8088\s`)

func TestMain(m *testing.M) {
	deb, rootfs := os.Getenv("E2E_DEB"), os.Getenv("E2E_ROOTFS")
	if deb == "" || rootfs == "" {
		fmt.Println("e2e: SKIP: E2E_DEB and E2E_ROOTFS not set (run make e2e)")
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		fmt.Println("e2e: SKIP: needs root")
		os.Exit(0)
	}
	// The container shares the host network: the port must be free here.
	if l, err := net.Listen("tcp", addr); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: %s is not free on the host: %v\n", addr, err)
		os.Exit(1)
	} else {
		l.Close()
	}
	var err error
	ct, err = bootContainer(rootfs, os.Getenv("E2E_PIDFILE"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: %v\n", err)
		os.Exit(1)
	}
	if err := ct.copyIn(deb, "root/roy-procwatch.deb"); err != nil {
		ct.shutdown()
		fmt.Fprintf(os.Stderr, "e2e: FAIL: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	t0 := time.Now()
	ct.shutdown()
	logf("container shut down in %v", time.Since(t0).Round(time.Millisecond))
	os.Exit(code)
}

// TestPackage runs the numbered checks of issue 4 and the security cases
// (E…, F…) of docs/security.md in order, one subtest each, against the installed
// package in the booted container.
func TestPackage(t *testing.T) {
	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"1_install_socket_listens_service_stopped_token_0600", checkInstall},
		{"2_socket_activation_curl_seed_examples_401", checkSocketActivation},
		{"2_readme_curl_examples_as_written", checkReadmeExamples},
		{"M1_read_token_0600_scrape_activates_actions_403_docs_examples", checkMetrics},
		{"E2_sandbox_caps_nonewprivs_seccomp", checkSandbox},
		{"E3_sandbox_refuses_etc_inet_setuid_procmem_vmreadv", checkSandboxProbe},
		{"E4_no_socket_under_systemd_is_a_startup_error", checkRequireSocket},
		{"E6_socket_listens_on_loopback_only", checkLoopbackOnly},
		{"privatenetwork_host_ports_still_listed", checkHostPortsListed},
		{"host_overview_under_the_sandbox", checkHostOverview},
		{"3_dbus_activation_busctl_ListProcesses", checkDBusActivation},
		{"3_readme_and_docs_busctl_examples_as_written", checkBusctlExamples},
		{"3_ui_md_events_curl_example_as_written", checkUIEventsExample},
		{"A4_A6_A9_real_polkit_rule_grants_one_user_signal", checkPolkitReal},
		{"4_restart_unit_main_pid_via_systemd_and_worker_409", checkRestartUnit},
		{"5_relaunch_process_in_no_unit_survives_daemon_stop", checkRelaunch},
		{"R1_relaunch_lends_no_group_setgid_ld_preload_denied", checkRelaunchNoGroupLending},
		{"R2_relaunch_argv_env_verbatim_dollar_percent_argv0", checkRelaunchArgvVerbatim},
		{"R3_relaunch_keeps_nice_rlimits_oom_slice", checkRelaunchKeepsResources},
		{"R15_relaunch_exec_failure_reported", checkRelaunchExecFailure},
		{"F1_audit_file_records_actions", checkAuditFile},
		{"S1_services_list_states_ports_filters_csv", checkServicesList},
		{"S2_services_journal_unit_pid_cursor", checkServicesJournal},
		{"S3_services_actions_change_real_state", checkServicesActions},
		{"S4_services_refusals_409_change_nothing", checkServicesRefusals},
		{"S5_services_outside_change_on_sse_within_1s", checkServicesLive},
		{"S6_services_busctl_ListServices_GetServiceJournal", checkServicesBusctl},
		{"S7_services_bench_300_units", checkServicesBench},
		{"S8_services_readme_examples_as_written", checkServicesReadme},
		{"S10_services_browser_failed_restart_journal", checkServicesBrowser},
		{"S9_services_cleanup", cleanupServiceUnits},
		{"8.4_connection_flood_without_token_cannot_lock_out", checkConnectionFlood},
		{"6_idle_exit_socket_stays_then_burst_of_200", checkIdleExitBurst},
		{"7_kill9_under_load_restarted_clients_retry_once", checkKill9},
		{"E1_systemd_analyze_security_at_most_2.0", checkSecurityScore},
		{"F4_missing_token_never_serves_dpkg_reconfigure_recovers", checkMissingToken},
		{"8_upgrade_keeps_token_and_socket_purge_removes_all", checkUpgradePurge},
	}
	for _, s := range steps {
		t0 := time.Now()
		ok := t.Run(s.name, func(t *testing.T) {
			// On failure, show what the container logged during this check.
			cur, _ := ct.run(10*time.Second, "journalctl -n0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'")
			t.Cleanup(func() {
				if t.Failed() {
					out, _ := ct.run(20*time.Second, fmt.Sprintf("journalctl --no-pager -o short-monotonic --after-cursor='%s' | tail -n 80", strings.TrimSpace(cur)))
					t.Logf("container journal during this check:\n%s", out)
				}
			})
			s.fn(t)
		})
		logf("%-60s %s in %v", s.name, map[bool]string{true: "PASS", false: "FAIL"}[ok], time.Since(t0).Round(time.Millisecond))
	}
}

// ---- helpers ----

var client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func token(t *testing.T) string {
	t.Helper()
	return ct.must(t, "cat /etc/roy-procwatch/token")
}

// api does one request from the host (same network namespace).
func api(method, path, tok string, body string) (int, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, baseURL+path, r)
	if err != nil {
		return 0, nil, err
	}
	if tok != "" {
		req.Header.Set("X-Auth-Token", tok)
	}
	if body != "" || method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func unitProp(t *testing.T, unit, prop string) string {
	t.Helper()
	return ct.must(t, fmt.Sprintf("systemctl show -P %s %s", prop, unit))
}

func isActive(unit string) string {
	out, _ := ct.run(10*time.Second, "systemctl is-active "+unit)
	return strings.TrimSpace(out)
}

// waitFor polls cond every 100 ms until timeout (commands in the
// container are slow).
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testproc.PollEvery(t, timeout, 100*time.Millisecond, what, cond)
}

// load is a set of clients sending GET path in a loop until stop.
type load struct {
	ok, retried, failed atomic.Int32
	mu                  sync.Mutex
	errs                []string // the first few failures
	done                chan struct{}
	wg                  sync.WaitGroup
}

// startLoad starts workers clients; with retry, a failed request is tried
// once more before it counts as failed.
func startLoad(workers int, path, tok string, retry bool, pause time.Duration) *load {
	l := &load{done: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.done:
					return
				default:
				}
				code, _, err := api("GET", path, tok, "")
				if (err != nil || code != 200) && retry {
					l.retried.Add(1)
					code, _, err = api("GET", path, tok, "")
				}
				if err != nil || code != 200 {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 5 {
						l.errs = append(l.errs, fmt.Sprintf("%d %v", code, err))
					}
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
				time.Sleep(pause)
			}
		}()
	}
	return l
}

// stop ends the clients and waits for them.
func (l *load) stop() {
	close(l.done)
	l.wg.Wait()
}

type port struct {
	Local  string  `json:"local"`
	Remote *string `json:"remote"`
	Status string  `json:"status"`
	Family string  `json:"family"`
}

type proc struct {
	PID     int      `json:"pid"`
	PPID    int      `json:"ppid"`
	Name    string   `json:"name"`
	Cmdline []string `json:"cmdline"`
	Ports   []port   `json:"ports"`
	Unit    string   `json:"unit"`
}

type list struct {
	Count int    `json:"count"`
	Items []proc `json:"items"`
}

func listProcs(t *testing.T, tok, query string) list {
	t.Helper()
	code, b, err := api("GET", "/api/processes"+query, tok, "")
	if err != nil || code != 200 {
		t.Fatalf("GET /api/processes%s: %d %v %s", query, code, err, b)
	}
	var l list
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("list JSON: %v: %.300s", err, b)
	}
	return l
}

type restartResp struct {
	OK     bool   `json:"ok"`
	OldPID int    `json:"old_pid"`
	NewPID int    `json:"new_pid"`
	Error  string `json:"error"`
}

func restart(t *testing.T, tok string, pid int) (int, restartResp) {
	t.Helper()
	code, b, err := api("POST", fmt.Sprintf("/api/process/%d/restart", pid), tok, "")
	if err != nil {
		t.Fatalf("restart %d: %v", pid, err)
	}
	var r restartResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("restart %d: %d, not JSON: %s", pid, code, b)
	}
	t.Logf("POST /api/process/%d/restart -> %d %s", pid, code, strings.TrimSpace(string(b)))
	return code, r
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// ---- 1 ----

func checkInstall(t *testing.T) {
	out := ct.must(t, "dpkg -i /root/roy-procwatch.deb 2>&1")
	t.Logf("dpkg -i:\n%s", out)
	if s := isActive(sock); s != "active" {
		t.Errorf("%s is %q after install, want active", sock, s)
	}
	if s := ct.must(t, "systemctl is-enabled "+sock); s != "enabled" {
		t.Errorf("%s is %q, want enabled", sock, s)
	}
	if ss := ct.must(t, "ss -Hltn 'sport = :8088'"); !listenRE.MatchString(ss) {
		t.Errorf("nothing listens on %s: %q", addr, ss)
	}
	if s := isActive(svc); s == "active" || s == "activating" {
		t.Errorf("%s is %q right after install, want not running (socket activation only)", svc, s)
	}
	if st := ct.must(t, "stat -c '%a %U %G' /etc/roy-procwatch/token"); st != "600 root root" {
		t.Errorf("token mode/owner %q, want 600 root root", st)
	}
	if st := ct.must(t, "stat -c '%a %U' /etc/roy-procwatch"); st != "700 root" {
		t.Errorf("token dir mode/owner %q, want 700 root", st)
	}
	if tok := token(t); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Errorf("token is not 32 random bytes in hex: %d chars", len(tok))
	}
	if st := ct.must(t, "test -f /etc/default/roy-procwatch && dpkg-query -W -f='${Conffiles}' roy-procwatch"); !strings.Contains(st, "/etc/default/roy-procwatch") {
		t.Errorf("/etc/default/roy-procwatch is not a conffile: %q", st)
	}
}

// ---- 2 ----

func checkSocketActivation(t *testing.T) {
	if s := isActive(svc); s == "active" {
		t.Fatalf("%s already active before the first request", svc)
	}
	// The original list example (the README's first curl example), run inside the container.
	out := ct.must(t, `TOKEN=$(cat /etc/roy-procwatch/token)
curl -sS --fail-with-body -H "X-Auth-Token: $TOKEN" "http://127.0.0.1:8088/api/processes?sort=cpu&order=desc"`)
	var l list
	if err := json.Unmarshal([]byte(out), &l); err != nil || l.Count == 0 || len(l.Items) != l.Count {
		t.Fatalf("list: %v count=%d items=%d: %.300s", err, l.Count, len(l.Items), out)
	}
	if s := isActive(svc); s != "active" {
		t.Errorf("%s is %q after the first request, want active (socket activation)", svc, s)
	}
	for _, tc := range []struct{ name, tok string }{{"no token", ""}, {"wrong token", strings.Repeat("0", 64)}} {
		code, b, err := api("GET", "/api/processes", tc.tok, "")
		if err != nil || code != 401 {
			t.Errorf("%s: got %d %v %s, want 401", tc.name, code, err, b)
		}
	}
	code, b, err := api("GET", "/api/health", "", "")
	if err != nil || code != 200 || !strings.Contains(string(b), `"ok"`) {
		t.Errorf("health without token: %d %v %s", code, err, b)
	}

	// The other original examples (TERM, KILL, renice, restart) on throwaway
	// processes, with the README's curl lines; one subtest each.
	victim := func(t *testing.T, name string) int {
		ct.must(t, fmt.Sprintf("systemctl stop %[1]s.service 2>/dev/null; systemd-run --quiet --collect --unit=%[1]s sleep 10000", name))
		return atoi(t, unitProp(t, name+".service", "MainPID"))
	}
	seed := func(t *testing.T, pid int, path, body string) string {
		data := ""
		if body != "" {
			data = fmt.Sprintf("-d '%s' ", body)
		}
		return ct.must(t, fmt.Sprintf(`TOKEN=$(cat /etc/roy-procwatch/token)
curl -sS --fail-with-body -X POST -H "Content-Type: application/json" -H "X-Auth-Token: $TOKEN" %shttp://127.0.0.1:8088/api/process/%d/%s`, data, pid, path))
	}
	for _, sig := range []string{"TERM", "KILL"} {
		t.Run("seed_"+sig, func(t *testing.T) {
			unit := "e2e-seed-" + strings.ToLower(sig)
			defer ct.run(10*time.Second, "systemctl stop "+unit+".service 2>/dev/null")
			pid := victim(t, unit)
			out := seed(t, pid, "signal", fmt.Sprintf(`{"signal":"%s"}`, sig))
			want := fmt.Sprintf(`{"ok":true,"pid":%d,"signal":"%s"}`, pid, sig)
			if compactJSON(out) != want {
				t.Errorf("%s: got %s, want %s", sig, out, want)
			}
			waitFor(t, fmt.Sprintf("pid %d to die of SIG%s", pid, sig), 5*time.Second, func() bool {
				_, err := ct.run(5*time.Second, fmt.Sprintf("test -d /proc/%d", pid))
				return err != nil
			})
		})
	}
	t.Run("seed_renice", func(t *testing.T) {
		defer ct.run(10*time.Second, "systemctl stop e2e-seed-renice.service 2>/dev/null")
		pid := victim(t, "e2e-seed-renice")
		out := seed(t, pid, "renice", `{"nice":5}`)
		if want := fmt.Sprintf(`{"ok":true,"pid":%d,"nice":5}`, pid); compactJSON(out) != want {
			t.Errorf("renice: got %s, want %s", out, want)
		}
		if ni := ct.must(t, fmt.Sprintf("ps -o ni= -p %d", pid)); strings.TrimSpace(ni) != "5" {
			t.Errorf("nice after renice: %q, want 5", ni)
		}
	})
	t.Run("seed_restart", func(t *testing.T) {
		defer ct.run(10*time.Second, "systemctl stop e2e-seed-restart.service 2>/dev/null")
		pid := victim(t, "e2e-seed-restart")
		out := seed(t, pid, "restart", "")
		var r restartResp
		if err := json.Unmarshal([]byte(out), &r); err != nil || !r.OK || r.OldPID != pid || r.NewPID <= 0 || r.NewPID == pid {
			t.Errorf("restart: %v %s", err, out)
		}
		if m := atoi(t, unitProp(t, "e2e-seed-restart.service", "MainPID")); m != r.NewPID {
			t.Errorf("new_pid %d, unit MainPID %d", r.NewPID, m)
		}
	})
}

// readmeCurlExamples returns the bash blocks of README.md's "curl examples"
// section, unindented, in order.
func readmeCurlExamples(t *testing.T) []string {
	t.Helper()
	return readmeBashBlocks(t, "### curl examples")
}

// readmeBashBlocks returns the bash blocks of the README.md section under
// heading (up to the next heading), unindented, in order. A README without
// it fails the test: its examples must run.
func readmeBashBlocks(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	text := string(b)
	i := strings.Index(text, heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	text = text[i+len(heading)+1:]
	if j := regexp.MustCompile(`(?m)^##`).FindStringIndex(text); j != nil {
		text = text[:j[0]]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?ms)^([ \t]*)```bash\n(.*?)^[ \t]*```").FindAllStringSubmatch(text, -1) {
		var lines []string
		for _, l := range strings.Split(m[2], "\n") {
			lines = append(lines, strings.TrimPrefix(l, m[1]))
		}
		blocks = append(blocks, strings.TrimSpace(strings.Join(lines, "\n")))
	}
	return blocks
}

// checkReadmeExamples runs README.md's curl examples literally inside the
// container: the token comes from the token file and the example PID 1234 is
// replaced by a throwaway process.
func checkReadmeExamples(t *testing.T) {
	blocks := readmeCurlExamples(t)
	if len(blocks) < 5 {
		t.Fatalf("only %d bash blocks in README's curl examples", len(blocks))
	}
	prelude := "TOKEN=$(cat /etc/roy-procwatch/token)\ncd /tmp\n"
	n := 0
	for i, blk := range blocks {
		if strings.HasPrefix(blk, "TOKEN=") {
			continue // the token line: replaced by the prelude
		}
		n++
		script := blk
		pid := 0
		listener := 0 // the README's "who listens on 5432?" must name it
		if strings.Contains(blk, "local_port==5432") {
			unit := fmt.Sprintf("e2e-readme-%d", i)
			ct.must(t, fmt.Sprintf("systemd-run --quiet --collect --unit=%s systemd-socket-activate -l 127.0.0.1:5432 sleep 100", unit))
			defer ct.run(10*time.Second, "systemctl stop "+unit+".service 2>/dev/null")
			listener = atoi(t, unitProp(t, unit+".service", "MainPID"))
			waitFor(t, "the 5432 listener", 5*time.Second, func() bool {
				out, _ := ct.run(5*time.Second, "ss -Hltn 'sport = :5432'")
				return strings.TrimSpace(out) != ""
			})
			time.Sleep(2500 * time.Millisecond) // past the daemon's 2 s snapshot TTL
		}
		if strings.Contains(blk, "/api/process/1234/") {
			unit := fmt.Sprintf("e2e-readme-%d", i)
			ct.must(t, fmt.Sprintf("systemd-run --quiet --collect --unit=%s sleep 10000", unit))
			defer ct.run(10*time.Second, "systemctl stop "+unit+".service 2>/dev/null")
			pid = atoi(t, unitProp(t, unit+".service", "MainPID"))
			script = strings.ReplaceAll(blk, "/api/process/1234/", fmt.Sprintf("/api/process/%d/", pid))
		}
		// stdout only: curl's progress meter goes to stderr.
		out, err := ct.run(30*time.Second, prelude+"{\n"+script+"\n} 2>/tmp/readme-stderr")
		out = strings.TrimSpace(out)
		t.Logf("README block %d:\n%s\n-> %.300s", i, script, out)
		switch {
		case err != nil:
			t.Errorf("README block %d failed: %v", i, err)
		case listener != 0:
			if !regexp.MustCompile(fmt.Sprintf(`"pid": %d\b`, listener)).MatchString(out) || strings.Count(out, `"pid"`) != 1 {
				t.Errorf("README block %d: want exactly the listener %d on 5432, got %.300s", i, listener, out)
			}
		case pid != 0:
			if !strings.Contains(out, `"ok":true`) {
				t.Errorf("README block %d: no \"ok\":true in %.300s", i, out)
			}
		case strings.Contains(blk, "> "):
			f := regexp.MustCompile(`> (\S+)\s*$`).FindStringSubmatch(blk)
			if f == nil {
				break
			}
			if size := ct.must(t, "wc -c < /tmp/"+f[1]); atoi(t, size) == 0 {
				t.Errorf("README block %d wrote an empty %s", i, f[1])
			}
		default:
			var l list
			if err := json.Unmarshal([]byte(out), &l); err != nil || l.Count == 0 {
				t.Errorf("README block %d: not a process list: %v %.200s", i, err, out)
			}
		}
	}
	if n < 5 {
		t.Errorf("ran only %d README examples", n)
	}
}

func compactJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	m, ok := v.(map[string]any)
	if !ok {
		return s
	}
	// Keep the order of the contract: ok, pid, then the rest.
	keys := []string{"ok", "pid", "signal", "nice"}
	var parts []string
	for _, k := range keys {
		if x, ok := m[k]; ok {
			b, _ := json.Marshal(x)
			parts = append(parts, fmt.Sprintf("%q:%s", k, b))
		}
	}
	if len(parts) != len(m) {
		return s
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// ---- E2, E6, ports under PrivateNetwork ----

func daemonPID(t *testing.T) int {
	t.Helper()
	if isActive(svc) != "active" {
		if code, b, err := api("GET", "/api/health", "", ""); err != nil || code != 200 {
			t.Fatalf("activating the service: %d %v %s", code, err, b)
		}
	}
	pid := atoi(t, unitProp(t, svc, "MainPID"))
	if pid == 0 {
		t.Fatalf("%s has no MainPID", svc)
	}
	return pid
}

func checkSandbox(t *testing.T) {
	pid := daemonPID(t)
	st := ct.must(t, fmt.Sprintf("grep -E '^(Uid|CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/%d/status", pid))
	t.Logf("daemon /proc/%d/status:\n%s", pid, st)
	want := map[string]string{
		"CapEff": "0000000000880024", "CapBnd": "0000000000880024",
		"NoNewPrivs": "1", "Seccomp": "2",
	}
	for k, v := range want {
		m := regexp.MustCompile(`(?m)^` + k + `:\s*(\S+)`).FindStringSubmatch(st)
		if m == nil || m[1] != v {
			t.Errorf("%s = %v, want %s", k, m, v)
		}
	}
}

// installProbe builds the Go program pkg (a directory of test/e2e), static,
// and installs it in the container at dst.
func installProbe(t *testing.T, pkg, dst string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	build := exec.Command("go", "build", "-tags", "e2e", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v %s", pkg, err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ct.dir, dst), b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// checkSandboxProbe runs test/e2e/sandboxprobe as ExecStart= of a copy of
// the installed roy-procwatch.service (same sandbox, oneshot) and checks
// that every attempt fails with the expected errno.
func checkSandboxProbe(t *testing.T) {
	installProbe(t, "./sandboxprobe", "/usr/local/sbin/roy-e2e-probe")
	defer ct.run(20*time.Second, "rm -f /run/systemd/system/roy-e2e-probe.service /usr/local/sbin/roy-e2e-probe /run/roy-e2e-probe.out; systemctl daemon-reload")
	ct.must(t, `sed -e 's|^ExecStart=.*|ExecStart=/usr/local/sbin/roy-e2e-probe|' -e 's|^Type=.*|Type=oneshot|' \
    -e '/^\(BusName\|WatchdogSec\|Restart\|Requires\|After\|NotifyAccess\)=/d' \
    /lib/systemd/system/roy-procwatch.service > /run/systemd/system/roy-e2e-probe.service
printf 'StandardOutput=file:/run/roy-e2e-probe.out\n' >> /run/systemd/system/roy-e2e-probe.service
systemctl daemon-reload && systemctl start roy-e2e-probe.service`)
	out := ct.must(t, "cat /run/roy-e2e-probe.out")
	t.Logf("probe under the service's sandbox:\n%s", out)
	want := map[string]string{
		"write_etc":        "EROFS",
		"socket_af_inet":   "EAFNOSUPPORT",
		"setuid":           "EPERM",
		"proc1_mem_rw":     "EROFS",
		"process_vm_readv": "EPERM",
	}
	for k, v := range want {
		m := regexp.MustCompile(`(?m)^` + k + `: (\S+)$`).FindStringSubmatch(out)
		if m == nil || m[1] != v {
			t.Errorf("%s: got %v, want %s", k, m, v)
		}
	}
}

// checkRequireSocket: the unit sets ROY_PROCWATCH_REQUIRE_SOCKET=true, so
// without a passed socket (or with LISTEN_PID of another process) the
// daemon must exit non-zero at once instead of binding a port itself.
func checkRequireSocket(t *testing.T) {
	for _, env := range []string{"", "LISTEN_FDS=1 LISTEN_PID=1"} {
		out, err := ct.run(30*time.Second, fmt.Sprintf(
			"env %s ROY_PROCWATCH_REQUIRE_SOCKET=true ROY_PROCWATCH_BUS=none ROY_PROCWATCH_PORT=18088 ROY_PROCWATCH_TOKEN=x timeout 10 /usr/sbin/roy-procwatchd; echo \"exit=$?\"", env))
		t.Logf("%q:\n%s", env, strings.TrimSpace(out))
		m := regexp.MustCompile(`exit=(\d+)`).FindStringSubmatch(out)
		if err != nil || m == nil || m[1] == "0" || m[1] == "124" {
			t.Errorf("with %q: want a quick non-zero exit, got %v %v", env, m, err)
		}
	}
}

func checkLoopbackOnly(t *testing.T) {
	// BindToDevice=lo shows as 127.0.0.1%lo:8088.
	ss := ct.must(t, "ss -Hltn 'sport = :8088'")
	t.Logf("ss -ltn: %s", ss)
	lines := strings.Split(strings.TrimSpace(ss), "\n")
	if len(lines) != 1 || !listenRE.MatchString(lines[0]) {
		t.Errorf("listeners on :8088 = %q, want exactly %s on lo", ss, addr)
	}
	// BindToDevice=lo and IPAddressAllow/Deny are on the socket: they must
	// have been applied, not skipped with a warning.
	j, _ := ct.run(20*time.Second, "journalctl -b --no-pager -o cat _PID=1 | grep -iE 'roy-procwatch.*(bpf|firewall|not supported|ignoring|unknown)' || true")
	if strings.TrimSpace(j) != "" {
		t.Errorf("systemd complained about the units:\n%s", j)
	}
	if v := unitProp(t, sock, "BindToDevice"); v != "lo" {
		t.Errorf("socket BindToDevice=%q", v)
	}
}

func checkHostPortsListed(t *testing.T) {
	// The daemon runs with PrivateNetwork=yes. The listening socket of the
	// socket unit is held by PID 1 in the host network namespace: it must be
	// listed under PID 1, read from /proc/1/net/tcp, not the daemon's own
	// empty namespace.
	l := listProcs(t, token(t), "?sort=pid&order=asc")
	for _, p := range l.Items {
		if p.PID != 1 {
			continue
		}
		for _, pt := range p.Ports {
			if pt.Local == addr && pt.Status == "LISTEN" {
				return
			}
		}
		t.Fatalf("PID 1 (systemd, holding %s) is listed without it: ports=%+v", addr, p.Ports)
	}
	t.Fatalf("PID 1 not in the list (%d items)", l.Count)
}

// ---- 3 ----

func checkDBusActivation(t *testing.T) {
	ct.must(t, "systemctl stop "+svc)
	if s := isActive(svc); s == "active" {
		t.Fatalf("%s still %s after stop", svc, s)
	}
	out := ct.must(t, `busctl --timeout=15 call org.roy.ProcWatch1 /org/roy/ProcWatch1 org.roy.ProcWatch1.Manager ListProcesses sss "" pid asc`)
	if !regexp.MustCompile(`^aa\{sv\} [1-9][0-9]* `).MatchString(out) {
		t.Errorf("busctl ListProcesses: %.300s", out)
	}
	if s := isActive(svc); s != "active" {
		t.Errorf("%s is %q after the D-Bus call, want active (D-Bus activation)", svc, s)
	}
	if owner := ct.must(t, "busctl status --no-pager org.roy.ProcWatch1 | sed -n 's/^PID=//p'"); owner != unitProp(t, svc, "MainPID") {
		t.Errorf("org.roy.ProcWatch1 owned by pid %q, service MainPID %s", owner, unitProp(t, svc, "MainPID"))
	}
}

// ---- 4 ----

func checkRestartUnit(t *testing.T) {
	ct.must(t, `cat > /etc/systemd/system/e2e-loop.service <<'EOF'
[Unit]
Description=e2e test service with a worker child
[Service]
ExecStart=/bin/sh -c 'sleep 100000 & wait'
EOF
systemctl daemon-reload && systemctl start e2e-loop.service`)
	defer ct.run(20*time.Second, "systemctl stop e2e-loop.service; rm -f /etc/systemd/system/e2e-loop.service; systemctl daemon-reload")
	main := atoi(t, unitProp(t, "e2e-loop.service", "MainPID"))
	inv := unitProp(t, "e2e-loop.service", "InvocationID")
	nr := unitProp(t, "e2e-loop.service", "NRestarts")
	tok := token(t)
	code, r := restart(t, tok, main)
	if code != 200 || !r.OK || r.OldPID != main {
		t.Fatalf("restart of MainPID %d: %d %+v", main, code, r)
	}
	newMain := atoi(t, unitProp(t, "e2e-loop.service", "MainPID"))
	if r.NewPID != newMain || newMain == main {
		t.Errorf("new_pid %d, unit MainPID now %d (was %d)", r.NewPID, newMain, main)
	}
	if s := isActive("e2e-loop.service"); s != "active" {
		t.Errorf("e2e-loop.service is %q after restart", s)
	}
	inv2 := unitProp(t, "e2e-loop.service", "InvocationID")
	if inv2 == inv || inv2 == "" {
		t.Errorf("InvocationID unchanged (%s): systemd did not restart the unit", inv)
	}
	// NRestarts counts automatic restarts (Restart=) only; a RestartUnit job
	// leaves it alone, the new InvocationID is the proof.
	t.Logf("InvocationID %s -> %s, NRestarts %s -> %s", inv, inv2, nr, unitProp(t, "e2e-loop.service", "NRestarts"))
	if _, err := ct.run(5*time.Second, fmt.Sprintf("test -d /proc/%d", main)); err == nil {
		t.Errorf("old MainPID %d still exists", main)
	}

	var worker int
	waitFor(t, "the worker child", 5*time.Second, func() bool {
		out, _ := ct.run(5*time.Second, fmt.Sprintf("pgrep -P %d -x sleep", newMain))
		worker, _ = strconv.Atoi(strings.TrimSpace(out))
		return worker > 0
	})
	code, r = restart(t, tok, worker)
	if code != 409 || !strings.Contains(r.Error, "e2e-loop.service") {
		t.Errorf("restart of worker %d: %d %q, want 409 naming e2e-loop.service", worker, code, r.Error)
	}
	if atoi(t, unitProp(t, "e2e-loop.service", "MainPID")) != newMain {
		t.Errorf("the unit was touched by the refused worker restart")
	}
}

// ---- 5 ----

func checkRelaunch(t *testing.T) {
	// Started through nsenter, the process sits in no unit of the container's
	// systemd (GetUnitByPID: NoUnitForPID).
	pid := atoi(t, ct.must(t, `mkdir -p /srv/e2e-cwd && cd /srv/e2e-cwd && setsid sleep 4242 </dev/null >/dev/null 2>&1 & echo $!`))
	unit, _ := ct.run(5*time.Second, fmt.Sprintf("busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager GetUnitByPID u %d", pid))
	t.Logf("pid %d before: GetUnitByPID -> %s", pid, strings.TrimSpace(unit))
	code, r := restart(t, token(t), pid)
	if code != 200 || !r.OK || r.OldPID != pid || r.NewPID <= 0 || r.NewPID == pid {
		t.Fatalf("restart of pid %d: %d %+v", pid, code, r)
	}
	np := r.NewPID
	cmd := ct.must(t, fmt.Sprintf("tr '\\0' ' ' < /proc/%d/cmdline", np))
	cwd := ct.must(t, fmt.Sprintf("readlink /proc/%d/cwd", np))
	cg := ct.must(t, fmt.Sprintf("cat /proc/%d/cgroup", np))
	t.Logf("new pid %d: cmdline %q cwd %q cgroup %q", np, cmd, cwd, cg)
	if cmd != "sleep 4242" {
		t.Errorf("cmdline %q, want %q", cmd, "sleep 4242")
	}
	if cwd != "/srv/e2e-cwd" {
		t.Errorf("cwd %q, want /srv/e2e-cwd", cwd)
	}
	m := regexp.MustCompile(`/([^/]+\.service)$`).FindStringSubmatch(cg)
	if m == nil || strings.HasPrefix(m[1], "roy-procwatch.service") {
		t.Fatalf("relaunched process is not in its own (transient) service unit: %q", cg)
	}
	tunit := m[1]
	defer ct.run(20*time.Second, "systemctl stop "+tunit)
	if tr := unitProp(t, tunit, "Transient"); tr != "yes" {
		t.Errorf("%s Transient=%s", tunit, tr)
	}
	ct.must(t, "systemctl stop "+svc)
	time.Sleep(300 * time.Millisecond)
	if _, err := ct.run(5*time.Second, fmt.Sprintf("kill -0 %d", np)); err != nil {
		t.Errorf("relaunched pid %d died with systemctl stop %s", np, svc)
	}
}

// ---- F1 ----

// checkAuditFile: the actions of checks 4 and 5 are in the audit file of
// the service's StateDirectory, written under the sandbox, 0600.
func checkAuditFile(t *testing.T) {
	const path = "/var/lib/roy-procwatch/audit.log"
	if st := ct.must(t, "stat -c '%a %U' "+path); st != "600 root" {
		t.Errorf("%s: %s, want 600 root", path, st)
	}
	log := ct.must(t, "cat "+path)
	for _, want := range []string{
		`"action":"restart"`,
		`"result":"ok"`,
		`"result":"NotRestartable"`,          // the worker of check 4
		`"msg":"relaunch: stopping process"`, // the snapshot of check 5
		`"argv":["sleep","4242"]`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("audit file lacks %s:\n%s", want, log)
		}
	}
	for i, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("line %d is not JSON: %v: %s", i+1, err, line)
		}
	}
	t.Run("rotation_under_the_sandbox", func(t *testing.T) { checkAuditRotation(t, path) })
}

// checkAuditRotation: with a 2 KiB cap the sandboxed daemon rotates its own
// audit file (a rename inside its StateDirectory) and keeps one old file.
func checkAuditRotation(t *testing.T, path string) {
	const dropin = "/run/systemd/system/roy-procwatch.service.d/e2e-audit.conf"
	ct.must(t, "mkdir -p $(dirname "+dropin+") && printf '[Service]\\nEnvironment=ROY_PROCWATCH_AUDIT_MAX_SIZE=2K\\n' > "+dropin+
		" && systemctl daemon-reload && systemctl restart "+svc)
	defer ct.run(60*time.Second, "rm -f "+dropin+" && systemctl daemon-reload && systemctl restart "+svc)
	tok := token(t)
	for i := 0; i < 30; i++ { // refused (PID 1 is protected), audited all the same
		if code, b, err := api("POST", "/api/process/1/signal", tok, `{"signal":"CONT"}`); err != nil || code != 403 {
			t.Fatalf("signal PID 1: %d %v %s", code, err, b)
		}
	}
	for _, p := range []string{path, path + ".1"} {
		st := ct.must(t, "stat -c '%a %U %s' "+p)
		var mode, owner string
		var size int
		if _, err := fmt.Sscan(st, &mode, &owner, &size); err != nil || mode != "600" || owner != "root" || size > 2048 || size == 0 {
			t.Errorf("%s: %q, want 600 root and 1..2048 bytes", p, st)
		}
	}
	if n := ct.must(t, "ls /var/lib/roy-procwatch | grep -c '^audit'"); n != "2" {
		t.Errorf("%s audit files, want 2 (one old file kept)", n)
	}
}

// ---- 6 ----

func checkIdleExitBurst(t *testing.T) {
	// Through the real settings file (the conffile), restored afterwards so
	// the upgrade in check 8 sees it unmodified.
	ct.must(t, `cp -p /etc/default/roy-procwatch /root/default.bak
echo ROY_PROCWATCH_IDLE_EXIT=2s >> /etc/default/roy-procwatch
systemctl stop roy-procwatch.service`)
	defer ct.run(20*time.Second, "cp -p /root/default.bak /etc/default/roy-procwatch && rm -f /root/default.bak; systemctl stop roy-procwatch.service")

	// The start limit must leave room for the fastest idle cycle (2s).
	iv, _ := time.ParseDuration(strings.ReplaceAll(unitProp(t, svc, "StartLimitIntervalUSec"), "min", "m"))
	burst := atoi(t, unitProp(t, svc, "StartLimitBurst"))
	if iv == 0 || iv/time.Duration(burst) >= 2*time.Second {
		t.Errorf("StartLimitIntervalSec=%v StartLimitBurst=%d: idle cycles of 2s could trip it", iv, burst)
	}
	tok := token(t)
	sockSince := unitProp(t, sock, "ActiveEnterTimestampMonotonic")
	const cycles = 4
	for i := 0; i < cycles; i++ {
		if code, b, err := api("GET", "/api/processes?q=init", tok, ""); err != nil || code != 200 {
			t.Fatalf("cycle %d: %d %v %.200s", i, code, err, b)
		}
		waitFor(t, fmt.Sprintf("idle exit %d", i), 15*time.Second, func() bool {
			s := isActive(svc)
			return s == "inactive"
		})
		if s := isActive(sock); s != "active" {
			t.Fatalf("socket %q after idle exit %d", s, i)
		}
	}
	if r := unitProp(t, svc, "Result"); r != "success" {
		t.Errorf("service Result=%s after idle exits, want success", r)
	}
	// Burst of 200 while the service is stopped: systemd queues them all.
	const n = 200
	var wg sync.WaitGroup
	var failed atomic.Int32
	errs := make(chan string, n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, b, err := api("GET", "/api/processes?q=sleep", tok, "")
			if err != nil || code != 200 {
				failed.Add(1)
				errs <- fmt.Sprintf("%d %v %.100s", code, err, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	t.Logf("burst of %d requests from a stopped service: %d failed, %v", n, failed.Load(), time.Since(t0).Round(time.Millisecond))
	for e := range errs {
		t.Errorf("burst request failed: %s", e)
		break
	}
	if s := isActive(sock); s != "active" {
		t.Errorf("socket %q after burst", s)
	}
	if unitProp(t, sock, "ActiveEnterTimestampMonotonic") != sockSince {
		t.Errorf("the socket was restarted during idle exits")
	}
	ct.run(10*time.Second, "systemctl stop "+svc)
}

// ---- 7 ----

func checkKill9(t *testing.T) {
	tok := token(t)
	old := daemonPID(t)
	sockSince := unitProp(t, sock, "ActiveEnterTimestampMonotonic")
	l := startLoad(16, "/api/processes?q=sleep", tok, true, 0)
	time.Sleep(1 * time.Second)
	ct.must(t, fmt.Sprintf("kill -9 %d", old))
	t.Logf("killed daemon pid %d with SIGKILL under load", old)
	time.Sleep(3 * time.Second)
	l.stop()
	t.Logf("requests: %d ok, %d retried once, %d failed after the retry", l.ok.Load(), l.retried.Load(), l.failed.Load())
	for _, e := range l.errs {
		t.Errorf("request failed after one retry: %s", e)
	}
	if s := isActive(svc); s != "active" {
		t.Errorf("service %q after kill -9", s)
	}
	if p := atoi(t, unitProp(t, svc, "MainPID")); p == old || p == 0 {
		t.Errorf("MainPID %d after kill -9 of %d", p, old)
	}
	if unitProp(t, sock, "ActiveEnterTimestampMonotonic") != sockSince || isActive(sock) != "active" {
		t.Errorf("the socket closed or restarted")
	}
	t.Logf("NRestarts=%s", unitProp(t, svc, "NRestarts"))
}

// ---- E1 ----

func checkSecurityScore(t *testing.T) {
	out, _ := ct.run(60*time.Second, "systemd-analyze security --no-pager "+svc)
	m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(svc) + `: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no score in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(m[1], 64)
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "✗") {
			bad = append(bad, strings.Join(strings.Fields(l), " "))
		}
	}
	t.Logf("systemd-analyze security %s: %.1f\n%s", svc, score, strings.Join(bad, "\n"))
	if score > 2.0 {
		t.Errorf("exposure %.1f > 2.0", score)
	}
}

// ---- F4 ----

// checkMissingToken: without the token file the service must not serve at
// all (LoadCredential= fails the start: 243/CREDENTIALS), and
// `dpkg-reconfigure roy-procwatch` (postinst) creates a new token and brings
// the socket back.
func checkMissingToken(t *testing.T) {
	old := token(t)
	ct.must(t, "systemctl stop roy-procwatch.service; cp -p /etc/roy-procwatch/token /root/token.bak; rm /etc/roy-procwatch/token")
	defer ct.run(20*time.Second, "test -e /etc/roy-procwatch/token || cp -p /root/token.bak /etc/roy-procwatch/token; rm -f /root/token.bak; systemctl reset-failed roy-procwatch.service roy-procwatch.socket; systemctl start roy-procwatch.socket")
	// The connection is never answered: systemd retries the start until the
	// rate limit; a short client timeout is enough to see that.
	req, _ := http.NewRequest("GET", baseURL+"/api/processes", nil)
	req.Header.Set("X-Auth-Token", old)
	quick := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := quick.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("served without a token file: %d", resp.StatusCode)
	}
	waitFor(t, "the start to fail", 10*time.Second, func() bool {
		out, _ := ct.run(5*time.Second, "systemctl show -P ExecMainStatus roy-procwatch.service")
		return strings.TrimSpace(out) == "243"
	})
	out := ct.must(t, "dpkg-reconfigure -f noninteractive roy-procwatch 2>&1; systemctl reset-failed roy-procwatch.service; systemctl is-active roy-procwatch.socket")
	t.Logf("dpkg-reconfigure: %s", out)
	tok := token(t)
	if tok == old || len(tok) != 64 {
		t.Errorf("no new token after dpkg-reconfigure")
	}
	waitFor(t, "the API with the new token", 10*time.Second, func() bool {
		code, _, err := api("GET", "/api/processes?q=init", tok, "")
		return err == nil && code == 200
	})
}

// ---- 8 ----

func checkUpgradePurge(t *testing.T) {
	tok, rtok := token(t), readToken(t)
	oldPID := daemonPID(t)
	sockSince := unitProp(t, sock, "ActiveEnterTimestampMonotonic")
	ver := ct.must(t, "dpkg-query -W -f='${Version}' roy-procwatch")
	newVer := ver + "+e2e1"
	up := repackWithVersion(t, os.Getenv("E2E_DEB"), newVer)
	if err := ct.copyIn(up, "root/roy-procwatch-up.deb"); err != nil {
		t.Fatal(err)
	}
	// Clients keep coming during the upgrade: none may be refused (no retry).
	l := startLoad(4, "/api/health", "", false, 20*time.Millisecond)
	out, err := ct.run(120*time.Second, "dpkg -i /root/roy-procwatch-up.deb 2>&1")
	time.Sleep(500 * time.Millisecond)
	l.stop()
	t.Logf("dpkg -i (upgrade %s -> %s):\n%s\nrequests during upgrade: %d ok, %d failed", ver, newVer, out, l.ok.Load(), l.failed.Load())
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if v := ct.must(t, "dpkg-query -W -f='${Version}' roy-procwatch"); v != newVer {
		t.Errorf("version %s after upgrade, want %s", v, newVer)
	}
	if l.failed.Load() != 0 {
		t.Errorf("%d requests refused during the upgrade: %v", l.failed.Load(), l.errs)
	}
	if token(t) != tok {
		t.Errorf("the upgrade changed the token")
	}
	if readToken(t) != rtok {
		t.Errorf("the upgrade changed the read-only token")
	}
	if st := ct.must(t, "stat -c '%a %U' /etc/roy-procwatch/token"); st != "600 root" {
		t.Errorf("token %s after upgrade", st)
	}
	if unitProp(t, sock, "ActiveEnterTimestampMonotonic") != sockSince || isActive(sock) != "active" {
		t.Errorf("the upgrade restarted or stopped the socket")
	}
	if p := unitProp(t, svc, "MainPID"); p == strconv.Itoa(oldPID) {
		t.Errorf("the running service was not try-restarted onto the new binary (MainPID %s)", p)
	}
	if code, _, err := api("GET", "/api/processes?q=init", tok, ""); err != nil || code != 200 {
		t.Errorf("after upgrade: %d %v", code, err)
	}

	out, err = ct.run(120*time.Second, "apt-get purge -y -o Dpkg::Use-Pty=0 roy-procwatch 2>&1")
	t.Logf("apt-get purge:\n%s", out)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	for _, f := range []string{"/lib/systemd/system/" + svc, "/lib/systemd/system/" + sock,
		"/etc/roy-procwatch/token", "/etc/roy-procwatch/read-token", "/etc/roy-procwatch", "/etc/default/roy-procwatch",
		"/usr/sbin/roy-procwatchd", "/var/lib/roy-procwatch",
		"/etc/systemd/system/sockets.target.wants/" + sock} {
		if _, err := ct.run(5*time.Second, "test -e "+f+" || test -L "+f); err == nil {
			t.Errorf("%s still exists after purge", f)
		}
	}
	if ss := ct.must(t, "ss -Hltn 'sport = :8088'"); ss != "" {
		t.Errorf("something still listens on 8088 after purge: %s", ss)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after purge", addr)
	}
	if out, _ := ct.run(5*time.Second, "pgrep -x roy-procwatchd"); strings.TrimSpace(out) != "" {
		t.Errorf("roy-procwatchd still running after purge: %s", out)
	}
	for _, u := range []string{svc, sock} {
		if s := isActive(u); s == "active" || s == "activating" {
			t.Errorf("%s %s after purge", u, s)
		}
	}
}

// repackWithVersion returns a copy of deb with a higher Version, to test a
// real upgrade (preinst/prerm upgrade, postinst configure <old>) quickly.
func repackWithVersion(t *testing.T, deb, version string) string {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if out, err := exec.Command("dpkg-deb", "-R", deb, tree).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -R: %v %s", err, out)
	}
	ctl := filepath.Join(tree, "DEBIAN", "control")
	b, err := os.ReadFile(ctl)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^Version: .*$`).ReplaceAll(b, []byte("Version: "+version))
	if err := os.WriteFile(ctl, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "up.deb")
	if o, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "-b", tree, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -b: %v %s", err, o)
	}
	return out
}
