package httpui

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestSystemRoutes is the contract of the host overview routes: shapes,
// bad input, methods and the token.
func TestSystemRoutes(t *testing.T) {
	h, _ := newRealHandler(t, Options{})

	w := do(t, h, req{path: "/api/system"})
	wantStatus(t, w, 200)
	m := decode(t, w)
	for _, k := range []string{"hostname", "os", "kernel", "uptime_s", "boot_time", "cpu", "load", "memory", "swap",
		"tasks", "net", "disks", "filesystems", "pressure"} {
		if _, ok := m[k]; !ok {
			t.Errorf("/api/system lacks %q", k)
		}
	}
	cpu := m["cpu"].(map[string]any)
	if n := len(cpu["per_core"].([]any)); n != runtime.NumCPU() {
		t.Errorf("per_core has %d entries, want %d", n, runtime.NumCPU())
	}
	for _, k := range []string{"percent", "user", "system", "iowait", "steal"} {
		if _, ok := cpu[k].(float64); !ok {
			t.Errorf("cpu.%s missing", k)
		}
	}
	if l := m["load"].([]any); len(l) != 3 {
		t.Errorf("load = %v", l)
	}
	for _, k := range []string{"total", "running", "blocked", "threads"} {
		if _, ok := m["tasks"].(map[string]any)[k]; !ok {
			t.Errorf("tasks.%s missing", k)
		}
	}

	w = do(t, h, req{path: "/api/system/history"})
	wantStatus(t, w, 200)
	hist := decode(t, w)
	pts := hist["points"].([]any)
	if hist["interval_s"] != 1.0 || len(pts) == 0 {
		t.Fatalf("history = %v", hist)
	}
	last := pts[len(pts)-1].(map[string]any)
	for _, k := range []string{"time", "cpu", "cores", "mem_percent", "swap_percent", "load1", "net_rx_bps", "disk_read_bps"} {
		if _, ok := last[k]; !ok {
			t.Errorf("history point lacks %q", k)
		}
	}
	ts, _ := time.Parse(time.RFC3339Nano, last["time"].(string))
	for _, since := range []string{strconv.FormatInt(ts.Unix()+1, 10), ts.Add(time.Millisecond).Format(time.RFC3339Nano)} {
		w = do(t, h, req{path: "/api/system/history?since=" + since})
		wantStatus(t, w, 200)
		for _, p := range decode(t, w)["points"].([]any) {
			if pt, _ := time.Parse(time.RFC3339Nano, p.(map[string]any)["time"].(string)); !pt.After(ts) {
				t.Errorf("since=%s returned a point at %s", since, pt)
			}
		}
	}

	for _, tt := range []struct {
		r    req
		code int
		msg  string
	}{
		{req{path: "/api/system/history?since=yesterday"}, 400, "invalid since"},
		{req{path: "/api/system/history?since=-5"}, 400, "invalid since"},
		{req{path: "/api/system/history?since=NaN"}, 400, "invalid since"},
		{req{path: "/api/process/abc/history"}, 400, "invalid pid"},
		{req{path: "/api/process/0/history"}, 400, "invalid pid"},
		{req{path: "/api/process/1/history?create_time=x"}, 400, "invalid create_time"},
		{req{path: "/api/system", noToken: true}, 401, ""},
		{req{path: "/api/system/history", noToken: true}, 401, ""},
		{req{path: "/api/process/1/history", noToken: true}, 401, ""},
		{req{method: "POST", path: "/api/system"}, 405, "not allowed"},
		{req{method: "DELETE", path: "/api/system/history"}, 405, "not allowed"},
		{req{method: "POST", path: "/api/process/1/history"}, 405, "not allowed"},
	} {
		w := do(t, h, tt.r)
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.msg) {
			t.Errorf("%s %s: %d %s, want %d with %q", tt.r.method, tt.r.path, w.Code, w.Body.String(), tt.code, tt.msg)
		}
		if code, _ := decode(t, w)["code"].(string); tt.code == 400 && strings.ReplaceAll(strings.ToLower(code), "_", "") != "invalidargument" {
			t.Errorf("%s: code %v, want invalid_argument", tt.r.path, decode(t, w)["code"])
		}
	}
	dead := testproc.Sleeper(t)
	dd, err := realCore(t).Get(context.Background(), procs.Caller{Privileged: true}, procs.Target{PID: dead.PID})
	if err != nil {
		t.Fatal(err)
	}
	_ = dead.Kill()
	dead.Wait()
	pid, ct := dead.PID, dd.CreateTime
	w = do(t, h, req{path: "/api/process/" + strconv.Itoa(pid) + "/history"})
	wantStatus(t, w, 404)
	w = do(t, h, req{path: "/api/process/" + strconv.Itoa(pid) + "/history?create_time=" + strconv.FormatFloat(ct, 'f', -1, 64)})
	if w.Code != 404 && w.Code != 409 {
		t.Errorf("history of an exited process: %d", w.Code)
	}
}

