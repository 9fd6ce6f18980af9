package httpui

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestAuthFailuresAudited (issue 8 item 14): a flood of bad credentials
// over real connections is audited as summary lines, one per reason and
// window, whose counts add up to the requests refused (401 and 429
// alike); no token, right or wrong, and no ticket appears in the audit
// file or in any log; the valid token still gets in.
func TestAuthFailuresAudited(t *testing.T) {
	const window = 150 * time.Millisecond
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.log")
	var logs testproc.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	core, err := procs.New(procs.Options{AuditFile: auditPath, RefusalWindow: window, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	const readToken = "read-only-token-do-not-log"
	h := New(core, Options{Token: testToken, ReadToken: readToken, ListenAddrs: []string{testHost}, Logger: log})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	secret := "bad-token-do-not-log"
	send := func(path string, hdr map[string]string) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Host = testHost
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	want := map[string]int{}
	statuses := map[int]int{}
	start := time.Now()
	for i := range 300 {
		statuses[send("/api/processes", map[string]string{"X-Auth-Token": fmt.Sprintf("%s-%d", secret, i)})]++
		want["wrong token"]++
		if i%10 == 0 {
			statuses[send("/api/signals", nil)]++
			want["missing token"]++
			statuses[send("/api/events?ticket="+secret+"-ticket", nil)]++
			want["invalid event ticket"]++
			statuses[send("/api/signals", map[string]string{"X-Auth-Token": strings.Repeat(secret, 20)})]++
			want["token header too long"]++
			time.Sleep(window / 5) // the flood lasts several windows
		}
	}
	elapsed := time.Since(start)
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusUnauthorized] == 0 || statuses[http.StatusBadRequest] != 30 {
		t.Fatalf("answers %v: the flood did not meet the limiter, or a refusal was missed", statuses)
	}
	if c := send("/api/signals", map[string]string{"X-Auth-Token": testToken}); c != 200 {
		t.Fatalf("the valid token after the flood: %d", c)
	}
	// Actions asked with the read-only token are refused before the
	// core: counted as refused actions.
	for range 5 {
		req, _ := http.NewRequest("POST", srv.URL+"/api/process/1/signal", strings.NewReader(`{"signal":"CONT"}`))
		req.Host = testHost
		req.Header.Set("X-Auth-Token", readToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("an action with the read-only token: %d, want 403", res.StatusCode)
		}
	}

	// The lines come when each window ends, without waiting for Close.
	total := 0
	for _, n := range want {
		total += n
	}
	var recs []map[string]any
	testproc.Poll(t, 5*time.Second, "the summary lines of every refusal", func() bool {
		recs = authSummaries(t, auditPath)
		n := 0
		for _, r := range recs {
			n += int(r["count"].(float64))
		}
		return n >= total
	})
	got, lines := map[string]int{}, map[string]int{}
	for _, r := range recs {
		if r["caller"] != "http" || r["action"] != "authenticate" || r["remote"] != "127.0.0.1" || r["result"] != "AccessDenied" {
			t.Errorf("summary line %v", r)
		}
		got[r["arg"].(string)] += int(r["count"].(float64))
		lines[r["arg"].(string)]++
	}
	for what, n := range want {
		if got[what] != n {
			t.Errorf("%s: %d counted, want %d (all: %v)", what, got[what], n, got)
		}
		if max := int(elapsed/window) + 2; lines[what] > max {
			t.Errorf("%s: %d lines over %v, want at most one per %v window (%d)", what, lines[what], elapsed, window, max)
		}
	}
	testproc.Poll(t, 5*time.Second, "the summary of the read-only token's refused actions", func() bool {
		n := 0
		all, _ := testproc.JSONLines(t, auditPath, 0)
		for _, r := range all {
			if r["msg"] == "actions refused" && r["arg"] == "read-only token" && r["result"] == "AccessDenied" {
				n += int(r["count"].(float64))
			}
		}
		return n == 5
	})
	t.Logf("%d refused credentials over %v (answers %v): %d summary lines %v", total, elapsed, statuses, len(recs), lines)
	core.Close()
	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"the audit file": string(b), "the logs": logs.String()} {
		for _, tok := range []string{secret, testToken, readToken} {
			if strings.Contains(text, tok) {
				t.Errorf("%s contain a token (%.20s...)", where, tok)
			}
		}
	}
	if !strings.Contains(logs.String(), "authentication failed") {
		t.Error("no failed authentication was logged at all: the log check above proves nothing")
	}
}

// authSummaries returns the failed-authentication summary lines.
func authSummaries(t *testing.T, path string) []map[string]any {
	t.Helper()
	recs, _ := testproc.JSONLines(t, path, 0)
	var out []map[string]any
	for _, rec := range recs {
		if rec["msg"] == "authentication refused" {
			out = append(out, rec)
		}
	}
	return out
}
