package procs

// Tests of the hardening items found by the attack review: each builds the
// attack's situation with real processes and checks the core's answer.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// sleeperAs starts sleep with the given uid and gid (exec'd: dumpable).
func sleeperAs(t *testing.T, uid, gid uint32, arg string) *testproc.Child {
	t.Helper()
	cmd := exec.Command("sleep", arg)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	c := testproc.Start(t, cmd)
	testproc.WaitExec(t, c.PID)
	return c
}

// TestInspectFollowsKernelReadRule: uid 65534 reads the environment of its
// own dumpable process, but not of its own non-dumpable one (ssh-agent,
// setgid programs) nor of one running with a group it does not have, as
// the kernel refuses it too; the authority still may grant it.
func TestInspectFollowsKernelReadRule(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{})
	ctx := context.Background()
	nobody := Caller{UID: 65534, GIDs: []uint32{65534}, Name: "nobody"}
	plain := sleeperAs(t, 65534, 65534, "3600")
	otherGroup := sleeperAs(t, 65534, 0, "3600")
	nodump := testproc.Helper(t, "nodump")

	// The kernel agrees: uid 65534 cannot read the non-dumpable one.
	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"cat", "/proc/"+strconv.Itoa(nodump.PID)+"/environ").CombinedOutput()
	if err == nil {
		t.Fatalf("the kernel let uid 65534 read a non-dumpable process's environ (%q): the test's premise is wrong", out)
	}

	d, err := s.Get(ctx, nobody, Target{PID: plain.PID})
	if err != nil || d.Environ == nil || d.Exe == "" {
		t.Fatalf("owner reading its dumpable process: err %v, environ %v, exe %q", err, d.Environ != nil, d.Exe)
	}
	for _, tc := range []struct {
		name string
		pid  int
	}{{"non-dumpable", nodump.PID}, {"gid 0", otherGroup.PID}} {
		d, err := s.Get(ctx, nobody, Target{PID: tc.pid})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.Environ != nil || d.Exe != "" || d.Cwd != "" || len(d.OpenFiles) != 0 || len(d.TopMappings) != 0 {
			t.Errorf("%s: uid 65534 got environ %d vars, exe %q, cwd %q, %d files, %d maps: the kernel would refuse it",
				tc.name, len(d.Environ), d.Exe, d.Cwd, len(d.OpenFiles), len(d.TopMappings))
		}
		if d.PID != tc.pid || d.UIDs != [3]uint32{65534, 65534, 65534} {
			t.Errorf("%s: the public part is missing: %+v", tc.name, d.Process)
		}
		yes := &authorizer{ok: true}
		granted := Caller{UID: 65534, GIDs: []uint32{65534}, Name: "nobody", Authorize: yes.fn}
		if d, err := s.Get(ctx, granted, Target{PID: tc.pid}); err != nil || d.Environ == nil {
			t.Errorf("%s with the inspect authority: err %v, environ %v", tc.name, err, d.Environ != nil)
		}
		if len(yes.calls) != 1 || !strings.HasPrefix(yes.calls[0], ActionInspect+" ") {
			t.Errorf("%s: authority calls %q, want one %s", tc.name, yes.calls, ActionInspect)
		}
		// An authority that fails denies; its error is not swallowed into a grant.
		bad := &authorizer{ok: true, err: errors.New("polkit timed out")}
		if d, err := s.Get(ctx, Caller{UID: 65534, GIDs: []uint32{65534}, Authorize: bad.fn}, Target{PID: tc.pid}); err != nil || d.Environ != nil {
			t.Errorf("%s with a failing authority: err %v, environ %v", tc.name, err, d.Environ != nil)
		}
	}
}

// TestListRealUIDOfNonDumpable: a non-dumpable process of uid 65534 has a
// /proc entry owned by root; the list shows its real uid, and a filter on
// the user finds it.
func TestListRealUIDOfNonDumpable(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{})
	nodump := testproc.Helper(t, "nodump")
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/"+strconv.Itoa(nodump.PID)+"/stat", &st); err != nil || st.Uid != 0 {
		t.Fatalf("premise: the non-dumpable helper's /proc entry owner is %d (err %v), want 0", st.Uid, err)
	}
	p := find(t, listAll(t, s, root), nodump.PID)
	if p == nil || p.UID != 65534 {
		t.Fatalf("non-dumpable process of uid 65534 listed as %+v", p)
	}
	ps, err := s.List(context.Background(), root, ListOptions{Query: p.Username})
	if err != nil || find(t, ps, nodump.PID) == nil {
		t.Errorf("filter on user %q misses it (err %v)", p.Username, err)
	}
}

