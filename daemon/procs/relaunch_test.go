package procs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/procfs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// The relaunch must never lend privilege and must be a faithful copy
// (issue 8 items 1, 3 and 15, issue 10 item 6). These tests take the
// detached path (no systemd); test/e2e covers the transient unit.

func procFile(t *testing.T, pid int, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestartGroupRule (item 1): a non-root caller may restart only a
// process whose real, effective and saved gids are all among its own
// groups and which is dumpable; otherwise it needs the restart authority.
func TestRestartGroupRule(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{RestartTimeout: time.Second})
	ctx := context.Background()

	// Real gid 42 (shadow on Debian), uid 65534, dumpable.
	cmd := exec.Command("sleep", "3600")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 42, Groups: []uint32{}}}
	other := testproc.Start(t, cmd)
	attack := testproc.Helper(t, "setresgid", "LD_PRELOAD=/nonexistent/evil.so")
	nodump := testproc.Helper(t, "nodump")

	if g, _ := procfs.IDsFromStatus(procFile(t, attack.PID, "status"), "Gid"); g != [3]uint32{42, 42, 42} {
		t.Fatalf("setresgid helper gids %v", g)
	}
	for _, tc := range []struct {
		name string
		pid  int
	}{
		{"real gid not the caller's", other.PID},
		{"setgid program made its gid real, LD_PRELOAD in env", attack.PID},
		{"not dumpable", nodump.PID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			no := &authorizer{ok: false}
			caller := Caller{UID: 65534, GIDs: []uint32{65534}, Name: "nobody", Authorize: no.fn}
			_, err := s.Restart(ctx, caller, Target{PID: tc.pid})
			wantKind(t, "Restart", err, ErrAccessDenied)
			if want := []string{ActionRestart + " " + strconv.Itoa(tc.pid)}; !slices.Equal(no.calls, want) {
				t.Errorf("authority calls %q, want %q (the polkit path)", no.calls, want)
			}
			if !alive(tc.pid) {
				t.Fatal("the refused restart stopped the target")
			}
		})
	}

	// With gid 42 among its groups the caller may restart the dumpable
	// one itself; the copy gets no group the caller lacks.
	never := func(_ context.Context, action string, pid int) (bool, error) {
		t.Errorf("authority asked for %s on %d: the caller has the uid and the gid", action, pid)
		return false, nil
	}
	res, err := s.Restart(ctx, Caller{UID: 65534, GIDs: []uint32{65534, 42}, Name: "nobody+42", Authorize: never}, Target{PID: other.PID})
	if err != nil {
		t.Fatalf("Restart by a caller in group 42: %v", err)
	}
	t.Cleanup(func() { testproc.KillPID(res.NewPID) })
	testproc.WaitExec(t, res.NewPID)
	st := procFile(t, res.NewPID, "status")
	uids, _ := procfs.IDsFromStatus(st, "Uid")
	gids, _ := procfs.IDsFromStatus(st, "Gid")
	if uids != [3]uint32{65534, 65534, 65534} || gids != [3]uint32{42, 42, 42} {
		t.Errorf("relaunched as uids %v gids %v", uids, gids)
	}
	for _, g := range procfs.GroupsFromStatus(st) {
		if g != 65534 && g != 42 {
			t.Errorf("relaunched process has group %d the caller lacks", g)
		}
	}
}

