package procs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/procfs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

var root = Caller{Privileged: true, Name: "test"}

// The family strings of the list's JSON (Python's str(AddressFamily)), written out.
const (
	familyInet  = "AddressFamily.AF_INET"
	familyInet6 = "AddressFamily.AF_INET6"
)

func TestListShowsChild(t *testing.T) {
	s := newCore(t, Options{})
	dir := t.TempDir()
	cmd := exec.Command("sleep", "3600")
	cmd.Dir = dir
	c := testproc.Start(t, cmd)
	waitState(t, c.PID, func(st byte) bool { return st == 'S' }, "sleeping")
	ps := listAll(t, s, root)
	p := find(t, ps, c.PID)
	if p == nil {
		t.Fatalf("child %d not in the list of %d processes", c.PID, len(ps))
	}
	if !slices.Equal(p.Cmdline, []string{"sleep", "3600"}) {
		t.Errorf("cmdline = %q, want [sleep 3600]", p.Cmdline)
	}
	if p.Name != "sleep" || p.PPID != os.Getpid() || p.Username != "root" && os.Geteuid() == 0 {
		t.Errorf("name/ppid/user = %q/%d/%q", p.Name, p.PPID, p.Username)
	}
	exe, _ := exec.LookPath("sleep")
	if real, err := filepath.EvalSymlinks(exe); err == nil && p.Exe != real {
		t.Errorf("exe = %q, want %q", p.Exe, real)
	}
	st, _ := procStat(c.PID)
	if want := procfs.CreateTime(s.inv.BootTime(), st.StartTicks); p.CreateTime != want {
		t.Errorf("create_time = %v, want %v", p.CreateTime, want)
	}
	if d := time.Since(time.Unix(int64(p.CreateTime), 0)); d < -2*time.Second || d > time.Minute {
		t.Errorf("create_time %v is %v away from now", p.CreateTime, d)
	}
	if _, err := time.ParseInLocation("2006-01-02T15:04:05", p.CreateTimeISO, time.Local); err != nil {
		t.Errorf("create_time_iso %q: %v", p.CreateTimeISO, err)
	}
	if p.MemoryRSS == 0 || p.Status != "sleeping" || p.Nice != baseNice(t) || p.Threads != 1 {
		t.Errorf("rss/status/nice/threads = %d/%q/%d/%d", p.MemoryRSS, p.Status, p.Nice, p.Threads)
	}
	if p.Ports == nil || len(p.Ports) != 0 {
		t.Errorf("ports = %#v, want an empty non-nil list", p.Ports)
	}

	// The query finds it by argv and by PID.
	for _, q := range []string{strconv.Itoa(c.PID), "SLEEP"} {
		got, err := s.List(context.Background(), root, ListOptions{Query: q})
		if err != nil || find(t, got, c.PID) == nil {
			t.Errorf("List(q=%q) does not contain %d (err %v)", q, c.PID, err)
		}
	}
	if _, err := s.List(context.Background(), root, ListOptions{Sort: "bogus"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("List(sort=bogus) = %v", err)
	}
	// Every process has a list (never nil) for cmdline and ports.
	for _, p := range ps {
		if p.Cmdline == nil || p.Ports == nil {
			t.Errorf("process %d: nil cmdline or ports", p.PID)
		}
	}
}

func portsOf(t *testing.T, s *Service, pid int) []Port {
	t.Helper()
	p := find(t, listAll(t, s, root), pid)
	if p == nil {
		t.Fatalf("process %d not listed", pid)
	}
	return p.Ports
}

// owners returns the PIDs listing a port with this local and remote.
func owners(ps []Process, typ, local string, remote *string, status string) []int {
	var out []int
	for _, p := range ps {
		for _, pt := range p.Ports {
			if pt.Type == typ && pt.Local == local && pt.Status == status &&
				(remote == nil) == (pt.Remote == nil) && (remote == nil || *remote == *pt.Remote) {
				out = append(out, p.PID)
			}
		}
	}
	return out
}

func TestPortsOfRealSockets(t *testing.T) {
	s := newCore(t, Options{})
	srv := testproc.Helper(t, "listen4")
	v6 := testproc.Helper(t, "listen6")
	udp := testproc.Helper(t, "udp4")
	cli := testproc.Helper(t, "connect", testproc.HelperAddrEnv+"="+srv.Line)
	cliAddr, srvAddr := cli.Line, srv.Line

	var ps []Process
	// The server's accepted socket belongs to it once accept() returns.
	testproc.Poll(t, 10*time.Second, "the accepted connection to be listed", func() bool {
		ps = listAll(t, s, root)
		return len(owners(ps, "tcp", srvAddr, &cliAddr, "ESTABLISHED")) > 0
	})
	checks := []struct {
		name   string
		typ    string
		local  string
		remote *string
		status string
		pid    int
		family string
	}{
		{"listener", "tcp", srvAddr, nil, "LISTEN", srv.PID, familyInet},
		{"client side", "tcp", cliAddr, &srvAddr, "ESTABLISHED", cli.PID, familyInet},
		{"server side", "tcp", srvAddr, &cliAddr, "ESTABLISHED", srv.PID, familyInet},
		{"IPv6 listener", "tcp", v6.Line, nil, "LISTEN", v6.PID, familyInet6},
		{"UDP", "udp", udp.Line, nil, "NONE", udp.PID, familyInet},
	}
	for _, tc := range checks {
		got := owners(ps, tc.typ, tc.local, tc.remote, tc.status)
		if !slices.Equal(got, []int{tc.pid}) {
			t.Errorf("%s %s %s: owned by %v, want exactly [%d]", tc.name, tc.typ, tc.local, got, tc.pid)
		}
		for _, pt := range find(t, ps, tc.pid).Ports {
			if pt.Local == tc.local && pt.Status == tc.status && pt.Family != tc.family {
				t.Errorf("%s: family %q, want %q", tc.name, pt.Family, tc.family)
			}
		}
	}
	if !strings.HasPrefix(v6.Line, "[::1]:") {
		t.Errorf("IPv6 helper address %q", v6.Line)
	}
	// LocalPort matches the address, and the listener has exactly its one
	// LISTEN socket (plus accepted connections).
	for _, pt := range portsOf(t, s, srv.PID) {
		if !strings.HasSuffix(pt.Local, ":"+strconv.Itoa(pt.LocalPort)) {
			t.Errorf("local %q but local_port %d", pt.Local, pt.LocalPort)
		}
		if pt.Status != "LISTEN" && pt.Status != "ESTABLISHED" {
			t.Errorf("unexpected socket on the server: %+v", pt)
		}
	}
	// The test process itself holds none of these sockets.
	if me := find(t, ps, os.Getpid()); me != nil {
		for _, pt := range me.Ports {
			if pt.Local == srvAddr || pt.Local == cliAddr {
				t.Errorf("test process listed with the child's socket %+v", pt)
			}
		}
	}
}

// cpuTicksOf returns utime+stime of pid.
func cpuTicksOf(t *testing.T, pid int) uint64 {
	t.Helper()
	st, err := procStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st.CPUTicks
}

func TestCPUPercentFirstList(t *testing.T) {
	busy := testproc.Start(t, exec.Command("sh", "-c", "while :; do :; done"))
	idle := testproc.Sleeper(t)
	testproc.Poll(t, 10*time.Second, "the busy child to use some CPU", func() bool { return cpuTicksOf(t, busy.PID) >= 5 })

	// A fresh core, listed at once: the busy child must not show 0.
	s := newCore(t, Options{})
	ps := listAll(t, s, root)
	p := find(t, ps, busy.PID)
	if p == nil {
		t.Fatal("busy child not listed")
	}
	// One shell loop uses at most one CPU: 100 %, plus tick rounding.
	if p.CPUPercent <= 0 || p.CPUPercent > 150 {
		t.Errorf("busy child: cpu_percent = %v on the first List after New, want in (0, 150]", p.CPUPercent)
	}
	if q := find(t, ps, idle.PID); q == nil || q.CPUPercent > 5 {
		t.Errorf("idle sleep: %+v, want cpu_percent near 0", q)
	}
	// A later list, over a longer interval, is a real rate too.
	// Later lists, over longer intervals, are real rates too, never above
	// one CPU.
	testproc.Poll(t, 10*time.Second, "a second sample with CPU", func() bool {
		p := find(t, listAll(t, s, root), busy.PID)
		if p != nil && p.CPUPercent > 150 {
			t.Fatalf("cpu_percent = %v for one shell loop", p.CPUPercent)
		}
		return p != nil && p.CPUPercent > 10
	})
	// Sorting by cpu desc puts it ahead of the idle sleep.
	ps, _ = s.List(context.Background(), root, ListOptions{Sort: "cpu"})
	bi, ii := slices.IndexFunc(ps, func(p Process) bool { return p.PID == busy.PID }), slices.IndexFunc(ps, func(p Process) bool { return p.PID == idle.PID })
	if bi < 0 || ii < 0 || bi > ii {
		t.Errorf("cpu desc: busy at %d, idle at %d", bi, ii)
	}
}

func TestSignalChangesState(t *testing.T) {
	s := newCore(t, Options{})
	var events []Event
	var mu sync.Mutex
	s.Subscribe(func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	ctx := context.Background()

	c := testproc.Sleeper(t)
	name, err := s.Signal(ctx, root, Target{PID: c.PID}, "sigstop")
	if err != nil || name != "STOP" {
		t.Fatalf("Signal(STOP) = %q, %v", name, err)
	}
	waitState(t, c.PID, func(b byte) bool { return b == 'T' }, "stopped")
	if p := find(t, listAll(t, s, root), c.PID); p == nil || p.Status != "stopped" {
		t.Errorf("listed status after STOP: %+v", p)
	}
	if _, err := s.Signal(ctx, root, Target{PID: c.PID}, "CONT"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c.PID, func(b byte) bool { return b == 'S' || b == 'R' }, "running again")
	if _, err := s.Signal(ctx, root, Target{PID: c.PID}, "15"); err != nil {
		t.Fatal(err)
	}
	c.ExitedBy(t, syscall.SIGTERM)

	k := testproc.Sleeper(t)
	if _, err := s.Signal(ctx, root, Target{PID: k.PID}, "KILL"); err != nil {
		t.Fatal(err)
	}
	k.ExitedBy(t, syscall.SIGKILL)

	mu.Lock()
	defer mu.Unlock()
	want := []Event{
		{Kind: EventSignalled, PID: c.PID, Signal: "STOP"},
		{Kind: EventSignalled, PID: c.PID, Signal: "CONT"},
		{Kind: EventSignalled, PID: c.PID, Signal: "TERM"},
		{Kind: EventSignalled, PID: k.PID, Signal: "KILL"},
	}
	if !slices.Equal(events, want) {
		t.Errorf("events = %+v, want %+v", events, want)
	}
}

func TestRenice(t *testing.T) {
	s := newCore(t, Options{})
	c := testproc.Helper(t, "threads")
	tids := tidsOf(t, c.PID)
	if len(tids) < 5 {
		t.Fatalf("helper has %d threads, want >= 5", len(tids))
	}
	ctx := context.Background()
	values := []int{7, 19, -3, -20, 0}
	if os.Geteuid() != 0 {
		values = []int{7, 19} // without CAP_SYS_NICE the daemon can only raise it
	}
	for _, n := range values {
		if err := s.Renice(ctx, root, Target{PID: c.PID}, n); err != nil {
			t.Fatalf("Renice(%d): %v", n, err)
		}
		for _, tid := range tidsOf(t, c.PID) {
			if got := niceOf(t, tid); got != n {
				t.Errorf("after Renice(%d): thread %d has nice %d", n, tid, got)
			}
		}
		if p := find(t, listAll(t, s, root), c.PID); p == nil || p.Nice != n {
			t.Errorf("listed nice after Renice(%d): %+v", n, p)
		}
	}
	for _, n := range []int{20, -21, 99} {
		if err := s.Renice(ctx, root, Target{PID: c.PID}, n); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Renice(%d) = %v, want InvalidArgument", n, err)
		}
	}
	if got, want := niceOf(t, c.PID), values[len(values)-1]; got != want {
		t.Errorf("an invalid renice changed nice to %d (was %d)", got, want)
	}
}

// TestReniceWhileThreadsStart: threads created while Renice runs must not
// keep the old nice value (they are cloned from threads not yet reniced).
func TestReniceWhileThreadsStart(t *testing.T) {
	requireRoot(t) // it lowers nice back and forth
	s := newCore(t, Options{})
	c := testproc.Helper(t, "threadspawner")
	ctx := context.Background()
	for i := 0; i < 40 && alive(c.PID); i++ {
		n := 1 + i%2 // alternate 1 and 2, so the old value is always wrong
		if err := s.Renice(ctx, root, Target{PID: c.PID}, n); err != nil {
			t.Fatalf("Renice(%d): %v", n, err)
		}
		// Threads started after Renice returned inherit n from a reniced
		// thread; none may be left with the previous value.
		for _, tid := range tidsOf(t, c.PID) {
			if got, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && 20-got != n {
				t.Fatalf("round %d: after Renice(%d) thread %d has nice %d (%d threads)", i, n, tid, 20-got, len(tidsOf(t, c.PID)))
			}
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func readlink(t *testing.T, p string) string {
	t.Helper()
	l, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func cmdlineOf(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func TestRestartDetached(t *testing.T) {
	s := newCore(t, Options{RestartTimeout: 300 * time.Millisecond})
	dir := t.TempDir()
	tests := []struct {
		name string
		argv []string
		sig  syscall.Signal // what ended the old process
	}{
		{"stops on TERM", []string{"sleep", "3600"}, syscall.SIGTERM},
		{"ignores TERM, gets KILL", []string{"sh", "-c", "trap '' TERM; while :; do sleep 1; done", "argv0-marker"}, syscall.SIGKILL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(tc.argv[0], tc.argv[1:]...)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=/usr/bin:/bin", "PROCWATCH_MARK=restart-" + tc.name}
			c := testproc.Start(t, cmd)
			if tc.sig == syscall.SIGKILL {
				// Let the shell install its trap before the restart.
				testproc.Poll(t, 10*time.Second, "the shell to start its loop", func() bool {
					return testproc.SigIgnored(c.PID, syscall.SIGTERM)
				})
			}
			oldCmd := cmdlineOf(t, c.PID)
			var evs []Event
			s.Subscribe(func(e Event) {
				if e.Kind == EventRestarted {
					evs = append(evs, e)
				}
			})
			res, err := s.Restart(context.Background(), root, Target{PID: c.PID})
			if err != nil {
				t.Fatalf("Restart: %v", err)
			}
			t.Cleanup(func() { testproc.KillPID(res.NewPID) })
			testproc.WaitExec(t, res.NewPID)
			if res.OldPID != c.PID || res.NewPID <= 0 || res.NewPID == c.PID || res.How != "detached" || res.Unit != "" {
				t.Fatalf("Restart = %+v", res)
			}
			c.ExitedBy(t, tc.sig)
			if !alive(res.NewPID) {
				t.Fatalf("new process %d is not running", res.NewPID)
			}
			if got := cmdlineOf(t, res.NewPID); !slices.Equal(got, oldCmd) {
				t.Errorf("new cmdline %q, want %q", got, oldCmd)
			}
			if got := readlink(t, "/proc/"+strconv.Itoa(res.NewPID)+"/cwd"); got != dir {
				t.Errorf("new cwd %q, want %q", got, dir)
			}
			env, _ := os.ReadFile("/proc/" + strconv.Itoa(res.NewPID) + "/environ")
			if !strings.Contains(string(env), "PROCWATCH_MARK=restart-"+tc.name+"\x00") {
				t.Errorf("environment not kept: %q", env)
			}
			if sid, err := unix.Getsid(res.NewPID); err != nil || sid != res.NewPID {
				t.Errorf("new process is not a session leader (setsid): sid %d, %v", sid, err)
			}
			if len(evs) != 1 || evs[0].PID != c.PID || evs[0].NewPID != res.NewPID {
				t.Errorf("restart events = %+v", evs)
			}
		})
	}
}

func TestNoSuchProcessAfterExit(t *testing.T) {
	s := newCore(t, Options{})
	c := testproc.Sleeper(t)
	st, _ := procStat(c.PID)
	ct := procfs.CreateTime(s.inv.BootTime(), st.StartTicks)
	_ = c.Cmd.Process.Kill()
	c.ExitedBy(t, syscall.SIGKILL)
	ctx := context.Background()
	// With the create_time, as a client that listed it would send: should
	// the PID ever be reused meanwhile, the answer is ProcessChanged and
	// nothing is touched.
	tg := Target{PID: c.PID, CreateTime: ct}
	_, err := s.Signal(ctx, root, tg, "TERM")
	wantKind(t, "Signal after exit", err, ErrNoSuchProcess)
	wantKind(t, "Renice after exit", s.Renice(ctx, root, tg, 5), ErrNoSuchProcess)
	_, err = s.Restart(ctx, root, tg)
	wantKind(t, "Restart after exit", err, ErrNoSuchProcess)
	_, err = s.Get(ctx, root, tg)
	wantKind(t, "Get after exit", err, ErrNoSuchProcess)
	// By bare PID, with harmless requests only.
	_, err = s.Signal(ctx, root, Target{PID: c.PID}, "CONT")
	wantKind(t, "Signal(bare PID) after exit", err, ErrNoSuchProcess)
	_, err = s.Get(ctx, root, Target{PID: c.PID})
	wantKind(t, "Get(bare PID) after exit", err, ErrNoSuchProcess)
}

func TestProcessChanged(t *testing.T) {
	s := newCore(t, Options{})
	c := testproc.Sleeper(t)
	p := find(t, listAll(t, s, root), c.PID)
	if p == nil {
		t.Fatal("child not listed")
	}
	ctx := context.Background()
	for _, ct := range []float64{p.CreateTime - 10, p.CreateTime + 0.01, p.CreateTime - 0.01, 1} {
		stale := Target{PID: c.PID, CreateTime: ct}
		_, err := s.Signal(ctx, root, stale, "KILL")
		wantKind(t, "Signal with a wrong create_time", err, ErrProcessChanged)
		wantKind(t, "Renice with a wrong create_time", s.Renice(ctx, root, stale, 10), ErrProcessChanged)
		_, err = s.Restart(ctx, root, stale)
		wantKind(t, "Restart with a wrong create_time", err, ErrProcessChanged)
	}
	if !alive(c.PID) || niceOf(t, c.PID) != baseNice(t) {
		t.Fatal("a refused action touched the process")
	}
	// The right create_time (as listed, 2 decimals) is accepted.
	if _, err := s.Signal(ctx, root, Target{PID: c.PID, CreateTime: p.CreateTime}, "KILL"); err != nil {
		t.Fatalf("Signal with the listed create_time: %v", err)
	}
	c.ExitedBy(t, syscall.SIGKILL)
}

func TestProtectedProcesses(t *testing.T) {
	s := newCore(t, Options{})
	ctx := context.Background()
	// Only harmless actions are tried on PID 1 and on ourselves, so a
	// regression fails the test without hurting the machine: CONT does
	// nothing to a running process, and Restart is asked by a caller that
	// authorization would refuse anyway.
	_, err := s.Signal(ctx, root, Target{PID: 1}, "CONT")
	wantKind(t, "Signal(PID 1)", err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "protected") {
		t.Fatalf("Signal(PID 1): %q does not say protected", err)
	}
	nobody := Caller{UID: 65534, Name: "nobody"}
	_, err = s.Restart(ctx, nobody, Target{PID: 1})
	wantKind(t, "Restart(PID 1)", err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "protected") {
		t.Errorf("Restart(PID 1): %q does not say protected", err)
	}
	_, err = s.Signal(ctx, root, Target{PID: os.Getpid()}, "CONT")
	wantKind(t, "Signal(self)", err, ErrAccessDenied)
	_, err = s.Restart(ctx, root, Target{PID: os.Getpid()})
	wantKind(t, "Restart(self)", err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "daemon itself") {
		t.Errorf("Restart(self): %q", err)
	}
	// Kernel threads: kthreadd is PID 2 on Linux.
	if st, err := procStat(2); err == nil && st.KernelThread() {
		_, err := s.Signal(ctx, root, Target{PID: 2}, "CONT")
		wantKind(t, "Signal(kthreadd)", err, ErrAccessDenied)
		wantKind(t, "Renice(kthreadd)", s.Renice(ctx, root, Target{PID: 2}, 0), ErrAccessDenied)
	}
}

func TestZombieRestartRefused(t *testing.T) {
	s := newCore(t, Options{})
	c := testproc.Sleeper(t)
	_ = c.Cmd.Process.Signal(syscall.SIGKILL) // not reaped: a zombie
	waitState(t, c.PID, func(b byte) bool { return b == 'Z' }, "a zombie")
	ctx := context.Background()
	_, err := s.Restart(ctx, root, Target{PID: c.PID})
	wantKind(t, "Restart(zombie)", err, ErrNotRestartable)
	if !strings.Contains(err.Error(), "zombie") {
		t.Errorf("message %q does not say zombie", err)
	}
	// Signalling a zombie is harmless: it works or says the process is gone.
	if _, err := s.Signal(ctx, root, Target{PID: c.PID}, "TERM"); err != nil && !errors.Is(err, ErrNoSuchProcess) {
		t.Errorf("Signal(zombie) = %v", err)
	}
	if p := find(t, listAll(t, s, root), c.PID); p == nil || p.Status != "zombie" {
		t.Errorf("zombie listed as %+v", p)
	}
	c.ExitedBy(t, syscall.SIGKILL)
}

// authorizer records the calls an Authorize func gets.
type authorizer struct {
	mu    sync.Mutex
	calls []string
	ok    bool
	err   error
}

func (a *authorizer) fn(_ context.Context, action string, pid int) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, action+" "+strconv.Itoa(pid))
	return a.ok, a.err
}

func TestAuthorizationOnRootProcess(t *testing.T) {
	s := newCore(t, Options{})
	ctx := context.Background()
	c := testproc.Sleeper(t) // owned by root (the test runs as root) or by us
	if os.Geteuid() == 65534 {
		t.Skip("running as nobody")
	}
	pid := strconv.Itoa(c.PID)

	t.Run("no authority", func(t *testing.T) {
		nobody := Caller{UID: 65534, Name: "nobody"}
		_, err := s.Signal(ctx, nobody, Target{PID: c.PID}, "KILL")
		wantKind(t, "Signal by uid 65534", err, ErrAccessDenied)
		wantKind(t, "Renice by uid 65534", s.Renice(ctx, nobody, Target{PID: c.PID}, 10), ErrAccessDenied)
		_, err = s.Restart(ctx, nobody, Target{PID: c.PID})
		wantKind(t, "Restart by uid 65534", err, ErrAccessDenied)
		if !strings.Contains(err.Error(), ActionRestart) {
			t.Errorf("message %q does not name the polkit action", err)
		}
		if !alive(c.PID) || niceOf(t, c.PID) != baseNice(t) {
			t.Fatal("a denied caller changed the process")
		}
		// Unprivileged callers do not see other users' exe.
		if p := find(t, listAll(t, s, nobody), c.PID); p == nil || p.Exe != "" {
			t.Errorf("uid 65534 sees exe of a root process: %+v", p)
		}
		d, err := s.Get(ctx, nobody, Target{PID: c.PID})
		if err != nil || d.Exe != "" || d.Cwd != "" || d.Environ != nil || len(d.OpenFiles) != 0 {
			t.Errorf("uid 65534 Get of a root process leaks: exe %q cwd %q env %d files %d (%v)", d.Exe, d.Cwd, len(d.Environ), len(d.OpenFiles), err)
		}
	})
	t.Run("authority says no", func(t *testing.T) {
		a := &authorizer{ok: false}
		caller := Caller{UID: 65534, Name: "nobody", Authorize: a.fn}
		_, err := s.Signal(ctx, caller, Target{PID: c.PID}, "KILL")
		wantKind(t, "Signal, authority no", err, ErrAccessDenied)
		if !slices.Equal(a.calls, []string{ActionSignal + " " + pid}) {
			t.Errorf("authority calls = %q", a.calls)
		}
	})
	t.Run("authority fails", func(t *testing.T) {
		a := &authorizer{ok: true, err: errors.New("polkit timed out")}
		caller := Caller{UID: 65534, Name: "nobody", Authorize: a.fn}
		_, err := s.Signal(ctx, caller, Target{PID: c.PID}, "KILL")
		wantKind(t, "Signal, authority error", err, ErrAccessDenied)
		wantKind(t, "Renice, authority error", s.Renice(ctx, caller, Target{PID: c.PID}, 5), ErrAccessDenied)
		_, err = s.Restart(ctx, caller, Target{PID: c.PID})
		wantKind(t, "Restart, authority error", err, ErrAccessDenied)
		if strings.Contains(err.Error(), "polkit timed out") {
			t.Errorf("the authority's internal error leaks to the caller: %q", err)
		}
		if !alive(c.PID) || niceOf(t, c.PID) != baseNice(t) {
			t.Fatal("a caller whose authorization failed changed the process")
		}
	})
	t.Run("authority says yes", func(t *testing.T) {
		a := &authorizer{ok: true}
		caller := Caller{UID: 65534, Name: "nobody", Authorize: a.fn}
		if _, err := s.Signal(ctx, caller, Target{PID: c.PID}, "STOP"); err != nil {
			t.Fatalf("Signal with authority: %v", err)
		}
		waitState(t, c.PID, func(b byte) bool { return b == 'T' }, "stopped")
		if _, err := s.Signal(ctx, caller, Target{PID: c.PID}, "CONT"); err != nil {
			t.Fatal(err)
		}
		if err := s.Renice(ctx, caller, Target{PID: c.PID}, 4); err != nil {
			t.Fatalf("Renice with authority: %v", err)
		}
		if got := niceOf(t, c.PID); got != 4 {
			t.Errorf("nice = %d, want 4", got)
		}
		d, err := s.Get(ctx, caller, Target{PID: c.PID})
		if err != nil || d.Exe == "" || d.Cwd == "" {
			t.Errorf("Get with inspect authority: exe %q cwd %q (%v)", d.Exe, d.Cwd, err)
		}
		want := []string{ActionSignal + " " + pid, ActionSignal + " " + pid, ActionRenice + " " + pid, ActionInspect + " " + pid}
		if !slices.Equal(a.calls, want) {
			t.Errorf("authority calls = %q, want %q", a.calls, want)
		}
	})
}

func TestAuthorizationOwnProcess(t *testing.T) {
	requireRoot(t)
	if n := baseNice(t); n != 0 {
		t.Skipf("the tests run at nice %d: raising to 5 then lowering to 2 needs nice 0", n)
	}
	s := newCore(t, Options{RestartTimeout: time.Second})
	ctx := context.Background()
	cmd := exec.Command("sleep", "3600")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	c := testproc.Start(t, cmd)
	never := func(_ context.Context, action string, pid int) (bool, error) {
		t.Errorf("authority asked for %s on %d: an owner needs none", action, pid)
		return false, nil
	}
	owner := Caller{UID: 65534, GIDs: []uint32{65534}, Name: "nobody", Authorize: never}

	if _, err := s.Signal(ctx, owner, Target{PID: c.PID}, "STOP"); err != nil {
		t.Fatalf("owner Signal(STOP): %v", err)
	}
	waitState(t, c.PID, func(b byte) bool { return b == 'T' }, "stopped")
	if _, err := s.Signal(ctx, owner, Target{PID: c.PID}, "CONT"); err != nil {
		t.Fatal(err)
	}
	// Raising nice is the owner's right (setpriority(2) allows it).
	if err := s.Renice(ctx, owner, Target{PID: c.PID}, 5); err != nil {
		t.Fatalf("owner Renice(5): %v", err)
	}
	if got := niceOf(t, c.PID); got != 5 {
		t.Fatalf("nice = %d, want 5", got)
	}
	// Lowering it needs the authority: denied without one ...
	noAuth := Caller{UID: 65534, Name: "nobody"}
	wantKind(t, "owner Renice(2) without authority", s.Renice(ctx, noAuth, Target{PID: c.PID}, 2), ErrAccessDenied)
	no := &authorizer{ok: false}
	wantKind(t, "owner Renice(-5), authority no", s.Renice(ctx, Caller{UID: 65534, Authorize: no.fn}, Target{PID: c.PID}, -5), ErrAccessDenied)
	if got := niceOf(t, c.PID); got != 5 {
		t.Fatalf("nice changed to %d by a denied renice", got)
	}
	// ... allowed with it.
	yes := &authorizer{ok: true}
	if err := s.Renice(ctx, Caller{UID: 65534, Authorize: yes.fn}, Target{PID: c.PID}, 2); err != nil {
		t.Fatalf("owner Renice(2) with authority: %v", err)
	}
	if got := niceOf(t, c.PID); got != 2 || !slices.Equal(yes.calls, []string{ActionRenice + " " + strconv.Itoa(c.PID)}) {
		t.Errorf("nice %d, authority calls %q", got, yes.calls)
	}
	// Another unprivileged uid may do nothing.
	other := Caller{UID: 65533, Name: "other"}
	_, err := s.Signal(ctx, other, Target{PID: c.PID}, "KILL")
	wantKind(t, "uid 65533 Signal", err, ErrAccessDenied)

	// The owner may restart its own non-service process; the new one runs
	// as the owner, never as root.
	res, err := s.Restart(ctx, owner, Target{PID: c.PID})
	if err != nil {
		t.Fatalf("owner Restart: %v", err)
	}
	t.Cleanup(func() { testproc.KillPID(res.NewPID) })
	testproc.WaitExec(t, res.NewPID)
	c.ExitedBy(t, syscall.SIGTERM)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(res.NewPID) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	uids, _ := procfs.IDsFromStatus(b, "Uid")
	gids, _ := procfs.IDsFromStatus(b, "Gid")
	if uids != [3]uint32{65534, 65534, 65534} || gids != [3]uint32{65534, 65534, 65534} {
		t.Errorf("relaunched process runs as uids %v gids %v, want 65534", uids, gids)
	}
	if _, err := s.Signal(ctx, owner, Target{PID: res.NewPID}, "KILL"); err != nil {
		t.Errorf("owner cannot signal its relaunched process: %v", err)
	}
}

// TestHugeAndHostileCmdline (B8): 1 MiB of arguments, with newlines, ')'
// and invalid UTF-8, is listed capped and as valid text; the list works.
func TestHugeAndHostileCmdline(t *testing.T) {
	s := newCore(t, Options{})
	// sh blocks reading its stdin (a pipe we hold), keeping its argv.
	args := []string{"sh", "-c", "read x", "x) (y\nz", "bad\xff\xfeutf8", "<script>alert(1)</script>"}
	for i := 0; i < 10; i++ {
		args = append(args, strings.Repeat(string(rune('a'+i)), 100<<10))
	}
	cmd := exec.Command("/bin/sh")
	cmd.Args = args
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	c := testproc.Start(t, cmd)
	p := find(t, listAll(t, s, root), c.PID)
	if p == nil {
		t.Fatal("shell not listed")
	}
	total := 0
	for _, a := range p.Cmdline {
		total += len(a) + 1
		if !utf8.ValidString(a) {
			t.Errorf("invalid UTF-8 in cmdline: %q", a[:min(len(a), 40)])
		}
	}
	if total > procfs.CmdlineCap+len(p.Cmdline)*3 { // replacement chars may grow a byte to three
		t.Errorf("cmdline of %d bytes listed, cap is %d", total, procfs.CmdlineCap)
	}
	if !slices.Equal(p.Cmdline[:6], []string{"sh", "-c", "read x", "x) (y\nz", "bad\uFFFDutf8", "<script>alert(1)</script>"}) {
		t.Errorf("first arguments %q", p.Cmdline[:6])
	}
}

// TestSetuidProcessNotOwned (A7): a process its caller started but that
// runs with another effective uid (a setuid program) is not the caller's.
func TestSetuidProcessNotOwned(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{})
	c := testproc.Helper(t, "setresuid")
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(c.PID) + "/status")
	if uids, _ := procfs.IDsFromStatus(b, "Uid"); uids != [3]uint32{65534, 0, 0} {
		t.Fatalf("helper uids %v, want [65534 0 0]", uids)
	}
	ctx := context.Background()
	no := &authorizer{ok: false}
	caller := Caller{UID: 65534, Name: "nobody", Authorize: no.fn}
	_, err := s.Signal(ctx, caller, Target{PID: c.PID}, "STOP")
	wantKind(t, "Signal of a setuid process by its real uid", err, ErrAccessDenied)
	wantKind(t, "Renice of a setuid process by its real uid", s.Renice(ctx, caller, Target{PID: c.PID}, 10), ErrAccessDenied)
	_, err = s.Restart(ctx, caller, Target{PID: c.PID})
	wantKind(t, "Restart of a setuid process by its real uid", err, ErrAccessDenied)
	pid := strconv.Itoa(c.PID)
	if want := []string{ActionSignal + " " + pid, ActionRenice + " " + pid, ActionRestart + " " + pid}; !slices.Equal(no.calls, want) {
		t.Errorf("authority calls %q, want %q (the polkit path)", no.calls, want)
	}
	if !alive(c.PID) || niceOf(t, c.PID) != baseNice(t) {
		t.Fatal("the setuid process was touched")
	}
}

// TestRestartDeletedExecutable (B11): a process whose executable was
// deleted or replaced cannot be started again, so it is not stopped.
func TestRestartDeletedExecutable(t *testing.T) {
	s := newCore(t, Options{})
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "sleep-copy")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	c := testproc.Start(t, exec.Command(exe, "3600"))
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}
	_, err = s.Restart(context.Background(), root, Target{PID: c.PID})
	wantKind(t, "Restart with a deleted executable", err, ErrNotRestartable)
	if !strings.Contains(err.Error(), "deleted") {
		t.Errorf("message %q does not say deleted", err)
	}
	if !alive(c.PID) {
		t.Fatal("the process was stopped although it cannot be started again")
	}
}

