package host

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestRingWraps(t *testing.T) {
	r := newRing(3)
	t0 := time.Unix(1000, 0)
	if got := r.since(time.Time{}); len(got) != 0 {
		t.Fatalf("empty ring gave %d points", len(got))
	}
	for i := range 5 {
		r.push(Point{Time: t0.Add(time.Duration(i) * time.Second), CPU: float32(i)})
	}
	got := r.since(time.Time{})
	if len(got) != 3 || got[0].CPU != 2 || got[1].CPU != 3 || got[2].CPU != 4 {
		t.Fatalf("after 5 pushes into 3: %+v, want CPU 2,3,4 oldest first", got)
	}
	got = r.since(t0.Add(3 * time.Second))
	if len(got) != 1 || got[0].CPU != 4 {
		t.Fatalf("since t0+3s: %+v, want only CPU 4", got)
	}
}

func TestProcessHistoryWrapsAndDropsExited(t *testing.T) {
	h := newProcHistory(4)
	t0 := time.Unix(2000, 0)
	for i := range 6 {
		ps := []ProcSample{{PID: 10, CreateTime: 1.5, CPUPercent: float64(i), MemoryRSS: uint64(i) << 20}}
		if i < 3 {
			ps = append(ps, ProcSample{PID: 11, CreateTime: 2.5, CPUPercent: 99})
		}
		h.record(t0.Add(time.Duration(i)*time.Second), ps)
	}
	s, ok := h.get(10, 1.5)
	if !ok || len(s.Samples) != 4 {
		t.Fatalf("pid 10: ok=%v %+v", ok, s)
	}
	for i, p := range s.Samples {
		want := float32(i + 2)
		if p.CPUPercent != want || p.MemoryRSS != uint64(i+2)<<20 || !p.Time.Equal(t0.Add(time.Duration(i+2)*time.Second)) {
			t.Errorf("sample %d = %+v, want cpu %v oldest first", i, p, want)
		}
	}
	if _, ok := h.get(11, 2.5); ok {
		t.Error("pid 11 left the snapshots but its history stayed")
	}
	if _, ok := h.get(10, 9.9); ok {
		t.Error("a reused PID (other create time) got the old process's history")
	}
	if h.len() != 1 {
		t.Errorf("%d series kept, want 1", h.len())
	}
}

// TestSamplingStopsWithoutDemand: sampling runs while someone asked in
// the last Demand, then the goroutine ends (an idle daemon costs nothing).
func TestSamplingStopsWithoutDemand(t *testing.T) {
	s := New(Options{Interval: 20 * time.Millisecond, Demand: 150 * time.Millisecond, Keep: time.Second})
	defer s.Close()
	if s.Sampling() {
		t.Fatal("sampling before any request")
	}
	if _, err := s.Current(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.Sampling() {
		t.Fatal("not sampling after a request")
	}
	// The goroutine samples on its own, with no further request.
	s.mu.Lock()
	s.demand = time.Now()
	s.mu.Unlock()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.hist.since(time.Time{}))
		s.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d points after 2 s at 20 ms", n)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for s.Sampling() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s.Sampling() {
		t.Fatal("still sampling with no request for longer than Demand")
	}
	n := len(s.History(time.Time{}).Points) // History is a request: restarts
	if !s.Sampling() {
		t.Error("History did not count as a request")
	}
	if n > 50 {
		t.Errorf("ring kept %d points, Keep/Interval is 50", n)
	}
}

func TestProcessExtrasSelf(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex, err := s.ProcessExtras(context.Background(), os.Getpid(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var nofile *Limit
	for i := range ex.Limits {
		if ex.Limits[i].Resource == "nofile" {
			nofile = &ex.Limits[i]
		}
	}
	if nofile == nil || nofile.Used == nil || *nofile.Used < 4 || nofile.Soft <= 0 {
		t.Errorf("nofile limit %+v", nofile)
	}
	for _, l := range ex.Limits {
		if l.Resource == "nproc" && l.Used != nil {
			t.Errorf("nproc use reported (%d) although gopsutil does not measure it", *l.Used)
		}
	}
	if ex.CtxSwitches.Voluntary+ex.CtxSwitches.Involuntary == 0 {
		t.Error("no context switches")
	}
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	_ = f.Sync()
	time.Sleep(minRateInterval + 50*time.Millisecond)
	ex2, err := s.ProcessExtras(context.Background(), os.Getpid(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ex2.IO.WriteBytes < ex.IO.WriteBytes {
		t.Errorf("write bytes went back: %d → %d", ex.IO.WriteBytes, ex2.IO.WriteBytes)
	}
	if ex2.IO.WriteBytes > ex.IO.WriteBytes && ex2.IO.WriteBps == 0 {
		t.Errorf("wrote %d bytes but write_bps is 0", ex2.IO.WriteBytes-ex.IO.WriteBytes)
	}
	if _, err := s.ProcessExtras(context.Background(), 1<<30, 1); err == nil {
		t.Error("no error for a PID that does not exist")
	}
}

// BenchmarkReading is one fresh reading of the live host (what a request
// to /api/system costs when no sample from the last second is at hand).
func BenchmarkReading(b *testing.B) {
	s := New(Options{})
	defer s.Close()
	if _, err := s.Snapshot(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.mu.Lock()
		if _, err := s.sampleLocked(); err != nil {
			b.Fatal(err)
		}
		s.mu.Unlock()
	}
}

// BenchmarkRecordProcesses is the per-process history's cost at each
// snapshot of 2,000 processes.
func BenchmarkRecordProcesses(b *testing.B) {
	h := newProcHistory(120)
	ps := make([]ProcSample, 2000)
	for i := range ps {
		ps[i] = ProcSample{PID: i + 1, CreateTime: float64(i), CPUPercent: 1.5, MemoryRSS: 10 << 20}
	}
	b.ReportAllocs()
	t := time.Now()
	for b.Loop() {
		t = t.Add(time.Second)
		h.record(t, ps)
	}
}
