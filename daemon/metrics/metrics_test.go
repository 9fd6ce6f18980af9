package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// fixed is a snapshot the test controls (the listener cap and labels need
// exact inputs; the real core is used below for everything else).
type fixed []procs.Process

func (f fixed) Snapshot(context.Context) ([]procs.Process, time.Time, error) {
	return f, time.Unix(1700000000, 0), nil
}

func port(proto, local, status string, remote *string) procs.Port {
	_, p, _ := net.SplitHostPort(local)
	n, _ := strconv.Atoi(p)
	return procs.Port{Type: proto, Local: local, Status: status, Remote: remote, LocalPort: n}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestListenersDedupCapAndUnits(t *testing.T) {
	peer := "10.0.0.1:5555"
	snap := fixed{
		{PID: 10, Name: "nginx", Unit: "nginx.service", Status: "sleeping", Username: "root", Threads: 1, OpenFilesCount: 5, Ports: []procs.Port{
			port("tcp", "0.0.0.0:80", "LISTEN", nil),
			port("tcp", "[::]:80", "LISTEN", nil),
			port("tcp", "10.0.0.2:80", "ESTABLISHED", &peer), // not a listener
		}},
		// A worker sharing the same sockets: the same series.
		{PID: 11, Name: "nginx", Unit: "nginx.service", Status: "sleeping", Username: "www-data", Threads: 1, OpenFilesCount: 3, Ports: []procs.Port{
			port("tcp", "0.0.0.0:80", "LISTEN", nil),
		}},
		{PID: 20, Name: "dnsmasq", Unit: "dnsmasq.service", Status: "running", Username: "", UID: 4242, Threads: 2, Ports: []procs.Port{
			port("udp", "127.0.0.1:53", "NONE", nil),
			port("udp", "127.0.0.1:40000", "NONE", &peer), // connected: a client
		}},
		{PID: 30, Name: "zombie", Status: "zombie", Username: "root"},
	}
	m := New(Options{Snapshot: snap, MaxListenSeries: 2})
	text := scrape(t, m)
	for _, want := range []string{
		`roy_procwatch_listen_info{address="127.0.0.1",comm="dnsmasq",port="53",proto="udp",unit="dnsmasq.service"} 1`,
		`roy_procwatch_listen_info{address="0.0.0.0",comm="nginx",port="80",proto="tcp",unit="nginx.service"} 1`,
		`roy_procwatch_listen_series 3`,
		`roy_procwatch_listen_info_dropped_total 1`,
		`roy_procwatch_unit_listening_ports{unit="nginx.service"} 2`,
		`roy_procwatch_unit_listening_ports{unit="dnsmasq.service"} 1`,
		`roy_procwatch_processes{state="sleeping"} 2`,
		`roy_procwatch_processes{state="zombie"} 1`,
		`roy_procwatch_processes{state="disk-sleep"} 0`,
		`roy_procwatch_user_processes{user="root"} 2`,
		`roy_procwatch_user_processes{user="4242"} 1`,
		`roy_procwatch_threads 4`,
		`roy_procwatch_open_files 8`,
		`roy_procwatch_snapshot_timestamp_seconds 1.7e+09`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	// The cap keeps the lowest ports: [::]:80 (sorted after 0.0.0.0) is dropped.
	if strings.Contains(text, `address="::"`) || strings.Contains(text, `port="40000"`) || strings.Contains(text, "ESTABLISHED") {
		t.Errorf("unexpected listen_info series:\n%s", text)
	}
	// Dropped series add up over scrapes.
	if !strings.Contains(scrape(t, m), "roy_procwatch_listen_info_dropped_total 2\n") {
		t.Error("dropped counter did not grow on the second scrape")
	}
	// No top series unless asked.
	if strings.Contains(text, "top_process") {
		t.Error("top-N series without ROY_PROCWATCH_METRICS_TOP")
	}
}

func TestTopN(t *testing.T) {
	snap := fixed{
		{PID: 1, Name: "a", CPUPercent: 150, MemoryRSS: 1 << 20},
		{PID: 2, Name: "b", Unit: "db.service", CPUPercent: 1, MemoryRSS: 900 << 20},
		{PID: 3, Name: "c", CPUPercent: 0, MemoryRSS: 2 << 20},
	}
	m := New(Options{Snapshot: snap, Top: 1})
	text := scrape(t, m)
	for _, want := range []string{
		`roy_procwatch_top_process_cpu_usage_ratio{comm="a",pid="1",unit=""} 1.5`,
		`roy_procwatch_top_process_resident_memory_bytes{comm="b",pid="2",unit="db.service"} 9.437184e+08`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s in\n%s", want, text)
		}
	}
	if strings.Contains(text, `pid="3"`) {
		t.Error("process 3 is in neither top 1")
	}
}

// slow is a Source that outlives its budget, then tries to send.
type slow struct{ sent chan struct{} }

var slowDesc = prometheus.NewDesc("roy_procwatch_test_slow", "test", nil, nil)

func (s *slow) Describe(ch chan<- *prometheus.Desc) { ch <- slowDesc }
func (s *slow) Collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	<-ctx.Done()
	ch <- prometheus.MustNewConstMetric(slowDesc, prometheus.GaugeValue, 1) // late: dropped, not blocking
	close(s.sent)
	return ctx.Err()
}

