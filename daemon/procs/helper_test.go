package procs

// Test helpers: the core, and small /proc readers that do not go through
// the code under test. The child processes (the test binary re-executed in
// a helper mode, or /bin/sleep and sh), killed and reaped by t.Cleanup,
// come from internal/testproc.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/procfs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

func TestMain(m *testing.M) {
	testproc.RunHelperIfAsked()
	os.Exit(m.Run())
}

// newCore returns a core with no snapshot caching and quiet logs.
func newCore(t *testing.T, opts Options) *Service {
	t.Helper()
	opts.SnapshotTTL = time.Nanosecond
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// procStat reads /proc/PID/stat (nil error only when the process exists).
func procStat(pid int) (procfs.Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procfs.Stat{}, err
	}
	return procfs.ParseStat(b)
}

func waitState(t *testing.T, pid int, want func(byte) bool, what string) {
	t.Helper()
	testproc.Poll(t, 10*time.Second, fmt.Sprintf("process %d to be %s", pid, what), func() bool {
		st, err := procStat(pid)
		return err == nil && want(st.State)
	})
}

// alive says whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	st, err := procStat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// niceOf reads a thread's nice value with getpriority(2) (20 - nice).
func niceOf(t *testing.T, tid int) int {
	t.Helper()
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		t.Fatalf("getpriority(%d): %v", tid, err)
	}
	return 20 - p
}

// baseNice is the nice value the tests' children start with: the test
// process's own (a build run under `nice` starts them above 0).
func baseNice(t *testing.T) int {
	t.Helper()
	return niceOf(t, os.Getpid())
}

func tidsOf(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func find(t *testing.T, ps []Process, pid int) *Process {
	t.Helper()
	for i := range ps {
		if ps[i].PID == pid {
			return &ps[i]
		}
	}
	return nil
}

func listAll(t *testing.T, s *Service, c Caller) []Process {
	t.Helper()
	ps, err := s.List(context.Background(), c, ListOptions{Sort: "pid", Order: "asc"})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func requireRoot(t *testing.T) { t.Helper(); testproc.RequireRoot(t) }

func wantKind(t *testing.T, what string, err error, sentinel *Error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got %v (kind %v), want %v", what, err, KindOf(err), sentinel.Kind)
	}
}
