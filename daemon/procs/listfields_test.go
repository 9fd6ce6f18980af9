package procs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// The list says which processes the core refuses to act on, whoever asks,
// with the reason the refusal gives (issue 10: the UI must not offer them).
func TestListSaysProtected(t *testing.T) {
	s := newCore(t, Options{})
	ps := listAll(t, s, root)
	if p := find(t, ps, 1); p == nil || p.Protected != "PID 1 (init)" {
		t.Errorf("PID 1: %+v", p)
	}
	if p := find(t, ps, os.Getpid()); p == nil || p.Protected != "the roy-procwatch daemon itself" {
		t.Errorf("the daemon (this test): protected = %q", p.Protected)
	}
	if st, err := procStat(2); err == nil && st.KernelThread() {
		if p := find(t, ps, 2); p == nil || p.Protected != "kernel thread" {
			t.Errorf("kthreadd: %+v", p)
		}
	}
	c := testproc.Start(t, exec.Command("sleep", "3600"))
	ps = listAll(t, s, root)
	if p := find(t, ps, c.PID); p == nil || p.Protected != "" {
		t.Errorf("a child: %+v", p)
	}
	// The refusal agrees with the list.
	_, err := s.Signal(context.Background(), root, Target{PID: 1}, "CONT")
	wantKind(t, "Signal(PID 1)", err, ErrAccessDenied)
}

// %MEM, TIME+ and VIRT (issue 10 item 11) against what the kernel says.
func TestListMemoryAndCPUTime(t *testing.T) {
	s := newCore(t, Options{})
	// Burn ~0.3 s of CPU here so TIME+ is not zero.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
	}
	p := find(t, listAll(t, s, root), os.Getpid())
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	var vmPages uint64
	if _, err := fmt.Sscan(string(b), &vmPages); err != nil {
		t.Fatal(err)
	}
	vm := vmPages * uint64(os.Getpagesize())
	// The runtime may map more between the two reads: within 64 MiB.
	if p.MemoryVMS == 0 || p.MemoryVMS > vm+64<<20 || p.MemoryVMS+64<<20 < vm {
		t.Errorf("memory_vms = %d, statm says %d", p.MemoryVMS, vm)
	}
	st, _ := procStat(os.Getpid())
	if want := float64(st.CPUTicks) / 100; p.CPUTime < 0.2 || p.CPUTime > want+0.5 {
		t.Errorf("cpu_time = %v s, the kernel says %v s now", p.CPUTime, want)
	}
	total := memTotalBytes(t)
	want := float64(p.MemoryRSS) / float64(total) * 100
	if p.MemoryPercent <= 0 || p.MemoryPercent > want+0.01 || p.MemoryPercent < want-0.01 {
		t.Errorf("memory_percent = %v, rss/MemTotal = %v", p.MemoryPercent, want)
	}
}

// The API's ?q= syntax is the UI's: a bare number is a PID or a port,
// :PORT and port:PORT a port, pid: and user: narrow (issue 10 item 5).
func TestQuerySyntax(t *testing.T) {
	s := newCore(t, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	self := os.Getpid()
	sleeper := testproc.Start(t, exec.Command("sleep", "3600"))
	pids := func(q string) []int {
		t.Helper()
		ps, err := s.List(context.Background(), root, ListOptions{Query: q, Sort: "pid", Order: "asc"})
		if err != nil {
			t.Fatalf("q=%q: %v", q, err)
		}
		var out []int
		for _, p := range ps {
			out = append(out, p.PID)
		}
		return out
	}
	for _, q := range []string{port, ":" + port, "port:" + port, "port:" + port + " user:root", "pid:" + strconv.Itoa(self)} {
		if got := pids(q); !slices.Contains(got, self) || (q != "pid:"+strconv.Itoa(self) && slices.Contains(got, sleeper.PID)) {
			t.Errorf("q=%q: %v, want the listener %d and not the sleeper %d", q, got, self, sleeper.PID)
		}
	}
	if got := pids("pid:" + strconv.Itoa(self)); !slices.Equal(got, []int{self}) {
		t.Errorf("pid: gives %v", got)
	}
	if got := pids("sleep 3600"); !slices.Contains(got, sleeper.PID) || slices.Contains(got, self) {
		t.Errorf("two words, both must match: %v", got)
	}
	if got := pids("user:nobody-such"); len(got) != 0 {
		t.Errorf("user:nobody-such: %v", got)
	}
	if got := pids(strconv.Itoa(sleeper.PID)); !slices.Contains(got, sleeper.PID) {
		t.Errorf("a bare PID: %v", got)
	}
}

// Fresh asks for a snapshot newer than the cache: a process started within
// the TTL shows (issue 10 item 7: Refresh must not return the cached list).
func TestListFresh(t *testing.T) {
	s, err := New(Options{SnapshotTTL: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	listAll(t, s, root) // cached for an hour
	c := testproc.Start(t, exec.Command("sleep", "3600"))
	if find(t, listAll(t, s, root), c.PID) != nil {
		t.Fatal("the cached list already has the new process: the TTL did not apply")
	}
	time.Sleep(FreshMaxAge + 50*time.Millisecond)
	ps, err := s.List(context.Background(), root, ListOptions{Sort: "pid", Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if find(t, ps, c.PID) == nil {
		t.Errorf("a fresh list lacks process %d started after the cached one", c.PID)
	}
	snap, _, err := s.FreshSnapshot(context.Background())
	if err != nil || !slices.ContainsFunc(snap, func(p Process) bool { return p.PID == c.PID }) {
		t.Errorf("FreshSnapshot lacks %d (%v)", c.PID, err)
	}
}

func memTotalBytes(t *testing.T) uint64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb uint64
		if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb * 1024
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}
