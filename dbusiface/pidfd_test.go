package dbusiface

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestPIDFDMethods: SignalPIDFD, RenicePIDFD and RestartPIDFD take a pidfd
// from a godbus client over the private bus (with the project's policy),
// as root and as uid 65534: the same rules as the PID methods, and the
// pidfd, not a PID, names the process.
func TestPIDFDMethods(t *testing.T) {
	b := startBus(t)
	pidfd := func(t *testing.T, pid int) dbus.UnixFD {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return dbus.UnixFD(fd)
	}

	t.Run("root", func(t *testing.T) {
		c := spawn(t, -1)
		fd := pidfd(t, c.PID)
		if err := b.rootCall("SignalPIDFD", fd, "STOP").Err; err != nil {
			t.Fatal(err)
		}
		testproc.Poll(t, 5e9, "stopped", func() bool { return testproc.StateOf(c.PID) == 'T' })
		if err := b.rootCall("RenicePIDFD", fd, int32(7)).Err; err != nil {
			t.Fatal(err)
		}
		if p, err := unix.Getpriority(unix.PRIO_PROCESS, c.PID); err != nil || 20-p != 7 {
			t.Errorf("nice after RenicePIDFD: %d (%v), want 7", 20-p, err)
		}
		var newPID uint32
		var unit string
		if err := b.rootCall("RestartPIDFD", fd).Store(&newPID, &unit); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { testproc.KillPID(int(newPID)) })
		if newPID == 0 || int(newPID) == c.PID {
			t.Errorf("RestartPIDFD returned new pid %d (old %d)", newPID, c.PID)
		}
		// The pidfd still names the old, now ended, process: never the new one.
		c.Wait()
		err := b.rootCall("SignalPIDFD", fd, "TERM").Err
		if de, ok := err.(dbus.Error); !ok || de.Name != ErrNoSuchProcess {
			t.Errorf("SignalPIDFD through the pidfd of an ended process: %v, want %s", err, ErrNoSuchProcess)
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		err = b.rootCall("SignalPIDFD", dbus.UnixFD(r.Fd()), "TERM").Err
		if de, ok := err.(dbus.Error); !ok || de.Name != ErrInvalidArgument {
			t.Errorf("SignalPIDFD with a pipe: %v, want %s", err, ErrInvalidArgument)
		}
	})

	t.Run("nobody", func(t *testing.T) {
		others := spawn(t, -1)
		res := b.asNobody("signal-pidfd", strconv.Itoa(others.PID), "TERM")
		if res.Error != ErrAccessDenied {
			t.Errorf("uid 65534 SignalPIDFD on root's process: %+v, want %s", res, ErrAccessDenied)
		}
		if testproc.StateOf(others.PID) == 0 {
			t.Fatal("root's process was killed by uid 65534")
		}
		res = b.asNobody("renice-pidfd", strconv.Itoa(others.PID), "10")
		if res.Error != ErrAccessDenied {
			t.Errorf("uid 65534 RenicePIDFD on root's process: %+v, want %s", res, ErrAccessDenied)
		}
		res = b.asNobody("restart-pidfd", strconv.Itoa(others.PID))
		if res.Error != ErrAccessDenied {
			t.Errorf("uid 65534 RestartPIDFD on root's process: %+v, want %s", res, ErrAccessDenied)
		}
		res = b.asNobody("signal-pipe", "0", "TERM")
		if res.Error != ErrInvalidArgument {
			t.Errorf("uid 65534 SignalPIDFD with a pipe: %+v, want %s", res, ErrInvalidArgument)
		}
		mine := spawn(t, nobody)
		testproc.WaitExec(t, mine.PID)
		// 19: never below the current value, even when the tests run
		// under nice (lowering needs the authority).
		if res := b.asNobody("renice-pidfd", strconv.Itoa(mine.PID), "19"); res.Error != "" {
			t.Errorf("uid 65534 RenicePIDFD on its own process: %+v", res)
		}
		if res := b.asNobody("signal-pidfd", strconv.Itoa(mine.PID), "KILL"); res.Error != "" {
			t.Errorf("uid 65534 SignalPIDFD on its own process: %+v", res)
		}
		if !mine.Exited(5e9) {
			t.Error("uid 65534's process did not die from its SignalPIDFD KILL")
		}
	})
}

// TestGetFollowsKernelReadRule: over the bus, uid 65534 gets the
// environment of its own plain process, but not of its own non-dumpable
// one (like ssh-agent) nor of one running with a group it lacks, as the
// kernel refuses it too.
func TestGetFollowsKernelReadRule(t *testing.T) {
	b := startBus(t)
	plain := spawn(t, nobody)
	nodump := testproc.Helper(t, "nodump")
	cmd := exec.Command("sleep", "300")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: 0, Groups: []uint32{}}}
	group0 := testproc.Start(t, cmd).ReapInBackground()
	testproc.WaitExec(t, plain.PID)
	testproc.WaitExec(t, group0.PID)

	get := func(pid int) map[string]any {
		t.Helper()
		r := b.asNobody("get", strconv.Itoa(pid))
		if r.Error != "" || len(r.Body) != 1 {
			t.Fatalf("GetProcess %d as uid 65534: %+v", pid, r)
		}
		return r.Body[0].(map[string]any)
	}
	if d := get(plain.PID); d["environ"] == nil || d["exe"] == "" {
		t.Errorf("own plain process: environ %v, exe %q", d["environ"] != nil, d["exe"])
	}
	for name, pid := range map[string]int{"non-dumpable": nodump.PID, "gid 0": group0.PID} {
		d := get(pid)
		if _, ok := d["environ"]; ok || d["exe"] != "" || d["cwd"] != "" {
			t.Errorf("%s own process: environ %v, exe %q, cwd %q: the kernel would refuse them", name, ok, d["exe"], d["cwd"])
		}
	}
}