// TestRelaunchFaithful (items 3 and 15, issue 10 item 6): bytes that are
// not UTF-8 stay bytes, the copy runs under its argv[0] name (sh, not
// dash), keeps nice, every rlimit and oom_score_adj, and writes to the
// same output file, appending.
func TestRelaunchFaithful(t *testing.T) {
	requireRoot(t)
	s := newCore(t, Options{RestartTimeout: time.Second})
	dir := t.TempDir()
	logPath := filepath.Join(dir, "out.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("sh", "-c", `echo started; sleep 3600; : "$@"`, "argzero", "bad\xff\xfeutf8", "$HOME ${X} %n \\ \"q\"", "nl\nnl")
	cmd.Args[0] = "sh"
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "RAW=\xff\xfe", "DOLLAR=$HOME"}
	cmd.Stdout = logf
	c := testproc.Start(t, cmd)
	testproc.Poll(t, 10*time.Second, "the shell to write its first line", func() bool {
		b, _ := os.ReadFile(logPath)
		return string(b) == "started\n"
	})
	// Resource settings the copy must keep.
	if err := unix.Setpriority(unix.PRIO_PROCESS, c.PID, 7); err != nil {
		t.Fatal(err)
	}
	for res, lim := range map[int]unix.Rlimit{
		unix.RLIMIT_NOFILE: {Cur: 77, Max: 88},
		unix.RLIMIT_CORE:   {Cur: 0, Max: 1 << 20},
		unix.RLIMIT_NPROC:  {Cur: 5000, Max: 6000},
		unix.RLIMIT_CPU:    {Cur: 1000, Max: 2000},
	} {
		if err := unix.Prlimit(c.PID, res, &lim, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("/proc/"+strconv.Itoa(c.PID)+"/oom_score_adj", []byte("300"), 0); err != nil {
		t.Fatal(err)
	}
	oldCmd := procFile(t, c.PID, "cmdline")
	oldLimits := procFile(t, c.PID, "limits")
	oldComm := procFile(t, c.PID, "comm")

	res, err := s.Restart(context.Background(), root, Target{PID: c.PID})
	if err != nil {
		t.Fatalf("Restart: %v", err)
	}
	// The copy's process group: sh and its sleep.
	t.Cleanup(func() { _ = unix.Kill(-res.NewPID, unix.SIGKILL) })
	testproc.Poll(t, 10*time.Second, "the copy to run sh", func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(res.NewPID) + "/cmdline")
		return bytes.Equal(b, oldCmd)
	})
	np := res.NewPID
	env := procFile(t, np, "environ")
	for _, kv := range []string{"RAW=\xff\xfe", "DOLLAR=$HOME"} {
		if !bytes.Contains(env, []byte("\x00"+kv+"\x00")) && !bytes.HasPrefix(env, []byte(kv+"\x00")) {
			t.Errorf("environment entry %q not kept as bytes: %q", kv, env)
		}
	}
	if got := procFile(t, np, "comm"); !bytes.Equal(got, oldComm) {
		t.Errorf("copy named %q, was %q", got, oldComm)
	}
	if got := niceOf(t, np); got != 7 {
		t.Errorf("nice %d, want 7", got)
	}
	if got := procFile(t, np, "limits"); !bytes.Equal(got, oldLimits) {
		t.Errorf("limits:\n%s\nwant\n%s", got, oldLimits)
	}
	if got := strings.TrimSpace(string(procFile(t, np, "oom_score_adj"))); got != "300" {
		t.Errorf("oom_score_adj %s, want 300", got)
	}
	if l, _ := os.Readlink("/proc/" + strconv.Itoa(np) + "/fd/1"); l != logPath {
		t.Errorf("stdout of the copy is %q, want %s", l, logPath)
	}
	testproc.Poll(t, 10*time.Second, "the copy to append its first line", func() bool {
		b, _ := os.ReadFile(logPath)
		return string(b) == "started\nstarted\n"
	})
}

// TestRelaunchRefusesOverCap (item 15): an argv or environment longer than
// the read cap is refused (NotRestartable) before anything is stopped,
// never relaunched cut.
func TestRelaunchRefusesOverCap(t *testing.T) {
	s := newCore(t, Options{RestartTimeout: time.Second})
	long := strings.Repeat("x", 1023)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{"argv", append([]string{"sh", "-c", "read x"}, slices.Repeat([]string{long}, 143)...), []string{"PATH=/usr/bin:/bin"}},
		{"environ", []string{"sh", "-c", "read x"}, manyVars(143, long)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("/bin/sh")
			cmd.Args = tc.args
			cmd.Env = tc.env
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			c := testproc.Start(t, cmd)
			res, err := s.Restart(context.Background(), root, Target{PID: c.PID})
			if err == nil {
				testproc.KillPID(res.NewPID)
			}
			wantKind(t, "Restart of a process with a "+tc.name+" over the cap", err, ErrNotRestartable)
			if !alive(c.PID) {
				t.Fatal("the refused restart stopped the target")
			}
		})
	}
}

// manyVars is PATH and n distinct variables set to v (os/exec drops
// repeated names).
func manyVars(n int, v string) []string {
	env := []string{"PATH=/usr/bin:/bin"}
	for i := 0; i < n; i++ {
		env = append(env, "V"+strconv.Itoa(i)+"="+v)
	}
	return env
}