// TestConcurrentRestartsOneCopy: six restarts of one process at once start
// exactly one new copy; the others are told the process changed.
func TestConcurrentRestartsOneCopy(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{RestartTimeout: time.Second})
	arg := "3600." + strconv.Itoa(os.Getpid()) // recognisable argv
	c := sleeperAs(t, 65534, 65534, arg).ReapInBackground()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok []int
	var errs []error
	start := make(chan struct{})
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := s.Restart(context.Background(), root, Target{PID: c.PID})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			ok = append(ok, res.NewPID)
			t.Cleanup(func() { testproc.KillPID(res.NewPID) })
		}()
	}
	close(start)
	wg.Wait()
	if len(ok) != 1 {
		t.Errorf("%d restarts succeeded (new PIDs %v), want exactly 1", len(ok), ok)
	}
	for _, err := range errs {
		// Pinned before the first restart ended the process: changed;
		// after: gone (or, until the test reaps it, its zombie).
		if k := KindOf(err); k != KindProcessChanged && k != KindNoSuchProcess && k != KindNotRestartable {
			t.Errorf("a concurrent restart failed with %v (%v), want ProcessChanged or NoSuchProcess", err, k)
		}
	}
	// Count the copies running now, from /proc directly.
	copies := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && string(b) == "sleep\x00"+arg+"\x00" {
			copies++
		}
	}
	if copies != 1 {
		t.Errorf("%d copies of the process run after six concurrent restarts, want 1", copies)
	}
}

// TestReadsVerifiedAfterPin: if the pinned process exits while its files
// are read by path (its PID may then be another's), Get and the relaunch
// discard what they read and answer ProcessChanged.
func TestReadsVerifiedAfterPin(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{})
	ctx := context.Background()
	for _, action := range []string{"get", "restart"} {
		c := testproc.Sleeper(t)
		s.afterReads = func(pid int) {
			if pid == c.PID {
				_ = c.Kill()
				c.Wait()
			}
		}
		var err error
		if action == "get" {
			_, err = s.Get(ctx, root, Target{PID: c.PID})
		} else {
			_, err = s.Restart(ctx, root, Target{PID: c.PID})
		}
		s.afterReads = nil
		wantKind(t, action+" of a process that exits during the reads", err, ErrProcessChanged)
	}
}

// TestTargetByPIDFD: a pidfd names exactly its process: the action reaches
// it, a pidfd of a process that exited is NoSuchProcess even when its PID
// is reused, and a descriptor that is not a pidfd is InvalidArgument.
func TestTargetByPIDFD(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{})
	ctx := context.Background()
	c := testproc.Sleeper(t)
	fd, err := unix.PidfdOpen(c.PID, 0)
	if err != nil {
		t.Skip("no pidfd_open:", err)
	}
	defer unix.Close(fd)
	if _, err := s.Signal(ctx, root, Target{PIDFD: fd}, "STOP"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c.PID, func(b byte) bool { return b == 'T' }, "stopped")
	if err := s.Renice(ctx, root, Target{PIDFD: fd}, 4); err != nil || niceOf(t, c.PID) != 4 {
		t.Fatalf("renice by pidfd: %v, nice %d", err, niceOf(t, c.PID))
	}
	// The fd stays the caller's: still usable after the actions.
	if err := unix.PidfdSendSignal(fd, unix.SIGCONT, nil, 0); err != nil {
		t.Fatalf("the caller's pidfd was closed by the core: %v", err)
	}
	_ = c.Kill()
	c.Wait()
	_, err = s.Signal(ctx, root, Target{PIDFD: fd}, "TERM")
	wantKind(t, "signal through the pidfd of a reaped process", err, ErrNoSuchProcess)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	_, err = s.Signal(ctx, root, Target{PIDFD: int(r.Fd())}, "TERM")
	wantKind(t, "signal through a pipe", err, ErrInvalidArgument)
}

