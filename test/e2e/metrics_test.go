//go:build e2e

package e2e

// The read-only token and GET /metrics in the booted container: postinst
// made the read token, a scrape (Bearer, as Prometheus sends it) starts
// the socket-activated daemon, actions are refused, and docs/metrics.md's
// curl examples run as written.

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func readToken(t *testing.T) string {
	t.Helper()
	return ct.must(t, "cat /etc/roy-procwatch/read-token")
}

// scrape GETs /metrics from the host with the given headers.
func scrape(hdr map[string]string) (int, string, error) {
	req, err := http.NewRequest("GET", baseURL+"/metrics", nil)
	if err != nil {
		return 0, "", err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

func checkMetrics(t *testing.T) {
	rt := readToken(t)
	if st := ct.must(t, "stat -c '%a %U %G' /etc/roy-procwatch/read-token"); st != "600 root root" {
		t.Errorf("read-token mode/owner %q, want 600 root root", st)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(rt) || rt == token(t) {
		t.Errorf("the read token is not 32 random bytes in hex distinct from the admin token")
	}

	// A scrape of the idle, socket-activated daemon starts it.
	ct.must(t, "systemctl stop "+svc)
	code, text, err := scrape(map[string]string{"Authorization": "Bearer " + rt})
	if err != nil || code != 200 {
		t.Fatalf("scrape with the read token: %d %v %.300s", code, err, text)
	}
	if s := isActive(svc); s != "active" {
		t.Errorf("%s is %q after a scrape, want active (socket activation)", svc, s)
	}
	for _, re := range []string{
		`(?m)^roy_procwatch_processes\{state="sleeping"\} [1-9]`,
		// PID 1 holds the HTTP socket.
		`(?m)^roy_procwatch_listen_info\{address="127\.0\.0\.1",comm="systemd",port="8088",proto="tcp",unit="init\.scope"\} 1$`,
		`(?m)^roy_procwatch_scrape_collector_success\{collector="processes"\} 1$`,
		`(?m)^roy_procwatch_scrape_collector_success\{collector="host"\} 1$`,
		`(?m)^roy_procwatch_host_memory_total_bytes [1-9]`,
		`(?m)^process_start_time_seconds `,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("scrape lacks %s", re)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not on the host: lint skipped (scripts/test-deps.sh installs prometheus)")
	}
	for _, c := range []struct {
		path, hdr, val string
		want           int
	}{
		{"/metrics", "Authorization", "Bearer " + strings.Repeat("0", 64), 401},
		{"/metrics", "X-Auth-Token", rt, 200},
		{"/api/processes?q=init", "X-Auth-Token", rt, 200},
		{"/api/processes?q=init", "Authorization", "Bearer " + rt, 401},
	} {
		req, _ := http.NewRequest("GET", baseURL+c.path, nil)
		req.Header.Set(c.hdr, c.val)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("GET %s with %s: %d, want %d", c.path, c.hdr, res.StatusCode, c.want)
		}
	}
	// Actions with the read token: 403, nothing done.
	ct.must(t, "systemctl stop e2e-ro.service 2>/dev/null; systemd-run --quiet --collect --unit=e2e-ro sleep 10000")
	defer ct.run(10*time.Second, "systemctl stop e2e-ro.service 2>/dev/null")
	pid := unitProp(t, "e2e-ro.service", "MainPID")
	for _, a := range []struct{ path, body string }{
		{"/api/process/" + pid + "/signal", `{"signal":"KILL"}`},
		{"/api/process/" + pid + "/renice", `{"nice":10}`},
		{"/api/process/" + pid + "/restart", ``},
		{"/api/service/e2e-ro.service/restart", ``},
		{"/api/service/e2e-ro.service/stop", ``},
	} {
		code, b, err := api("POST", a.path, rt, a.body)
		if err != nil || code != 403 || !strings.Contains(string(b), `"code":"read_only_token"`) {
			t.Errorf("POST %s with the read token: %d %v %s", a.path, code, err, b)
		}
	}
	if p := unitProp(t, "e2e-ro.service", "MainPID"); p != pid {
		t.Errorf("the read token's refused actions changed the unit: MainPID %s -> %s", pid, p)
	}
	// The unit starts at the manager's nice (not 0 when the e2e itself
	// runs under nice).
	if ni, base := ct.must(t, "ps -o ni= -p "+pid), ct.must(t, "ps -o ni= -p 1"); strings.TrimSpace(ni) != strings.TrimSpace(base) {
		t.Errorf("nice %q after a refused renice, the manager's %q", ni, base)
	}
	if code, b, err := api("GET", "/api/services", rt, ""); err != nil || code != 200 || !strings.Contains(string(b), `"e2e-ro.service"`) {
		t.Errorf("GET /api/services with the read token: %d %v %.200s", code, err, b)
	}
	// The per-unit metrics of the services view.
	_, text, _ = scrape(map[string]string{"Authorization": "Bearer " + rt})
	for _, re := range []string{
		`(?m)^roy_procwatch_unit_state\{state="active",unit="e2e-ro\.service"\} 1$`,
		`(?m)^roy_procwatch_unit_state\{state="failed",unit="e2e-ro\.service"\} 0$`,
		`(?m)^roy_procwatch_unit_restarts_total\{unit="e2e-ro\.service"\} 0$`,
		`(?m)^roy_procwatch_scrape_collector_success\{collector="units"\} 1$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("scrape lacks %s", re)
		}
	}
	// A unit action with the admin token is counted, whatever systemd
	// answers for this transient unit.
	if code, b, err := api("POST", "/api/service/e2e-ro.service/restart", token(t), ""); err != nil || code == 401 || code == 403 {
		t.Errorf("admin unit restart: %d %v %.200s", code, err, b)
	}
	_, text, _ = scrape(map[string]string{"Authorization": "Bearer " + rt})
	if !regexp.MustCompile(`(?m)^roy_procwatch_actions_total\{action="unit-restart",result="[A-Za-z_]+"\} 1$`).MatchString(text) {
		t.Error(`scrape lacks roy_procwatch_actions_total{action="unit-restart",result=…} 1`)
	}

	// The daemon's own counters: a D-Bus call and the refusals above.
	ct.must(t, "busctl call org.roy.ProcWatch1 /org/roy/ProcWatch1 org.roy.ProcWatch1.Manager ListProcesses sss init pid asc >/dev/null")
	_, text, _ = scrape(map[string]string{"Authorization": "Bearer " + rt})
	for _, re := range []string{
		`(?m)^roy_procwatch_dbus_calls_total [1-9]`,
		`(?m)^roy_procwatch_auth_failures_total\{reason="read_only"\} 5$`,
		`(?m)^roy_procwatch_http_requests_total\{code="403",route="POST /api/process/\{pid\}/signal"\} 1$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("scrape lacks %s", re)
		}
	}

	// docs/metrics.md's curl examples, literally.
	checkDocCurlExamples(t)
	// An emptied read-token disables it; the service still starts (a
	// missing file would fail LoadCredential=).
	ct.must(t, "cp -p /etc/roy-procwatch/read-token /root/read-token.bak; : > /etc/roy-procwatch/read-token; systemctl restart "+svc)
	restore := func() {
		ct.run(20*time.Second, "cp -p /root/read-token.bak /etc/roy-procwatch/read-token; rm -f /root/read-token.bak; systemctl restart "+svc)
	}
	code, _, err = api("GET", "/api/processes?q=init", rt, "")
	if err != nil || code != 401 {
		t.Errorf("the read token after emptying its file: %d %v, want 401", code, err)
	}
	if code, _, err := api("GET", "/api/processes?q=init", token(t), ""); err != nil || code != 200 {
		t.Errorf("the admin token with an empty read-token file: %d %v", code, err)
	}
	restore()
	if code, _, err := api("GET", "/api/processes?q=init", rt, ""); err != nil || code != 200 {
		t.Errorf("the read token restored: %d %v", code, err)
	}

	// The token is never logged.
	if out, _ := ct.run(20*time.Second, "journalctl -u "+svc+" --no-pager | grep -c -e "+rt+" -e $(cat /etc/roy-procwatch/token)"); strings.TrimSpace(out) != "0" {
		t.Errorf("a token is in the journal (%s lines)", out)
	}
}

// checkDocCurlExamples runs the bash blocks of docs/metrics.md with curl in
// them inside the container (READ_TOKEN from the file).
func checkDocCurlExamples(t *testing.T) {
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile("(?ms)^([ \t]*)```bash\n(.*?)^[ \t]*```").FindAllStringSubmatch(string(b), -1) {
		var lines []string
		for _, l := range strings.Split(m[2], "\n") {
			lines = append(lines, strings.TrimPrefix(l, m[1]))
		}
		blk := strings.TrimSpace(strings.Join(lines, "\n"))
		if !strings.Contains(blk, "curl ") {
			continue
		}
		n++
		out, err := ct.run(30*time.Second, "READ_TOKEN=$(cat /etc/roy-procwatch/read-token)\ncd /tmp\n"+blk)
		t.Logf("docs/metrics.md block:\n%s\n-> %.300s", blk, out)
		switch {
		case err != nil:
			t.Errorf("docs/metrics.md block failed: %v\n%s", err, blk)
		case strings.Contains(blk, "-X POST"):
			if !strings.Contains(out, `"code":"read_only_token"`) {
				t.Errorf("the read-only POST example: %.300s", out)
			}
		case strings.TrimSpace(out) == "":
			t.Errorf("docs/metrics.md block printed nothing:\n%s", blk)
		}
	}
	if n < 3 {
		t.Errorf("ran only %d curl examples of docs/metrics.md", n)
	}
}
