package procs

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// A read-only caller reads like a privileged one, minus environments, and
// every action is refused, audited and counted, changing nothing.
func TestReadOnlyCaller(t *testing.T) {
	var got []string
	s := newCore(t, Options{OnAction: func(action, result string) { got = append(got, action+"="+result) }})
	cmd := exec.Command("sleep", "3600")
	cmd.Env = []string{"SECRET_FOR_TEST=hunter2"}
	c := testproc.Start(t, cmd)
	testproc.WaitExec(t, c.PID)
	ro := Caller{Privileged: true, ReadOnly: true, Name: "test-ro"}
	ctx := context.Background()

	d, err := s.Get(ctx, ro, Target{PID: c.PID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Environ != nil || d.Exe == "" || d.Cwd == "" {
		t.Errorf("read-only detail: environ=%q exe=%q cwd=%q; want no environ, the rest", d.Environ, d.Exe, d.Cwd)
	}
	if d, _ := s.Get(ctx, root, Target{PID: c.PID}); !strings.Contains(strings.Join(d.Environ, " "), "SECRET_FOR_TEST") {
		t.Errorf("privileged detail: environ=%q", d.Environ)
	}
	_, err = s.Signal(ctx, ro, Target{PID: c.PID}, "KILL")
	wantKind(t, "Signal(read-only)", err, ErrAccessDenied)
	err = s.Renice(ctx, ro, Target{PID: c.PID}, 10)
	wantKind(t, "Renice(read-only)", err, ErrAccessDenied)
	_, err = s.Restart(ctx, ro, Target{PID: c.PID})
	wantKind(t, "Restart(read-only)", err, ErrAccessDenied)
	if c.Exited(100*time.Millisecond) || niceOf(t, c.PID) != baseNice(t) {
		t.Errorf("a refused action changed the process")
	}
	want := "signal=AccessDenied renice=AccessDenied restart=AccessDenied"
	if strings.Join(got, " ") != want {
		t.Errorf("OnAction saw %q, want %q", got, want)
	}
}

// OnSnapshot sees every pass over /proc, not the cached answers.
func TestOnSnapshot(t *testing.T) {
	var n int
	var total time.Duration
	s, err := New(Options{SnapshotTTL: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnSnapshot: func(d time.Duration) { n++; total += d }})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := s.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 || total <= 0 {
		t.Errorf("OnSnapshot called %d times (total %v), want once", n, total)
	}
}
