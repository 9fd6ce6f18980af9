package httpui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// fakeCore serves scripted snapshots; the other methods are unused.
type fakeCore struct {
	mu    sync.Mutex
	snaps [][]procs.Process
	taken []time.Time // optional, per snapshot
	i     int
}

func (f *fakeCore) List(context.Context, procs.Caller, procs.ListOptions) ([]procs.Process, error) {
	return nil, nil
}
func (f *fakeCore) Get(context.Context, procs.Caller, procs.Target) (procs.Detail, error) {
	return procs.Detail{}, nil
}
func (f *fakeCore) Signal(context.Context, procs.Caller, procs.Target, string) (string, error) {
	return "", nil
}
func (f *fakeCore) Renice(context.Context, procs.Caller, procs.Target, int) error { return nil }
func (f *fakeCore) Restart(context.Context, procs.Caller, procs.Target) (procs.RestartResult, error) {
	return procs.RestartResult{}, nil
}
func (f *fakeCore) Signals() []string { return []string{"TERM"} }
func (f *fakeCore) Snapshot(context.Context) ([]procs.Process, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := min(f.i, len(f.snaps)-1)
	f.i++
	if k < len(f.taken) {
		return f.snaps[k], f.taken[k], nil
	}
	return f.snaps[k], time.Now(), nil
}

func proc(pid int, name string, cpu float64) procs.Process {
	return procs.Process{PID: pid, PPID: 1, Name: name, CPUPercent: cpu, CreateTime: float64(pid), Cmdline: []string{name}, Ports: []procs.Port{}}
}

func TestTicketsSingleUseAndExpiry(t *testing.T) {
	tk := newTickets()
	now := time.Now()
	tk.now = func() time.Time { return now }
	a, err := tk.issue()
	if err != nil || len(a) < 40 {
		t.Fatalf("issue: %q %v", a, err)
	}
	if !tk.redeem(a) {
		t.Fatal("fresh ticket refused")
	}
	if tk.redeem(a) {
		t.Fatal("ticket accepted twice")
	}
	b, _ := tk.issue()
	now = now.Add(ticketTTL + time.Second)
	if tk.redeem(b) {
		t.Fatal("expired ticket accepted")
	}
	if tk.redeem("") || tk.redeem("nope") {
		t.Fatal("unknown ticket accepted")
	}
	for range maxTickets + 10 {
		if _, err := tk.issue(); err != nil {
			t.Fatal(err)
		}
	}
	if len(tk.m) > maxTickets {
		t.Fatalf("%d tickets kept, max %d", len(tk.m), maxTickets)
	}
}

func TestComputeDelta(t *testing.T) {
	prev := []procs.Process{proc(1, "init", 0), proc(2, "a", 1), proc(3, "b", 0)}
	cur := []procs.Process{proc(1, "init", 0), proc(2, "a", 5), proc(4, "c", 0)}
	cur[0].Ports = []procs.Port{{Local: "127.0.0.1:80", Status: "LISTEN", Type: "tcp", LocalPort: 80}}
	a, rm, ch := computeDelta(prev, cur)
	if len(a) != 1 || a[0].PID != 4 {
		t.Errorf("added = %+v", a)
	}
	if len(rm) != 1 || rm[0] != 3 {
		t.Errorf("removed = %v", rm)
	}
	if len(ch) != 2 || ch[0]["pid"] != 1 || ch[0]["ports"] == nil || ch[1]["cpu_percent"] != 5.0 || len(ch[1]) != 2 {
		t.Errorf("changed = %v", ch)
	}
	// A reused PID (new create_time) is removed and added.
	reused := proc(2, "a2", 0)
	reused.CreateTime = 99
	a, rm, _ = computeDelta(cur, []procs.Process{cur[0], reused, cur[2]})
	if len(a) != 1 || a[0].Name != "a2" || len(rm) != 1 || rm[0] != 2 {
		t.Errorf("reuse: added %v removed %v", a, rm)
	}
}

func TestParseInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 3 * time.Second, "1": time.Second, "2.5": 2500 * time.Millisecond, "60": time.Minute} {
		if got, err := parseInterval(in); err != nil || got != want {
			t.Errorf("parseInterval(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"0", "0.5", "61", "x", "NaN", "-3"} {
		if _, err := parseInterval(in); err == nil {
			t.Errorf("parseInterval(%q) accepted", in)
		}
	}
}

type sse struct {
	name string
	data string
}

func readEvents(t *testing.T, sc *bufio.Scanner, n int) []sse {
	t.Helper()
	var out []sse
	var cur sse
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
				if len(out) == n {
					return out
				}
			}
			cur = sse{}
		case strings.HasPrefix(line, "event: "):
			cur.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	t.Fatalf("stream ended after %d events: %v", len(out), sc.Err())
	return nil
}

func TestEventsStream(t *testing.T) {
	var idle []procs.Process // unchanged processes, so deltas stay deltas
	for pid := 100; pid < 110; pid++ {
		idle = append(idle, proc(pid, "idle", 0))
	}
	fc := &fakeCore{snaps: [][]procs.Process{
		append([]procs.Process{proc(1, "init", 0), proc(2, "a", 1)}, idle...),
		append([]procs.Process{proc(1, "init", 0), proc(2, "a", 2), proc(7, "<img src=x>", 0)}, idle...),
		append([]procs.Process{proc(1, "init", 0), proc(7, "<img src=x>", 0)}, idle...),
	}}
	srv, h := serve(t, fc, "secret")

	get := func(path string, hdr map[string]string, method string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// No credentials, a token in the URL, a bad ticket: 401.
	for _, p := range []string{"/api/events", "/api/events?token=secret", "/api/events?ticket=bogus"} {
		if res := get(p, nil, "GET"); res.StatusCode != 401 {
			t.Errorf("%s: %d, want 401", p, res.StatusCode)
		}
	}
	if res := get("/api/events/ticket", nil, "POST"); res.StatusCode != 401 {
		t.Errorf("ticket without token: %d", res.StatusCode)
	}
	if res := get("/api/events?interval=0.1", map[string]string{"X-Auth-Token": "secret"}, "GET"); res.StatusCode != 400 {
		t.Errorf("interval 0.1: %d, want 400", res.StatusCode)
	}
	res := get("/api/events/ticket", map[string]string{"X-Auth-Token": "secret"}, "POST")
	var tk struct {
		Ticket    string `json:"ticket"`
		ExpiresIn int    `json:"expires_in"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tk); err != nil || tk.Ticket == "" || tk.ExpiresIn != 30 {
		t.Fatalf("ticket: %+v %v", tk, err)
	}
	res = get("/api/events?interval=1&ticket="+tk.Ticket, nil, "GET")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	defer res.Body.Close()
	if res := get("/api/events?ticket="+tk.Ticket, nil, "GET"); res.StatusCode != 401 {
		t.Errorf("ticket reused: %d, want 401", res.StatusCode)
	}
	evs := readEvents(t, bufio.NewScanner(res.Body), 3)
	if evs[0].name != "snapshot" || evs[1].name != "delta" || evs[2].name != "delta" {
		t.Fatalf("events: %v", evs)
	}
	var s Snapshot
	_ = json.Unmarshal([]byte(evs[0].data), &s)
	if s.Count != 12 || len(s.Items) != 12 || s.Seq != 1 {
		t.Errorf("snapshot: %+v", s)
	}
	var d1, d2 Delta
	_ = json.Unmarshal([]byte(evs[1].data), &d1)
	_ = json.Unmarshal([]byte(evs[2].data), &d2)
	if d1.Base != 1 || d1.Seq != 2 || len(d1.Added) != 1 || d1.Added[0].Name != "<img src=x>" || len(d1.Changed) != 1 || len(d1.Removed) != 0 {
		t.Errorf("delta 1: %+v", d1)
	}
	if d2.Base != 2 || len(d2.Removed) != 1 || d2.Removed[0] != 2 || len(d2.Added) != 0 {
		t.Errorf("delta 2: %+v", d2)
	}
	// Shutdown ends the stream (http.Server.Shutdown would wait otherwise).
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, res.Body); done <- err }()
	h.CloseStreams()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the stream did not end after CloseStreams")
	}
	if res := get("/api/events", map[string]string{"X-Auth-Token": "secret"}, "GET"); res.StatusCode != 503 {
		t.Errorf("a stream after CloseStreams: %d, want 503", res.StatusCode)
	}
}

// TestDeltaBytesQuietHost measures an update for a quiet 2,000-process
// host: the real /proc snapshot padded to 2,000 processes, then a tick in
// which 1% of the processes change CPU%, 0.5% change RSS, one starts and
// one exits. It logs the full JSON list against the delta event.
func TestDeltaBytesQuietHost(t *testing.T) {
	core, err := procs.New(procs.Options{})
	if err != nil {
		t.Skip("no core:", err)
	}
	real, _, err := core.Snapshot(context.Background())
	if err != nil || len(real) == 0 {
		t.Skip("no snapshot:", err)
	}
	prev := make([]procs.Process, 0, 2000)
	for i := 0; len(prev) < 2000; i++ {
		p := real[i%len(real)]
		p.PID = 100000 + i
		p.CreateTime += float64(i)
		prev = append(prev, p)
	}
	cur := make([]procs.Process, 0, len(prev))
	for i, p := range prev[1:] { // one exits
		if i%100 == 0 {
			p.CPUPercent += 0.7
		}
		if i%200 == 0 {
			p.MemoryRSS += 4096
		}
		cur = append(cur, p)
	}
	np := real[0]
	np.PID, np.CreateTime = 200000, 1
	cur = append(cur, np) // one starts

	full, _ := json.Marshal(map[string]any{"count": len(cur), "items": cur})
	a, rm, ch := computeDelta(prev, cur)
	d, _ := json.Marshal(Delta{Seq: 2, Base: 1, Time: time.Now().Format(time.RFC3339Nano), Count: len(cur), Added: a, Removed: rm, Changed: ch})
	var ev bytes.Buffer
	sseEvent(&ev, "delta", "2", d)
	t.Logf("quiet 2,000-process host: full JSON list %d bytes, SSE delta event %d bytes (%d changed, %d added, %d removed): %.1f%%",
		len(full), ev.Len(), len(ch), len(a), len(rm), 100*float64(ev.Len())/float64(len(full)))
	if ev.Len()*20 > len(full) {
		t.Errorf("delta %d bytes is more than 5%% of the full list (%d)", ev.Len(), len(full))
	}
}

// An unchanged core snapshot (cache TTL longer than the interval) sends a
// comment, not an empty delta, and the sequence stays continuous.
func TestEventsSkipUnchangedSnapshot(t *testing.T) {
	t0 := time.Now()
	var idle []procs.Process
	for pid := 100; pid < 110; pid++ {
		idle = append(idle, proc(pid, "idle", 0))
	}
	a := append([]procs.Process{proc(1, "init", 0)}, idle...)
	b := append([]procs.Process{proc(1, "init", 3)}, idle...)
	fc := &fakeCore{snaps: [][]procs.Process{a, a, b}, taken: []time.Time{t0, t0, t0.Add(time.Second)}}
	srv, _ := serve(t, fc, "secret")
	res := send(t, srv, "GET", "/api/events?interval=1", "secret")
	sc := bufio.NewScanner(res.Body)
	var lines []string
	evs := 0
	for sc.Scan() && evs < 2 {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "event: ") {
			evs++
		}
	}
	for sc.Scan() { // the rest of the second event
		if sc.Text() == "" {
			break
		}
		lines = append(lines, sc.Text())
	}
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "\n:\n") && !strings.HasPrefix(all, ":") {
		t.Errorf("no keep-alive comment for the unchanged snapshot:\n%s", all)
	}
	if !strings.Contains(all, `"seq":2,"base":1`) {
		t.Errorf("the delta after the comment does not follow seq 1:\n%s", all)
	}
}
