package httpui

// Benchmarks for the list endpoint's encoding. Run them with
//
//	go test -run '^$' -bench . -benchmem ./httpui/
//
// They time nothing that can fail the build.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/procfs/procfstest"
)

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
	items := procfstest.Processes(2000)
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
	h := New(benchCore{procfstest.Processes(2000)}, Options{
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
