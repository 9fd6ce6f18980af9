package procs

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// summaryLines returns the refusal summary lines of the audit file.
func summaryLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	recs, _ := testproc.JSONLines(t, path, 0)
	var out []map[string]any
	for _, rec := range recs {
		if rec["msg"] == "authentication refused" || rec["msg"] == "calls refused" {
			out = append(out, rec)
		}
	}
	return out
}

// TestRefusalSummary: a flood of refusals from many goroutines becomes one
// line per (transport, kind, reason, remote) and window, whose counts add
// up to the refusals, however they fall across windows; Close writes what
// is pending; nothing is counted after it.
func TestRefusalSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s := newCore(t, Options{AuditFile: path, RefusalWindow: 30 * time.Millisecond})
	const perWorker, workers = 250, 8
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				s.AuthFailed("http", "wrong token", "127.0.0.1")
				if w == 0 {
					s.CallRefused("dbus", "too many calls in progress", ":1.42")
				}
				if i%25 == 0 {
					time.Sleep(10 * time.Millisecond) // spread over several windows
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	s.Close()
	s.AuthFailed("http", "wrong token", "127.0.0.1") // after Close: ignored

	counts := map[string]int{}
	lines := map[string]int{}
	for _, rec := range summaryLines(t, path) {
		k := fmt.Sprint(rec["caller"], "/", rec["action"], "/", rec["arg"], "/", rec["remote"])
		counts[k] += int(rec["count"].(float64))
		lines[k]++
		if rec["window"] != "30ms" || !strings.Contains(rec["summary"].(string), "in the last 30ms") {
			t.Errorf("summary line %v", rec)
		}
	}
	if got := counts["http/authenticate/wrong token/127.0.0.1"]; got != perWorker*workers {
		t.Errorf("failed authentications counted %d, want %d (%v)", got, perWorker*workers, counts)
	}
	if got := counts["dbus/call/too many calls in progress/:1.42"]; got != perWorker {
		t.Errorf("refused calls counted %d, want %d (%v)", got, perWorker, counts)
	}
	// One line per key and window: at most one per window elapsed, plus
	// the one Close wrote.
	maxLines := int(elapsed/(30*time.Millisecond)) + 2
	for k, n := range lines {
		if n > maxLines {
			t.Errorf("%s: %d lines in %v, want at most %d", k, n, elapsed, maxLines)
		}
	}
	if lines["http/authenticate/wrong token/127.0.0.1"] < 2 {
		t.Errorf("the flood was spread over %v but wrote %d line(s): windows not cut", elapsed, lines["http/authenticate/wrong token/127.0.0.1"])
	}
}

// TestRefusalSummaryBounded: refusals from more remotes than one window
// keeps apart are counted under "(others)", so one window writes a
// bounded number of lines whatever the callers do.
func TestRefusalSummaryBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s := newCore(t, Options{AuditFile: path, RefusalWindow: time.Hour})
	for i := range 1000 {
		s.AuthFailed("dbus", "cannot identify the caller", fmt.Sprintf(":1.%d", i))
	}
	s.Close()
	recs := summaryLines(t, path)
	if len(recs) != maxRefusalKeys {
		t.Fatalf("%d lines, want %d", len(recs), maxRefusalKeys)
	}
	total := 0
	for _, rec := range recs {
		total += int(rec["count"].(float64))
		if rec["remote"] == "(others)" && rec["count"] != float64(1000-maxRefusalKeys+1) {
			t.Errorf("(others) line %v", rec)
		}
	}
	if total != 1000 {
		t.Errorf("counted %d refusals, want 1000", total)
	}
}
