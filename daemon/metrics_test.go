package main

// GET /metrics and the read-only token, against the real daemon: Debian's
// prometheus scrapes it with the read token from a credentials_file and
// its HTTP API is queried; promtool lints a scrape and the shipped rules.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

	"github.com/roy/roy-procwatch/internal/testproc"
)

const readTok = "read-only-0123456789abcdef0123456789abcdef"

// get makes one request with the given headers and returns the status and
// body.
func (d *daemon) get(method, path string, hdr map[string]string) (int, string) {
	d.t.Helper()
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, "http://"+d.addr+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	return res.StatusCode, string(b)
}

// statOf returns the state letter and nice value of pid from /proc.
func statOf(t *testing.T, pid int) (byte, int) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	nice, _ := strconv.Atoi(f[16])
	return f[0][0], nice
}

// metricValue finds one sample in a text exposition ("name{labels}" as
// printed, or a bare name) and returns its value.
func metricValue(text, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

func TestReadOnlyToken(t *testing.T) {
	dir := t.TempDir()
	readFile := filepath.Join(dir, "read-token")
	if err := os.WriteFile(readFile, []byte(readTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startStandalone(t, "ROY_PROCWATCH_READ_TOKEN_FILE="+readFile)
	child := testproc.Sleeper(t)
	pid := strconv.Itoa(child.PID)
	ro := map[string]string{"X-Auth-Token": readTok}

	// Every GET (and the event ticket) works with the read-only token.
	for _, path := range []string{"/api/processes", "/api/processes?format=csv", "/api/process/" + pid, "/api/signals", "/api/meta",
		"/api/system", "/api/system/history", "/api/process/" + pid + "/history", "/metrics", "/"} {
		if code, body := d.get("GET", path, ro); code != 200 {
			t.Errorf("GET %s with the read-only token: %d %s", path, code, body)
		}
	}
	code, body := d.get("POST", "/api/events/ticket", ro)
	var tk struct{ Ticket string }
	if code != 200 || json.Unmarshal([]byte(body), &tk) != nil || tk.Ticket == "" {
		t.Fatalf("POST /api/events/ticket with the read-only token: %d %s", code, body)
	}
	for _, u := range []string{"/api/events?ticket=" + url.QueryEscape(tk.Ticket), "/api/events"} {
		hdr := map[string]string{}
		if !strings.Contains(u, "ticket") {
			hdr = ro
		}
		req, _ := http.NewRequest("GET", "http://"+d.addr+u, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(res.Body).ReadString('\n')
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") || line == "" {
			t.Errorf("GET %s (read-only): %d %q %q", u, res.StatusCode, res.Header.Get("Content-Type"), line)
		}
	}

	// The services view answers the read-only token as it answers the admin
	// token (503 without systemd as PID 1, 200 with it).
	for _, path := range []string{"/api/services", "/api/service/ssh.service", "/api/service/ssh.service/journal"} {
		ca, _ := d.get("GET", path, map[string]string{"X-Auth-Token": d.token})
		cr, body := d.get("GET", path, ro)
		if cr != ca || cr == 401 || cr == 403 {
			t.Errorf("GET %s: read-only %d (%s), admin %d", path, cr, body, ca)
		}
	}

	// The detail hides the environment from the read-only token only.
	if _, m := d.call("GET", "/api/process/"+pid, "", readTok); m["environ"] != nil {
		t.Errorf("read-only detail has an environment: %v", m["environ"])
	}
	if _, m := d.api("GET", "/api/process/"+pid, ""); m["environ"] == nil {
		t.Errorf("admin detail has no environment")
	}

	// Every action is refused with 403, naming the admin token, and
	// changes nothing.
	st0, nice0 := statOf(t, child.PID)
	for _, a := range []struct{ path, body string }{
		{"/api/process/" + pid + "/signal", `{"signal":"STOP"}`},
		{"/api/process/" + pid + "/signal", `{"signal":"KILL"}`},
		{"/api/process/" + pid + "/renice", `{"nice":15}`},
		{"/api/process/" + pid + "/restart", ``},
		{"/api/service/ssh.service/restart", ``},
		{"/api/service/ssh.service/stop", ``},
		{"/api/service/ssh.service/disable", ``},
	} {
		code, m := d.call("POST", a.path, a.body, readTok)
		msg, _ := m["error"].(string)
		if code != 403 || m["code"] != "read_only_token" || !strings.Contains(msg, "admin token") {
			t.Errorf("POST %s %s with the read-only token: %d %v", a.path, a.body, code, m)
		}
	}
	if st, nice := statOf(t, child.PID); st != st0 || nice != nice0 || child.Exited(0) {
		t.Errorf("the refused actions changed the process: state %c→%c nice %d→%d exited=%v", st0, st, nice0, nice, child.Exited(0))
	}
	// The admin token still acts.
	if code, m := d.api("POST", "/api/process/"+pid+"/renice", `{"nice":7}`); code != 200 {
		t.Errorf("renice with the admin token: %d %v", code, m)
	}
	if _, nice := statOf(t, child.PID); nice != 7 {
		t.Errorf("nice after the admin renice: %d", nice)
	}

	// A wrong token is 401, on reads and on /metrics, as X-Auth-Token or Bearer.
	for _, c := range []struct {
		path string
		hdr  map[string]string
		want int
	}{
		{"/api/processes", map[string]string{"X-Auth-Token": readTok + "x"}, 401},
		{"/metrics", map[string]string{"X-Auth-Token": "wrong"}, 401},
		{"/metrics", map[string]string{"Authorization": "Bearer wrong"}, 401},
		{"/metrics", nil, 401},
		// Bearer works on /metrics only, with either token.
		{"/metrics", map[string]string{"Authorization": "Bearer " + readTok}, 200},
		{"/metrics", map[string]string{"Authorization": "bearer " + d.token}, 200},
		{"/api/processes", map[string]string{"Authorization": "Bearer " + readTok}, 401},
		{"/api/processes", map[string]string{"Authorization": "Bearer " + d.token}, 401},
		{"/api/process/" + pid, map[string]string{"Authorization": "Bearer " + d.token}, 401},
	} {
		if code, body := d.get("GET", c.path, c.hdr); code != c.want {
			t.Errorf("GET %s %v: %d, want %d (%s)", c.path, c.hdr, code, c.want, body)
		}
	}
	if code, _ := d.get("POST", "/api/process/"+pid+"/signal", map[string]string{"Authorization": "Bearer " + d.token}); code != 401 {
		t.Errorf("POST signal with a Bearer admin token: %d, want 401", code)
	}

	// The refusals are counted.
	_, text := d.get("GET", "/metrics", ro)
	if v, _ := metricValue(text, `roy_procwatch_auth_failures_total{reason="read_only"}`); v != 7 {
		t.Errorf("read_only failures = %v, want 7", v)
	}
	if v, _ := metricValue(text, `roy_procwatch_auth_failures_total{reason="invalid"}`); v < 7 {
		t.Errorf("invalid failures = %v, want >= 7", v)
	}
	if v, _ := metricValue(text, `roy_procwatch_actions_total{action="renice",result="ok"}`); v != 1 {
		t.Errorf(`actions_total{renice,ok} = %v, want 1`, v)
	}
	if v, _ := metricValue(text, `roy_procwatch_http_requests_total{code="403",route="POST /api/process/{pid}/signal"}`); v != 2 {
		t.Errorf("requests {403, signal} = %v, want 2", v)
	}

	// SIGHUP reloads the read-only token.
	if err := os.WriteFile(readFile, []byte("second-"+readTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(d.stderr.String(), "read-only token reloaded") })
	if code, _ := d.get("GET", "/metrics", map[string]string{"Authorization": "Bearer second-" + readTok}); code != 200 {
		t.Errorf("new read-only token after SIGHUP: %d", code)
	}
	if code, _ := d.get("GET", "/api/processes", ro); code != 401 {
		t.Errorf("old read-only token after SIGHUP: %d", code)
	}
	// The admin token as read token is refused (and the old one kept).
	if err := os.WriteFile(readFile, []byte(d.token), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the failed reload", func() bool { return strings.Contains(d.stderr.String(), "read-only token reload failed") })
	if code, _ := d.get("GET", "/api/processes", map[string]string{"X-Auth-Token": "second-" + readTok}); code != 200 {
		t.Errorf("read-only token after a failed reload: %d", code)
	}
	if strings.Contains(d.stderr.String(), readTok) || strings.Contains(d.stdout.String(), readTok) {
		t.Error("the read-only token is in the output")
	}
}

// prometheus runs Debian's prometheus scraping the daemon every second
// with the read-only token from a credentials_file, and returns a query
// function on its HTTP API.
func startPrometheus(t *testing.T, target, tokenFile string) (query func(q string) []promSample, api string) {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus; scripts/test-deps.sh does it)")
	}
	dir := t.TempDir()
	rules, err := filepath.Abs("../packaging/prometheus/roy-procwatch.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: roy-procwatch
    authorization:
      type: Bearer
      credentials_file: %s
    file_sd_configs:
      - files: [%s]
`, rules, tokenFile, filepath.Join(dir, "targets.yml"))
	if err := os.WriteFile(filepath.Join(dir, "targets.yml"), []byte("- targets: ['"+target+"']\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testproc.FreePort(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--log.level=warn")
	out := &testproc.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := testproc.Start(t, cmd)
	t.Cleanup(func() {
		_ = c.Kill()
		c.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out)
		}
	})
	api = "http://127.0.0.1:" + strconv.Itoa(port) + "/api/v1"
	return func(q string) []promSample {
		t.Helper()
		res, err := client.Get(api + "/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil // not up yet
		}
		defer res.Body.Close()
		var r struct {
			Status string
			Data   struct{ Result []promSample }
		}
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil || r.Status != "success" {
			return nil
		}
		return r.Data.Result
	}, api
}

type promSample struct {
	Metric map[string]string
	Value  [2]any // [time, "value"]
}

func (s promSample) value() float64 {
	v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	return v
}

func TestPrometheusScrape(t *testing.T) {
	// A listener the scrape must show, opened before the daemon's first
	// snapshot; the long TTL makes the scrapes and the list below read the
	// same snapshot, so their counts must be equal.
	lis := testproc.Helper(t, "listen4")
	_, lport, _ := strings.Cut(strings.TrimSpace(lis.Line), ":")
	comm, _ := os.ReadFile("/proc/" + strconv.Itoa(lis.PID) + "/comm")
	tokFile := filepath.Join(t.TempDir(), "read-token")
	if err := os.WriteFile(tokFile, []byte(readTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A listener on every address, outside the shipped rules' allow-list.
	wide, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	widePort := strconv.Itoa(wide.Addr().(*net.TCPAddr).Port)
	d := startStandalone(t, "ROY_PROCWATCH_READ_TOKEN="+readTok, "ROY_PROCWATCH_SNAPSHOT_TTL=10min")
	query, promAPI := startPrometheus(t, d.addr, tokFile)

	testproc.PollEvery(t, 60*time.Second, 200*time.Millisecond, "two scrapes", func() bool {
		r := query(`count_over_time(up{job="roy-procwatch"}[5m])`)
		return len(r) == 1 && r[0].value() >= 2
	})
	if r := query(`up{job="roy-procwatch"}`); len(r) != 1 || r[0].value() != 1 {
		t.Fatalf("up = %+v, want 1", r)
	}
	code, list := d.call("GET", "/api/processes", "", readTok)
	if code != 200 {
		t.Fatalf("list: %d", code)
	}
	count := list["count"].(float64)
	for _, q := range []string{`sum(roy_procwatch_processes)`, `sum(roy_procwatch_user_processes)`} {
		if r := query(q); len(r) != 1 || r[0].value() != count {
			t.Errorf("%s = %+v, want the list count %v", q, r, count)
		}
	}
	r := query(`roy_procwatch_listen_info{port="` + lport + `"}`)
	if len(r) != 1 || r[0].Metric["comm"] != strings.TrimSpace(string(comm)) || r[0].Metric["proto"] != "tcp" ||
		r[0].Metric["address"] != "127.0.0.1" || r[0].value() != 1 {
		t.Errorf("listen_info for port %s = %+v, want comm %q", lport, r, comm)
	}
	if r := query(`roy_procwatch_scrape_collector_success`); len(r) < 1 {
		t.Errorf("collector success series: %+v", r)
	} else {
		for _, s := range r {
			if s.value() != 1 {
				t.Errorf("collector %s failed", s.Metric["collector"])
			}
		}
	}
	// The host figures, against /proc/meminfo.
	memTotal := 0.0
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				memTotal = kb * 1024
			}
		}
	}
	if r := query(`roy_procwatch_host_memory_total_bytes`); len(r) != 1 || r[0].value() != memTotal {
		t.Errorf("host memory total = %+v, want %v", r, memTotal)
	}
	if r := query(`roy_procwatch_host_cpu_seconds_total{mode="idle"}`); len(r) != 1 || r[0].value() <= 0 {
		t.Errorf("host idle CPU seconds: %+v", r)
	}
	if r := query(`roy_procwatch_scrape_collector_success{collector="host"}`); len(r) != 1 || r[0].value() != 1 {
		t.Errorf("host collector: %+v", r)
	}

	// Counted once answered: the latest scrape shows the ones before it.
	if r := query(`roy_procwatch_http_requests_total{route="GET /metrics",code="200"}`); len(r) != 1 || r[0].value() < 1 {
		t.Errorf("scrapes counted: %+v", r)
	}

	// The shipped rules, evaluated by Prometheus on the live data: the wide
	// listener is an unexpected one (pending: the rule waits 2 minutes), the
	// daemon is not down, and the loopback test listener is allowed.
	type alert struct {
		Labels map[string]string
		State  string
	}
	var alerts []alert
	testproc.PollEvery(t, 30*time.Second, 200*time.Millisecond, "the unexpected-listener alert", func() bool {
		res, err := client.Get(promAPI + "/alerts")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var r struct{ Data struct{ Alerts []alert } }
		if json.NewDecoder(res.Body).Decode(&r) != nil {
			return false
		}
		alerts = r.Data.Alerts
		for _, a := range alerts {
			if a.Labels["alertname"] == "RoyProcwatchUnexpectedListener" && a.Labels["port"] == widePort {
				return true
			}
		}
		return false
	})
	for _, a := range alerts {
		switch {
		case a.Labels["alertname"] == "RoyProcwatchUnexpectedListener" && a.Labels["port"] == widePort:
			if a.Labels["address"] != "0.0.0.0" || a.State != "pending" {
				t.Errorf("unexpected-listener alert: %+v", a)
			}
		case a.Labels["alertname"] == "RoyProcwatchUnexpectedListener" && a.Labels["port"] == lport:
			t.Errorf("the loopback listener is alerted: %+v", a)
		case a.Labels["alertname"] == "RoyProcwatchDown":
			t.Errorf("the daemon is alerted as down: %+v", a)
		}
	}

	// Prometheus asks for OpenMetrics first: the scrapes above were in it.
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+readTok)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	om, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/openmetrics-text") || !strings.HasSuffix(string(om), "# EOF\n") {
		t.Errorf("OpenMetrics answer: %q, ends %q", res.Header.Get("Content-Type"), om[max(0, len(om)-20):])
	}

	// promtool lints the text format (2.42's linter reads only that one).
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool missing next to prometheus")
	}
	_, text := d.get("GET", "/metrics", map[string]string{"Authorization": "Bearer " + readTok})
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if !strings.Contains(text, "roy_procwatch_listen_info{") {
		t.Error("no listen_info in the scrape")
	}
}

// TestPrometheusRules checks the shipped rules and runs their unit tests.
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus; scripts/test-deps.sh does it)")
	}
	dir := "../packaging/prometheus"
	for _, args := range [][]string{
		{"check", "rules", "roy-procwatch.rules.yml"},
		{"test", "rules", "roy-procwatch.rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The example configuration is valid once its rule file exists.
	cfg, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Join(dir, "roy-procwatch.rules.yml"))
	tmp := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(string(cfg), "/etc/prometheus/rules/roy-procwatch.rules.yml", abs)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", "--syntax-only", tmp).CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

// TestTunnelHostAllowList is the documented SSH tunnel consequence: a
// forward from another local port sends that port in Host and gets 421,
// until the name is in ROY_PROCWATCH_ALLOWED_HOSTS.
func TestTunnelHostAllowList(t *testing.T) {
	for _, allow := range []bool{false, true} {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		tunnel := l.Addr().String()
		var env []string
		if allow {
			env = append(env, "ROY_PROCWATCH_ALLOWED_HOSTS="+tunnel)
		}
		d := startStandalone(t, env...)
		go func() { // a port forward, like ssh -L
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					up, err := net.Dial("tcp", d.addr)
					if err != nil {
						return
					}
					defer up.Close()
					go io.Copy(up, c)
					_, _ = io.Copy(c, up)
				}()
			}
		}()
		req, _ := http.NewRequest("GET", "http://"+tunnel+"/api/processes", nil)
		req.Header.Set("X-Auth-Token", d.token)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := map[bool]int{false: http.StatusMisdirectedRequest, true: 200}[allow]
		if res.StatusCode != want {
			t.Errorf("through a tunnel on %s (allowed=%v): %d, want %d", tunnel, allow, res.StatusCode, want)
		}
	}
}
