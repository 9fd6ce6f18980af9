// Package testproc holds the process helpers the tests of several packages
// share: the test binary re-executed as a helper process (RunHelper),
// children started, killed and reaped for a test (Start, Helper, Sleeper),
// polling with a deadline, free ports and building the daemon.
//
// It is for tests only: no production code may import it. It is a non-test
// package all the same, so it obeys the project's rule for non-test code
// (docs/security.md, case C3, checked by TestNoSignalByPID): it signals processes only
// through pidfds, never by bare PID.
package testproc

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Poll calls cond every 5 ms until it returns true, and fails the test
// when d passes first.
func Poll(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	PollEvery(t, d, 5*time.Millisecond, what, cond)
}

// PollEvery is Poll calling cond every interval.
func PollEvery(t testing.TB, d, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(interval)
	}
}

// WaitExec waits until pid has finished exec: the kernel fills
// /proc/PID/cmdline only late in execve, after the close-on-exec pipe that
// makes exec.Cmd.Start return, so a fresh child can briefly show an empty
// command line (measured: 17 of 300 reads right after Start).
func WaitExec(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil || len(b) > 0 {
			return // gone (the caller will see it) or exec done
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never finished exec", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// KillPID kills a process that is not an exec.Cmd of ours (a relaunched
// one) through a pidfd, so a recycled PID is never hit, and waits up to
// 5 s for it to exit.
func KillPID(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	_, _ = unix.Poll(fds, 5000)
}

// StateOf is the state letter of pid from /proc/PID/stat (0 if it is gone).
// It reads the file itself, not through the code under test.
func StateOf(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// SigIgnored says whether pid ignores sig (the SigIgn mask of its status),
// whatever else it ignores (make and CI runners may ignore SIGINT/SIGQUIT,
// which children inherit).
func SigIgnored(pid int, sig syscall.Signal) bool {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}

// FreeLoopbackPort asks the kernel for a free 127.0.0.1 TCP port, never
// the default 8088 (other jobs on the machine may use it).
func FreeLoopbackPort() (int, error) {
	for {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p != 8088 {
			return p, nil
		}
	}
}

// FreePort is FreeLoopbackPort that fails the test on an error.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// SyncBuffer collects a process's output (or a log) while tests read it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// GoTool is the go command: the one on PATH, else the one of the GOROOT
// the tests were built with.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	//lint:ignore SA1019 the tests run on the machine that built them, where the build's GOROOT is right
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// DaemonPackage is the import path of roy-procwatchd's main package.
const DaemonPackage = "github.com/roy/roy-procwatch/daemon"

// BuildDaemon builds roy-procwatchd into bin, passing extra flags (such as
// -race) to go build. The compiler's output goes to stderr. It may be
// called from any directory of the module.
func BuildDaemon(bin string, extra ...string) error {
	args := append([]string{"build", "-o", bin}, extra...)
	build := exec.Command(GoTool(), append(args, DaemonPackage)...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	return build.Run()
}

// RequireRoot skips the test unless it runs as root and not in -short
// mode (the package build runs -short, unprivileged).
func RequireRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs root: not in -short mode (the package build)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// InChild runs the calling top-level test again in a child copy of the
// test binary, with env=1 in its environment and attr (new namespaces,
// say; the child dies with the parent), and reports the child's outcome as
// this test's: a skip, a failure or a pass, with the child's output. It
// returns true in the child (env is set), which then does the test's
// work, and false in the parent, which must return. where says where the
// child runs, for the messages ("in a PID namespace").
func InChild(t *testing.T, env, where string, attr *syscall.SysProcAttr) bool {
	t.Helper()
	if os.Getenv(env) != "" {
		return true
	}
	name := t.Name()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"=1")
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	result := func(r string) bool { // go test -v's own line for this test
		return bytes.Contains(append([]byte("\n"), out...), []byte("\n--- "+r+": "+name+" "))
	}
	switch {
	case err != nil && !errors.As(err, &ee):
		t.Skipf("cannot start the test %s: %v", where, err)
	case result("SKIP"):
		t.Skipf("skipped %s:\n%s", where, out)
	case err != nil || !result("PASS"):
		t.Fatalf("%s: %v\n%s", where, err, out)
	}
	t.Logf("%s:\n%s", where, out)
	return false
}
