package testproc

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Child is a process a test started. It is reaped only by Wait (or at
// cleanup), so until then its PID stays taken, even as a zombie.
type Child struct {
	Cmd  *exec.Cmd
	PID  int
	Line string // the first line it printed (StartLine, Helper)

	mu    sync.Mutex
	pidfd int // -1 once reaped, or when there is none

	once  sync.Once
	state *os.ProcessState
	done  chan struct{}
}

func newChild(cmd *exec.Cmd, pidfd int) *Child {
	return &Child{Cmd: cmd, PID: cmd.Process.Pid, pidfd: pidfd, done: make(chan struct{})}
}

// Adopt wraps a started, not yet reaped cmd; nothing kills it at cleanup.
func Adopt(cmd *exec.Cmd) *Child {
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0) // ours and not reaped: cannot be a recycled PID
	if err != nil {
		fd = -1
	}
	return newChild(cmd, fd)
}

// Wait reaps the child (once) and returns how it ended.
func (c *Child) Wait() *os.ProcessState {
	c.once.Do(func() {
		_ = c.Cmd.Wait()
		c.state = c.Cmd.ProcessState
		c.mu.Lock()
		if c.pidfd >= 0 {
			unix.Close(c.pidfd)
			c.pidfd = -1
		}
		c.mu.Unlock()
		close(c.done)
	})
	<-c.done
	return c.state
}

// Done is closed once the child is reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// ReapInBackground reaps the child as soon as it exits, so it never
// lingers as a zombie; Wait and Done still say when and how it ended.
func (c *Child) ReapInBackground() *Child {
	go c.Wait()
	return c
}

// Exited waits up to d for the child to be reaped (by ReapInBackground or
// another Wait) and says whether it was.
func (c *Child) Exited(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// WaitExit waits (with a deadline) for the child to end and returns how.
func (c *Child) WaitExit(t testing.TB, d time.Duration) *os.ProcessState {
	t.Helper()
	ch := make(chan *os.ProcessState, 1)
	go func() { ch <- c.Wait() }()
	select {
	case st := <-ch:
		return st
	case <-time.After(d):
		t.Fatalf("process %d did not exit within %v", c.PID, d)
		return nil
	}
}

// ExitedBy fails the test unless the child ends, within 10 s, killed by sig.
func (c *Child) ExitedBy(t testing.TB, sig syscall.Signal) {
	t.Helper()
	st := c.WaitExit(t, 10*time.Second)
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != sig {
		t.Fatalf("process %d ended with %v, want killed by %v", c.PID, st, sig)
	}
}

// Signal sends sig to the child through its pidfd: once it is reaped, it
// returns os.ErrProcessDone, and a recycled PID is never hit.
func (c *Child) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pidfd < 0 {
		return os.ErrProcessDone
	}
	return unix.PidfdSendSignal(c.pidfd, sig, nil, 0)
}

// Kill sends SIGKILL to the child (see Signal).
func (c *Child) Kill() error { return c.Signal(syscall.SIGKILL) }

// start starts cmd as a test child: it dies with the test process
// (Pdeathsig), and is killed and reaped at cleanup. Its pidfd comes from
// clone itself (so it works where pidfd_open is denied).
func start(t testing.TB, cmd *exec.Cmd, wantLine bool) *Child {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	pidfd := -1
	cmd.SysProcAttr.PidFD = &pidfd
	var out io.Reader
	if wantLine {
		p, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		out = p
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	c := newChild(cmd, pidfd)
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.Signal(syscall.SIGCONT) // a stopped child still dies of KILL, but be tidy
			_ = c.Kill()
			c.Wait()
		}
	})
	if !wantLine {
		WaitExec(t, c.PID)
		return c
	}
	ch := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		ch <- strings.TrimSpace(l)
	}()
	select {
	case c.Line = <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("child %v printed nothing", cmd.Args)
	}
	if c.Line == "" || strings.HasPrefix(c.Line, "error") {
		t.Fatalf("child %v failed: %q", cmd.Args, c.Line)
	}
	return c
}

// Start starts cmd as a test child (see Child) and waits until it has
// finished exec.
func Start(t testing.TB, cmd *exec.Cmd) *Child {
	t.Helper()
	return start(t, cmd, false)
}

// StartLine starts cmd as a test child and reads (with a deadline) the
// first line of its stdout into Child.Line; an empty line or one that
// starts with "error" fails the test.
func StartLine(t testing.TB, cmd *exec.Cmd) *Child {
	t.Helper()
	return start(t, cmd, true)
}

// Sleeper starts `sleep 3600` (argv[1] makes it recognisable).
func Sleeper(t testing.TB) *Child {
	t.Helper()
	return Start(t, exec.Command("sleep", "3600"))
}

// StartPiped starts cmd as a test child (see Start) with a pipe to its
// stdin and one from its stdout. The stdin is closed at cleanup, before the
// child is killed.
func StartPiped(t testing.TB, cmd *exec.Cmd) (c *Child, stdin io.WriteCloser, stdout *bufio.Reader) {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c = Start(t, cmd)
	t.Cleanup(func() { in.Close() })
	return c, in, bufio.NewReader(out)
}