// TestListHonoursHidepid: with /proc mounted hidepid=invisible, uid 65534
// lists only its own processes, as ps would show it; root, a member of the
// mount's gid= group and a caller the inspect authority grants see all.
// The test mounts a private procfs instance in a mount namespace of its
// own (re-running itself there), never touching the host's mounts.
func TestListHonoursHidepid(t *testing.T) {
	requireRoot(t)
	if !testproc.InChild(t, "PROCWATCH_IN_MNTNS", "in a mount namespace",
		&syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}) {
		return
	}
	// Inside a mount namespace whose mounts are private (Go made them so).
	mine := sleeperAs(t, 65534, 65534, "3600")
	others := testproc.Sleeper(t)
	for _, tc := range []struct {
		opts string
		gid  uint32
	}{{"hidepid=invisible", 0}, {"hidepid=noaccess,gid=4242", 4242}} {
		dir := t.TempDir()
		if err := unix.Mount("proc", dir, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, tc.opts); err != nil {
			t.Skip("cannot mount a procfs instance with", tc.opts, err)
		}
		t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
		// Let uid 65534 reach the mount: t.TempDir's own dirs only, never
		// the shared temp dir itself.
		for p := filepath.Dir(dir); p != os.TempDir() && strings.HasPrefix(p, os.TempDir()+"/"); p = filepath.Dir(p) {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// The kernel's view first: uid 65534 reads its own process there,
		// not root's.
		read := func(pid int) error {
			return exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
				"cat", dir+"/"+strconv.Itoa(pid)+"/stat").Run()
		}
		if read(mine.PID) != nil || read(others.PID) == nil {
			t.Fatalf("%s: uid 65534 reads its own process: %v, root's: %v; the test's premise is wrong", tc.opts, read(mine.PID), read(others.PID))
		}
		s := newCore(t, Options{ProcRoot: dir})
		if s.procMount.hidepid == 0 {
			t.Fatalf("%s: the core did not read the mount options (%+v)", tc.opts, s.procMount)
		}
		nobody := Caller{UID: 65534, GIDs: []uint32{65534}, Name: "nobody"}
		ps := listAll(t, s, nobody)
		if find(t, ps, others.PID) != nil || find(t, ps, mine.PID) == nil {
			t.Errorf("%s: uid 65534's list has root's process: %v, its own: %v", tc.opts, find(t, ps, others.PID) != nil, find(t, ps, mine.PID) != nil)
		}
		for _, p := range ps {
			if p.UID != 65534 {
				t.Errorf("%s: uid 65534 sees process %d of uid %d", tc.opts, p.PID, p.UID)
				break
			}
		}
		yes := &authorizer{ok: true}
		if ps := listAll(t, s, Caller{UID: 65534, GIDs: []uint32{65534}, Authorize: yes.fn}); find(t, ps, others.PID) == nil {
			t.Errorf("%s: the inspect authority's grant does not show all", tc.opts)
		}
		if ps := listAll(t, s, root); find(t, ps, others.PID) == nil {
			t.Errorf("%s: root does not see all", tc.opts)
		}
		if tc.gid != 0 {
			if ps := listAll(t, s, Caller{UID: 65534, GIDs: []uint32{65534, tc.gid}}); find(t, ps, others.PID) == nil {
				t.Errorf("%s: a member of gid %d does not see all", tc.opts, tc.gid)
			}
		}
	}
}

// TestRestartDeadlineIsTheCores: a restart runs to its end under the
// core's own deadline whatever the transport's context does: a caller that
// has gone (a cancelled context) still gets a stop by SIGTERM and a start,
// never a process stopped and left stopped.
func TestRestartDeadlineIsTheCores(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{RestartTimeout: 5 * time.Second})
	c := testproc.Sleeper(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := s.Restart(ctx, root, Target{PID: c.PID})
	if err != nil {
		t.Fatalf("restart with the caller gone: %v", err)
	}
	t.Cleanup(func() { testproc.KillPID(res.NewPID) })
	c.ExitedBy(t, syscall.SIGTERM)
	testproc.WaitExec(t, res.NewPID)
	if st := testproc.StateOf(res.NewPID); st == 0 || st == 'Z' {
		t.Errorf("the relaunched process %d is not running (state %q)", res.NewPID, st)
	}
}