type failing struct{}

var failDesc = prometheus.NewDesc("roy_procwatch_test_partial", "test", nil, nil)

func (failing) Describe(ch chan<- *prometheus.Desc) { ch <- failDesc }
func (failing) Collect(_ context.Context, ch chan<- prometheus.Metric) error {
	ch <- prometheus.MustNewConstMetric(failDesc, prometheus.GaugeValue, 7)
	return errors.New("half way")
}

func TestCollectorBudgetAndErrors(t *testing.T) {
	m := New(Options{Timeout: 100 * time.Millisecond})
	s := &slow{sent: make(chan struct{})}
	m.Add("slow", s)
	m.Add("failing", failing{})
	start := time.Now()
	text := scrape(t, m)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("scrape took %v with a 100ms budget", d)
	}
	for _, want := range []string{
		`roy_procwatch_scrape_collector_success{collector="slow"} 0`,
		`roy_procwatch_scrape_collector_success{collector="failing"} 0`,
		`roy_procwatch_scrape_errors_total{collector="slow"} 1`,
		`roy_procwatch_scrape_errors_total{collector="failing"} 1`,
		`roy_procwatch_test_partial 7`, // what came before the error is kept
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s in\n%s", want, text)
		}
	}
	select {
	case <-s.sent:
	case <-time.After(5 * time.Second):
		t.Error("the late source stayed blocked")
	}
}

