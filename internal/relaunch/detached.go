package relaunch

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// helperEnv, set to 1, makes the daemon's binary (or a test binary whose
// TestMain calls RunHelperIfAsked) the relaunch helper: it reads a Spec on
// fd 3, applies it to itself and execs the program. Starting the binary
// with it gains nothing: the helper can only drop what its starter has.
const helperEnv = "ROY_PROCWATCH_RELAUNCH_HELPER"

// Detached is where a detached relaunch sent its output.
type Detached struct {
	PID            int
	Stdout, Stderr string // a file path, or /dev/null
}

// StartDetached starts spec in a new session when there is no systemd.
// A helper (this binary again) sets the limits, nice and oom_score_adj
// while it may, takes the credentials, reopens the output files for
// append as the target user, enters the working directory and execs
// spec.Path with the exact argv and environment bytes. The child is reaped
// by a goroutine so it never lingers as a zombie.
func StartDetached(spec Spec) (Detached, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return Detached{}, err
	}
	defer specR.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return Detached{}, err
	}
	defer repR.Close()
	// The running binary itself, even when an upgrade replaced its file.
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"roy-procwatch-relaunch"}
	cmd.Env = []string{helperEnv + "=1"}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{specR, repW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		specW.Close()
		repW.Close()
		return Detached{}, err
	}
	repW.Close()
	go func() { _ = cmd.Wait() }()
	encErr := gob.NewEncoder(specW).Encode(&spec)
	specW.Close()
	// The report pipe is close-on-exec in the helper: EOF after "exec"
	// means the program runs.
	rep, _ := io.ReadAll(io.LimitReader(repR, 64<<10))
	d := Detached{PID: cmd.Process.Pid, Stdout: "/dev/null", Stderr: "/dev/null"}
	execd := false
	var errs []string
	for _, line := range strings.Split(string(rep), "\n") {
		switch k, v, _ := strings.Cut(line, " "); k {
		case "stdout":
			d.Stdout = v
		case "stderr":
			d.Stderr = v
		case "exec":
			execd = true
		case "error":
			errs = append(errs, v)
		}
	}
	switch {
	case len(errs) > 0:
		return Detached{}, errors.New(strings.Join(errs, "; "))
	case encErr != nil:
		return Detached{}, fmt.Errorf("cannot pass the record to the relaunch helper: %w", encErr)
	case !execd:
		return Detached{}, errors.New("the relaunch helper exited before starting the program")
	}
	return d, nil
}

// RunHelperIfAsked is called first thing in main (and in the TestMain of
// tests that relaunch): in the helper it never returns.
func RunHelperIfAsked() {
	if os.Getenv(helperEnv) == "1" {
		runHelper()
	}
}

func runHelper() {
	// setpriority(PRIO_PROCESS, 0) sets this thread only: keep every
	// step, and the exec, on one thread.
	runtime.LockOSThread()
	rep := os.NewFile(4, "report")
	fail := func(format string, args ...any) {
		fmt.Fprintf(rep, "error "+format+"\n", args...)
		os.Exit(127)
	}
	if rep == nil {
		os.Exit(127)
	}
	unix.CloseOnExec(4)
	var spec Spec
	if err := gob.NewDecoder(os.NewFile(3, "spec")).Decode(&spec); err != nil {
		fail("cannot read the relaunch record: %v", err)
	}
	unix.Close(3)
	root := os.Geteuid() == 0
	// While still root: what an unprivileged process may not raise.
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, spec.Nice); err != nil {
		fail("cannot set nice %d: %v", spec.Nice, err)
	}
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(spec.OOMScoreAdj)), 0); err != nil {
		fail("cannot set oom_score_adj %d: %v", spec.OOMScoreAdj, err)
	}
	if root {
		// Groups and gids first, the uid last (it drops the capabilities).
		groups := make([]int, len(spec.Groups))
		for i, g := range spec.Groups {
			groups[i] = int(g)
		}
		if err := syscall.Setgroups(groups); err != nil {
			fail("cannot set groups %v: %v", spec.Groups, err)
		}
		if err := syscall.Setresgid(int(spec.GID), int(spec.GID), int(spec.GID)); err != nil {
			fail("cannot set gid %d: %v", spec.GID, err)
		}
	}
	// The limits as late as possible (a low RLIMIT_AS would stop this Go
	// program), but before the uid change, so hard limits above ours can
	// still be set.
	for _, l := range spec.Limits {
		lim := unix.Rlimit{Cur: l.Cur, Max: l.Max}
		if err := unix.Prlimit(0, l.Resource, &lim, nil); err != nil {
			fail("cannot set limit %s to %d/%d: %v", l.Name, l.Cur, l.Max, err)
		}
	}
	if root {
		if err := syscall.Setresuid(int(spec.UID), int(spec.UID), int(spec.UID)); err != nil {
			fail("cannot set uid %d: %v", spec.UID, err)
		}
	}
	// As the target user: the kernel checks these opens and the chdir.
	reopen := func(fd int, path, name string) {
		where := "/dev/null"
		if path != "" {
			f, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			if err == nil {
				if err := unix.Dup3(f, fd, 0); err == nil {
					where = path
				}
				unix.Close(f)
			}
		}
		if where == "/dev/null" {
			f, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				fail("cannot open /dev/null: %v", err)
			}
			_ = unix.Dup3(f, fd, 0)
			unix.Close(f)
		}
		fmt.Fprintf(rep, "%s %s\n", name, where)
	}
	reopen(1, spec.Stdout, "stdout")
	reopen(2, spec.Stderr, "stderr")
	if spec.Cwd == "" || unix.Chdir(spec.Cwd) != nil {
		_ = unix.Chdir("/")
	}
	env := spec.Env
	if env == nil {
		env = []string{}
	}
	fmt.Fprintln(rep, "exec")
	err := syscall.Exec(spec.Path, spec.Argv, env)
	fail("cannot execute %s: %v", spec.Path, err)
}
