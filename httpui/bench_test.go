package httpui

// Benchmarks for the list endpoint's encoding. Run them with
//
//	go test -run '^$' -bench . -benchmem ./httpui/
//
// They time nothing that can fail the build.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// benchItems returns n processes shaped like a busy host's list items.
func benchItems(n int) []procs.Process {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"sleep", "bash", "sshd", "nginx", "postgres", "python3", "systemd", "node"}
	users := []string{"root", "www-data", "postgres", "roy", "nobody"}
	out := make([]procs.Process, n)
	for i := range out {
		name := names[r.IntN(len(names))]
		out[i] = procs.Process{
			PID:            1000 + i,
			PPID:           1 + r.IntN(1000),
			Name:           name,
			Exe:            "/usr/bin/" + name,
			Username:       users[r.IntN(len(users))],
			Status:         "sleeping",
			CreateTime:     1.7e9 + float64(r.IntN(1e6)) + 0.37,
			CreateTimeISO:  "2026-11-29T01:02:03",
			CPUPercent:     float64(r.IntN(300)) / 100,
			MemoryRSS:      uint64(r.IntN(200<<20)) &^ 4095,
			Nice:           r.IntN(5),
			Threads:        1 + r.IntN(8),
			Cmdline:        []string{"/usr/bin/" + name, "--config", fmt.Sprintf("/etc/%s/%d.conf", name, i)},
			Ports:          []procs.Port{},
			OpenFilesCount: r.IntN(20),
		}
		if i%4 == 0 {
			remote := fmt.Sprintf("127.0.0.1:%d", 40000+i)
			out[i].Ports = []procs.Port{
				{Local: fmt.Sprintf("127.0.0.1:%d", 20000+i), Status: "LISTEN", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 20000 + i},
				{Local: fmt.Sprintf("127.0.0.1:%d", 20000+i), Remote: &remote, Status: "ESTABLISHED", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 20000 + i},
			}
		}
	}
	return out
}

// benchCore serves a fixed list; only List is used.
type benchCore struct{ items []procs.Process }

func (c benchCore) List(context.Context, procs.Caller, procs.ListOptions) ([]procs.Process, error) {
	return c.items, nil
}
func (benchCore) Get(context.Context, procs.Caller, procs.Target) (procs.Detail, error) {
	return procs.Detail{}, nil
}
func (benchCore) Signal(context.Context, procs.Caller, procs.Target, string) (string, error) {
	return "", nil
}
func (benchCore) Renice(context.Context, procs.Caller, procs.Target, int) error { return nil }
func (benchCore) Restart(context.Context, procs.Caller, procs.Target) (procs.RestartResult, error) {
	return procs.RestartResult{}, nil
}
func (benchCore) Signals() []string { return nil }

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the encoding rather than a recorder's buffer.
type discardWriter struct {
	h http.Header
	n int64
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return len(p), nil
}
func (d *discardWriter) WriteHeader(int) {}

// BenchmarkEncodeList is writeJSON of the list response for 2,000 items:
// what /api/processes spends after the core has answered.
func BenchmarkEncodeList(b *testing.B) {
	items := benchItems(2000)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.n = 0
		writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "items": items})
	}
	b.SetBytes(w.n)
}

// BenchmarkListHandler is the whole GET /api/processes path (guards, token
// check, routing, encoding) over a core that answers at once.
func BenchmarkListHandler(b *testing.B) {
	h := New(benchCore{benchItems(2000)}, Options{
		Token:       "bench-token",
		ListenAddrs: []string{"127.0.0.1:8088"},
		Logger:      nil,
	})
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8088/api/processes", nil)
	req.Header.Set("X-Auth-Token", "bench-token")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.n = 0
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	if w.n < 1000 {
		b.Fatalf("short response (%d bytes)", w.n)
	}
	b.SetBytes(w.n)
}