// forceNextPID makes the next fork in our PID namespace get pid (Linux
// ns_last_pid, root only). It reports whether it could write the knob.
func forceNextPID(pid int) bool {
	return os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0) == nil
}

// bootTicks is CLOCK_BOOTTIME in clock ticks, the clock of starttime.
func bootTicks() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Sec)*procfs.ClockTicks + uint64(ts.Nsec)/(1e9/procfs.ClockTicks)
}

// TestStaleTargetNeverHitsNewProcess (B7): a process is killed while a
// client keeps acting on it with the {pid, create_time} it saw; the PID is
// then handed to a new process (forced with ns_last_pid). No action may
// reach the new process.
//
// Forcing PIDs backwards would make the whole machine reuse PIDs sooner
// (other tests' "dead" PIDs, other people's processes), so the test runs in
// a PID namespace of its own, with its own /proc: the test binary re-runs
// itself there as PID 1 and ns_last_pid only moves inside.
func TestStaleTargetNeverHitsNewProcess(t *testing.T) {
	requireRoot(t)
	if !testproc.InChild(t, "PROCWATCH_IN_PIDNS", "in a PID namespace",
		&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}) {
		return
	}
	// Inside: PID 1 of a new namespace. Make every mount private first, so
	// the new /proc never propagates to the host, then mount it.
	if os.Getpid() != 1 {
		t.Fatalf("PROCWATCH_IN_PIDNS set but pid is %d", os.Getpid())
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Skip("cannot make mounts private:", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		t.Skip("cannot mount /proc for the namespace:", err)
	}
	if f, err := os.OpenFile("/proc/sys/kernel/ns_last_pid", os.O_WRONLY, 0); err != nil {
		t.Skip("cannot write ns_last_pid, so cannot force PID reuse:", err)
	} else {
		f.Close()
	}
	s := newCore(t, Options{RestartTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	reused, stopsOnOld := 0, 0
	for i := 0; i < 40 && reused < 8; i++ {
		a := testproc.Sleeper(t)
		st, err := procStat(a.PID)
		if err != nil {
			t.Fatal(err)
		}
		stale := Target{PID: a.PID, CreateTime: procfs.CreateTime(s.inv.BootTime(), st.StartTicks)}

		var b *testproc.Child
		spawned := make(chan struct{})
		go func() {
			defer close(spawned)
			_ = a.Cmd.Process.Kill()
			a.Wait()
			// create_time has clock-tick resolution: start B in a later tick
			// so the two processes are distinguishable at all.
			for bootTicks() <= st.StartTicks+1 {
				time.Sleep(time.Millisecond)
			}
			if !forceNextPID(a.PID) {
				return
			}
			cmd := exec.Command("sleep", "3600")
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				return
			}
			b = testproc.Adopt(cmd)
		}()
		// Hammer the stale target while A dies and B is born, and a while after.
		after := 0
		for after < 20 {
			select {
			case <-spawned:
				after++
			default:
			}
			_, err := s.Signal(ctx, root, stale, "STOP")
			switch {
			case err == nil:
				// It reached A (before A died): B's state below proves that
				// none reached B.
				stopsOnOld++
			case errors.Is(err, ErrNoSuchProcess), errors.Is(err, ErrProcessChanged):
			default:
				t.Fatalf("Signal(stale) = %v", err)
			}
		}
		<-spawned
		if b == nil {
			continue
		}
		t.Cleanup(func() { _ = b.Cmd.Process.Kill(); b.Wait() })
		if b.PID != a.PID {
			continue // someone else forked in between; no reuse this round
		}
		reused++
		_, err = s.Signal(ctx, root, stale, "KILL")
		wantKind(t, "Signal(stale target, reused PID)", err, ErrProcessChanged)
		wantKind(t, "Renice(stale target, reused PID)", s.Renice(ctx, root, stale, 19), ErrProcessChanged)
		_, err = s.Restart(ctx, root, stale)
		wantKind(t, "Restart(stale target, reused PID)", err, ErrProcessChanged)
		bst, err := procStat(b.PID)
		if err != nil || bst.State == 'T' || bst.State == 'Z' || bst.Nice != baseNice(t) {
			t.Fatalf("the new process %d behind the reused PID was hit: %+v (%v)", b.PID, bst, err)
		}
	}
	if reused == 0 {
		t.Skip("could not get a PID reused (busy machine?)")
	}
	t.Logf("%d PID reuses forced; %d STOPs reached the old process before it died", reused, stopsOnOld)
}

// TestAuthorityDaemonsProtected: a polkit grant is not enough to act on
// the system bus or polkit (docs/security.md, case A8); root may, and so may the
// owner of its own (session) bus.
func TestAuthorityDaemonsProtected(t *testing.T) {
	requireRoot(t)
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon not installed (scripts/test-deps.sh installs it as root)")
	}
	s := newCore(t, Options{})
	ctx := context.Background()
	bus := func(uid uint32) *testproc.Child {
		dir := t.TempDir()
		// The bus of uid 65534 must reach its socket: t.TempDir's parent
		// is 0700 (else it fails to bind and exits, and the test races it).
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--session", "--nofork", "--nopidfile", "--address=unix:path="+dir+"/bus")
		cmd.Dir = "/"
		if uid != 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		}
		c := testproc.Start(t, cmd)
		testproc.WaitExec(t, c.PID)
		if st := testproc.StateOf(c.PID); st == 'Z' || st == 0 {
			t.Fatalf("dbus-daemon (uid %d) exited at start", uid)
		}
		return c
	}
	yes := &authorizer{ok: true}
	nobody := Caller{UID: 65534, Name: "nobody", Authorize: yes.fn}

	rootBus := bus(0)
	_, err = s.Signal(ctx, nobody, Target{PID: rootBus.PID}, "STOP")
	wantKind(t, "uid 65534 with a polkit grant signals root's dbus-daemon", err, ErrAccessDenied)
	if err != nil && !strings.Contains(err.Error(), "protected") {
		t.Errorf("message %q does not say the process is protected", err)
	}
	wantKind(t, "uid 65534 with a polkit grant renices root's dbus-daemon", s.Renice(ctx, nobody, Target{PID: rootBus.PID}, 19), ErrAccessDenied)
	if len(yes.calls) != 0 {
		t.Errorf("the authority was asked (%q): a grant must not matter here", yes.calls)
	}
	if st := testproc.StateOf(rootBus.PID); st == 'T' {
		t.Errorf("root's dbus-daemon was stopped")
	}
	if _, err := s.Signal(ctx, Caller{UID: 0, Name: "root"}, Target{PID: rootBus.PID}, "CONT"); err != nil {
		t.Errorf("root signals dbus-daemon: %v", err)
	}

	ownBus := bus(65534)
	if _, err := s.Signal(ctx, nobody, Target{PID: ownBus.PID}, "CONT"); err != nil {
		t.Errorf("uid 65534 signals its own session bus: %v", err)
	}
}

// TestAuditFile: every action, allowed or refused, is one durable JSON line
// (docs/security.md, case F1), in a file only root can read.
func TestAuditFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s := newCore(t, Options{AuditFile: path})
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	c := testproc.Sleeper(t)
	if _, err := s.Signal(ctx, root, Target{PID: c.PID}, "CONT"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Signal(ctx, root, Target{PID: 1}, "CONT")
	wantKind(t, "signal PID 1", err, ErrAccessDenied)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("audit file mode %v, want 0600", fi.Mode().Perm())
	}
	recs, _ := testproc.JSONLines(t, path, 0)
	if len(recs) != 2 {
		t.Fatalf("audit file has %d lines, want 2: %v", len(recs), recs)
	}
	want := []struct {
		pid    int
		result string
	}{{c.PID, "ok"}, {1, "AccessDenied"}}
	for i, rec := range recs {
		if rec["action"] != "signal" || rec["arg"] != "CONT" || int(rec["pid"].(float64)) != want[i].pid || rec["result"] != want[i].result || rec["caller"] != "test" {
			t.Errorf("line %d = %v, want signal CONT of %d with result %s", i, rec, want[i].pid, want[i].result)
		}
	}
}