// TestProcessHistoryAndExtras: a busy child gets CPU and RSS samples at
// each snapshot (each list), and its detail has the extras.
func TestProcessHistoryAndExtras(t *testing.T) {
	h, _ := newRealHandler(t, Options{})
	c := testproc.Start(t, exec.Command("sh", "-c", "while :; do :; done")).ReapInBackground()
	path := "/api/process/" + strconv.Itoa(c.PID)
	for range 3 {
		wantStatus(t, do(t, h, req{path: "/api/processes?q=" + strconv.Itoa(c.PID)}), 200)
		time.Sleep(300 * time.Millisecond)
	}
	w := do(t, h, req{path: path + "/history"})
	wantStatus(t, w, 200)
	var s struct {
		PID     int `json:"pid"`
		Samples []struct {
			Time string  `json:"time"`
			CPU  float64 `json:"cpu_percent"`
			RSS  uint64  `json:"memory_rss"`
		} `json:"samples"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.PID != c.PID || len(s.Samples) < 3 {
		t.Fatalf("history = %s", w.Body.String())
	}
	// The first sample may catch the child between fork and exec; the
	// later ones see it spin (on a loaded host it gets a small share).
	busy := false
	for _, p := range s.Samples[1:] {
		busy = busy || p.CPU > 2
	}
	if !busy || s.Samples[len(s.Samples)-1].RSS == 0 {
		t.Errorf("a spinning child with no CPU or no RSS in its history: %s", w.Body.String())
	}

	w = do(t, h, req{path: path})
	wantStatus(t, w, 200)
	ex, ok := decode(t, w)["extras"].(map[string]any)
	if !ok {
		t.Fatalf("detail without extras: %s", w.Body.String())
	}
	for _, k := range []string{"io", "ctx_switches", "cpu_times", "limits", "oom_score", "oom_score_adj"} {
		if _, ok := ex[k]; !ok {
			t.Errorf("extras.%s missing", k)
		}
	}
	if u := ex["cpu_times"].(map[string]any)["user"].(float64); u <= 0 {
		t.Errorf("a spinning child has user time %v", u)
	}
	found := false
	for _, l := range ex["limits"].([]any) {
		l := l.(map[string]any)
		if l["resource"] == "nofile" && l["soft"].(float64) > 0 && l["used"].(float64) >= 3 {
			found = true
		}
	}
	if !found {
		t.Errorf("no nofile limit with its use: %v", ex["limits"])
	}
	// The list has memory_percent.
	w = do(t, h, req{path: "/api/processes?q=" + strconv.Itoa(c.PID)})
	var item map[string]any
	for _, it := range decode(t, w)["items"].([]any) {
		if m := it.(map[string]any); m["pid"] == float64(c.PID) {
			item = m
		}
	}
	if item == nil {
		t.Fatalf("pid %d not in the list: %s", c.PID, w.Body.String())
	}
	if mp, ok := item["memory_percent"].(float64); !ok || mp <= 0 || mp >= 100 {
		t.Errorf("memory_percent = %v", item["memory_percent"])
	}
}

// TestEventsCarrySystem: the stream sends "event: system" with the host
// figures at each interval.
func TestEventsCarrySystem(t *testing.T) {
	srv, _ := serve(t, realCore(t), "secret")
	res := send(t, srv, "GET", "/api/events?interval=1", "secret")
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	systems := 0
	deadline := time.AfterFunc(10*time.Second, func() { res.Body.Close() })
	defer deadline.Stop()
	for systems < 2 && sc.Scan() {
		if sc.Text() != "event: system" {
			continue
		}
		if !sc.Scan() || !strings.HasPrefix(sc.Text(), "data: ") {
			t.Fatalf("system event without data: %q", sc.Text())
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(sc.Text(), "data: ")), &m); err != nil || m["cpu"] == nil {
			t.Fatalf("system event data: %v %.200s", err, sc.Text())
		}
		systems++
	}
	if systems < 2 {
		t.Errorf("%d system events, want one per interval", systems)
	}
}
