package procs

// Test helpers: real child processes (the test binary re-executed in a
// helper mode, or /bin/sleep and sh), killed and reaped by t.Cleanup, and
// small /proc readers that do not go through the code under test.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const helperEnv = "PROCWATCH_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
		return
	}
	os.Exit(m.Run())
}

// runHelper is the child side. It prints one line (what the parent needs)
// and then blocks until killed.
func runHelper(mode string) {
	hold := func() {
		for {
			time.Sleep(time.Hour)
		}
	}
	acceptAll := func(l net.Listener) {
		var conns []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // hold them open
		}
	}
	switch mode {
	case "listen4", "listen6":
		network, addr := "tcp4", "127.0.0.1:0"
		if mode == "listen6" {
			network, addr = "tcp6", "[::1]:0"
		}
		l, err := net.Listen(network, addr)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println(l.Addr().String())
		go acceptAll(l)
		hold()
	case "connect":
		c, err := net.Dial("tcp", os.Getenv("PROCWATCH_TEST_ADDR"))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println(c.LocalAddr().String())
		defer c.Close()
		hold()
	case "udp4":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println(c.LocalAddr().String())
		hold()
	case "swap":
		runSwapHelper() // fdcache_test.go
	case "threads":
		// Pin a few goroutines to their own OS threads so the process has
		// several threads for certain, and say ready once they all run.
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				runtime.LockOSThread()
				wg.Done()
				select {}
			}()
		}
		wg.Wait()
		fmt.Println("ready")
		hold()
	case "setresuid":
		// Like a setuid-root program started by uid 65534: real uid 65534,
		// effective and saved uid 0 (Go applies it to every thread).
		if err := unix.Setresuid(65534, 0, 0); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println("ready")
		hold()
	case "threadspawner":
		// Keep starting long-lived threads, as a pool warming up does.
		fmt.Println("ready")
		for i := 0; i < 400; i++ {
			started := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				close(started)
				select {}
			}()
			<-started
			time.Sleep(2 * time.Millisecond)
		}
		hold()
	default:
		fmt.Println("ready")
		hold()
	}
}

// child is a spawned process.
type child struct {
	cmd   *exec.Cmd
	pid   int
	line  string // first line it printed (helpers)
	once  sync.Once
	state *os.ProcessState
	done  chan struct{}
}

// wait reaps the child (once) and returns how it ended.
func (c *child) wait() *os.ProcessState {
	c.once.Do(func() {
		_ = c.cmd.Wait()
		c.state = c.cmd.ProcessState
		close(c.done)
	})
	<-c.done
	return c.state
}

// waitExit waits (with a deadline) for the child to end and returns how.
func (c *child) waitExit(t *testing.T, d time.Duration) *os.ProcessState {
	t.Helper()
	ch := make(chan *os.ProcessState, 1)
	go func() { ch <- c.wait() }()
	select {
	case st := <-ch:
		return st
	case <-time.After(d):
		t.Fatalf("process %d did not exit within %v", c.pid, d)
		return nil
	}
}

func (c *child) exitedBy(t *testing.T, sig syscall.Signal) {
	t.Helper()
	st := c.waitExit(t, 10*time.Second)
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != sig {
		t.Fatalf("process %d ended with %v, want killed by %v", c.pid, st, sig)
	}
}

// startChild starts cmd as a test child: it dies with the test process
// (Pdeathsig) and is killed and reaped at cleanup. With wantLine, the first
// line of its stdout is read (with a deadline) into child.line.
func startChild(t *testing.T, cmd *exec.Cmd, wantLine bool) *child {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
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
	c := &child{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped child still dies of KILL, but be tidy
			_ = cmd.Process.Kill()
			c.wait()
		}
	})
	if !wantLine {
		waitExec(t, c.pid)
	}
	if wantLine {
		ch := make(chan string, 1)
		go func() {
			l, _ := bufio.NewReader(out).ReadString('\n')
			ch <- strings.TrimSpace(l)
		}()
		select {
		case c.line = <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("child %v printed nothing", cmd.Args)
		}
		if c.line == "" || strings.HasPrefix(c.line, "error") {
			t.Fatalf("child %v failed: %q", cmd.Args, c.line)
		}
	}
	return c
}

// helper starts the test binary in a helper mode.
func helper(t *testing.T, mode string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	return startChild(t, cmd, true)
}

// sleeper starts /bin/sleep (argv[1] makes it recognisable).
func sleeper(t *testing.T) *child {
	t.Helper()
	return startChild(t, exec.Command("sleep", "3600"), false)
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
func procStat(pid int) (statFields, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return statFields{}, err
	}
	return parseStat(b)
}

// poll calls cond until it returns true or the deadline passes.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitState(t *testing.T, pid int, want func(byte) bool, what string) {
	t.Helper()
	poll(t, 10*time.Second, fmt.Sprintf("process %d to be %s", pid, what), func() bool {
		st, err := procStat(pid)
		return err == nil && want(st.state)
	})
}

// alive says whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	st, err := procStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
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

// killPID kills a process that is not an exec.Cmd of ours (a relaunched
// one) through a pidfd, so a recycled PID is never hit.
func killPID(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	_, _ = unix.Poll(fds, 5000)
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

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func wantKind(t *testing.T, what string, err error, sentinel *Error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got %v (kind %v), want %v", what, err, KindOf(err), sentinel.Kind)
	}
}

// waitExec waits until pid has finished exec: the kernel fills
// /proc/PID/cmdline only late in execve, after the close-on-exec pipe that
// makes exec.Cmd.Start return, so a fresh child can briefly show an empty
// command line (measured: 17 of 300 reads right after Start).
func waitExec(t *testing.T, pid int) {
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