// With the real core: counts match the core's own snapshot, the hooks
// count, and the exposition lints clean.
func TestRealCore(t *testing.T) {
	var m *Metrics
	core, err := procs.New(procs.Options{
		SnapshotTTL: time.Hour,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnSnapshot:  func(d time.Duration) { m.ObserveSnapshot(d) },
		OnAction:    func(a, r string) { m.ObserveAction(a, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lport := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	m = New(Options{Snapshot: core, Version: "9.9", SSEClients: func() int { return 3 }})
	m.ObserveRequest("GET /metrics", 200)
	m.ObserveRequest("", 421)
	m.AuthFailed("invalid")
	m.DBusCall()
	_, _ = core.Signal(context.Background(), procs.Caller{Name: "t", UID: 65534}, procs.Target{PID: 1}, "CONT")

	ps, _, err := core.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	text := scrape(t, m)
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "roy_procwatch_processes{"); ok {
			c, _ := strconv.Atoi(v[strings.LastIndexByte(v, ' ')+1:])
			n += c
		}
	}
	if n != len(ps) {
		t.Errorf("sum of roy_procwatch_processes = %d, snapshot has %d", n, len(ps))
	}
	for _, want := range []string{
		`roy_procwatch_listen_info{address="127.0.0.1",comm="metrics.test",port="` + lport + `",proto="tcp",unit="`,
		`roy_procwatch_build_info{version="9.9"} 1` + "\n",
		`roy_procwatch_sse_clients 3` + "\n",
		`roy_procwatch_http_requests_total{code="200",route="GET /metrics"} 1` + "\n",
		`roy_procwatch_http_requests_total{code="421",route="other"} 1` + "\n",
		`roy_procwatch_auth_failures_total{reason="invalid"} 1` + "\n",
		`roy_procwatch_dbus_calls_total 1` + "\n",
		`roy_procwatch_actions_total{action="signal",result="AccessDenied"} 1` + "\n",
		`roy_procwatch_snapshot_duration_seconds_count 1` + "\n",
		"go_goroutines ", "process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q", want)
		}
	}
	problems, err := testutil.GatherAndLint(m.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// OpenMetrics when the scraper asks for it.
func TestOpenMetrics(t *testing.T) {
	m := New(Options{Snapshot: fixed{{PID: 1, Name: "init", Status: "sleeping"}}})
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(rec.Body.String(), "# EOF\n") {
		t.Errorf("content type %q, body ends %q", ct, rec.Body.String()[max(0, rec.Body.Len()-10):])
	}
	var nilM *Metrics // hooks are safe before the metrics exist
	nilM.ObserveRequest("x", 200)
	nilM.AuthFailed("invalid")
	nilM.ObserveAction("signal", "ok")
	nilM.ObserveSnapshot(time.Second)
	nilM.DBusCall()
	_ = http.StatusOK
}

func TestUnits(t *testing.T) {
	u64 := func(v uint64) *uint64 { return &v }
	calls := 0
	m := New(Options{})
	m.AddUnits(UnitListerFunc(func(context.Context) ([]UnitStat, error) {
		calls++
		if calls == 2 {
			return nil, errors.New("systemd went away")
		}
		return []UnitStat{
			{Name: "nginx.service", Active: "failed", Restarts: 3, CPUNSec: u64(2_500_000_000), MemoryBytes: u64(1 << 20), Tasks: u64(4)},
			{Name: "ssh.service", Active: "active"}, // no accounting
		}, nil
	}))
	text := scrape(t, m)
	for _, want := range []string{
		`roy_procwatch_unit_state{state="failed",unit="nginx.service"} 1`,
		`roy_procwatch_unit_state{state="active",unit="nginx.service"} 0`,
		`roy_procwatch_unit_state{state="active",unit="ssh.service"} 1`,
		`roy_procwatch_unit_cpu_seconds_total{unit="nginx.service"} 2.5`,
		`roy_procwatch_unit_memory_bytes{unit="nginx.service"} 1.048576e+06`,
		`roy_procwatch_unit_tasks{unit="nginx.service"} 4`,
		`roy_procwatch_unit_restarts_total{unit="nginx.service"} 3`,
		`roy_procwatch_unit_restarts_total{unit="ssh.service"} 0`,
		`roy_procwatch_scrape_collector_success{collector="units"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(text, `roy_procwatch_unit_memory_bytes{unit="ssh.service"}`) {
		t.Error("a figure systemd did not report is exported")
	}
	text = scrape(t, m)
	for _, want := range []string{
		`roy_procwatch_scrape_collector_success{collector="units"} 0`,
		`roy_procwatch_scrape_errors_total{collector="units"} 1`,
		`roy_procwatch_build_info{version=""} 1`, // the rest of the scrape is there
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("after a failure: missing %s", want)
		}
	}
}

func TestHost(t *testing.T) {
	m := New(Options{})
	m.AddHost(HostReaderFunc(func(context.Context) (HostStat, error) {
		return HostStat{
			CPUSeconds:       map[string]float64{"user": 12.5, "idle": 100},
			MemoryTotalBytes: 8 << 30, MemoryAvailableBytes: 6 << 30, MemoryUsedBytes: 2 << 30,
			SwapTotalBytes: 1 << 30, SwapUsedBytes: 0,
			Load:         [3]float64{0.5, 0.25, 0.125},
			TasksRunning: 2, TasksBlocked: 1, Threads: 321,
		}, nil
	}))
	text := scrape(t, m)
	for _, want := range []string{
		`roy_procwatch_host_cpu_seconds_total{mode="user"} 12.5`,
		`roy_procwatch_host_cpu_seconds_total{mode="idle"} 100`,
		`roy_procwatch_host_memory_total_bytes 8.589934592e+09`,
		`roy_procwatch_host_memory_available_bytes 6.442450944e+09`,
		`roy_procwatch_host_memory_used_bytes 2.147483648e+09`,
		`roy_procwatch_host_swap_total_bytes 1.073741824e+09`,
		`roy_procwatch_host_swap_used_bytes 0`,
		`roy_procwatch_host_load1 0.5`,
		`roy_procwatch_host_load15 0.125`,
		`roy_procwatch_host_tasks{state="running"} 2`,
		`roy_procwatch_host_tasks{state="blocked"} 1`,
		`roy_procwatch_host_threads 321`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	problems, err := testutil.GatherAndLint(m.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
