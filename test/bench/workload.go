package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// workload is the processes and sockets the bench spawns. Every child is in
// one process group (pgid) and gets SIGKILL when the driver dies
// (Pdeathsig), so nothing outlives the bench, whatever stops it.
type workload struct {
	mu      sync.Mutex
	pgid    int
	cmds    []*exec.Cmd
	holders []int // PIDs of the socket holders
	stdins  []io.Closer
}

// sysAttr puts a child in the workload's process group, with SIGKILL on the
// driver's death.
func (w *workload) sysAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pgid: w.pgid, Pdeathsig: syscall.SIGKILL}
}

// start runs cmd in the group and remembers it for cleanup.
func (w *workload) start(cmd *exec.Cmd) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	cmd.SysProcAttr = w.sysAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	if w.pgid == 0 {
		w.pgid = cmd.Process.Pid
	}
	w.cmds = append(w.cmds, cmd)
	return nil
}

// spawn starts holders socket-holding helpers (this program in hold mode)
// sharing listen listeners and conns established connections, then
// sleepers `sleep` processes, for procs processes in all.
func (w *workload) spawn(self string, procs, holders, listen, conns int, pgidFile string) error {
	if holders > procs {
		holders = procs
	}
	if holders == 0 && (listen > 0 || conns > 0) {
		return fmt.Errorf("-holders 0 cannot hold %d listeners and %d connections", listen, conns)
	}
	for i := 0; i < holders; i++ {
		l := share(listen, holders, i)
		c := share(conns, holders, i)
		cmd := exec.Command(self, "hold", "-listen", strconv.Itoa(l), "-conns", strconv.Itoa(c))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		cmd.Stderr = os.Stderr
		if err := w.start(cmd); err != nil {
			return fmt.Errorf("cannot start socket holder: %w", err)
		}
		if i == 0 && pgidFile != "" {
			if err := os.WriteFile(pgidFile, []byte(strconv.Itoa(w.pgid)+"\n"), 0o600); err != nil {
				return err
			}
		}
		w.stdins = append(w.stdins, stdin)
		line, err := readLineTimeout(out, 30*time.Second)
		if err != nil || !strings.HasPrefix(line, "ready") {
			return fmt.Errorf("socket holder %d did not get ready (%q, %v)", i, line, err)
		}
		w.holders = append(w.holders, cmd.Process.Pid)
	}
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		return fmt.Errorf("no sleep binary: %w", err)
	}
	for i := holders; i < procs; i++ {
		cmd := exec.Command(sleepPath, "infinity")
		if err := w.start(cmd); err != nil {
			return fmt.Errorf("cannot start sleeper %d (raise ulimit -u?): %w", i, err)
		}
		if i == 0 && pgidFile != "" {
			if err := os.WriteFile(pgidFile, []byte(strconv.Itoa(w.pgid)+"\n"), 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// share is part i of n spread over k parts.
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

func readLineTimeout(r io.Reader, d time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(d):
		return "", fmt.Errorf("timeout after %s", d)
	}
}

// signalChild signals a child we started and have not reaped (so its PID
// cannot have been reused) through a pidfd: the project signals nothing by
// bare PID (docs/security.md, case C3), and the bench follows the rule.
func signalChild(c *exec.Cmd, sig unix.Signal) error {
	if c.Process == nil || c.ProcessState != nil {
		return nil
	}
	fd, err := unix.PidfdOpen(c.Process.Pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// cleanup kills every child and reaps it. Safe to call twice. (Pdeathsig
// and the caller's trap on the process group cover a driver that dies.)
func (w *workload) cleanup() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.stdins {
		c.Close()
	}
	w.stdins = nil
	for _, c := range w.cmds {
		_ = signalChild(c, unix.SIGKILL)
	}
	done := make(chan struct{})
	cmds := w.cmds
	go func() {
		for _, c := range cmds {
			_ = c.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "bench: some workload processes did not exit in 10s")
	}
	w.cmds = nil
	w.pgid = 0
}

// hold is the socket-holder mode: listen on n loopback TCP ports (every
// fifth on ::1 when IPv6 works), make c connections to them, accept them,
// say "ready" and wait for stdin to close.
func hold(listen, conns int) error {
	var keep []net.Conn
	var lns []net.Listener
	v6 := true
	for i := 0; i < listen; i++ {
		addr := "127.0.0.1:0"
		if v6 && i%5 == 4 {
			addr = "[::1]:0"
		}
		l, err := net.Listen("tcp", addr)
		if err != nil && addr != "127.0.0.1:0" {
			v6 = false
			l, err = net.Listen("tcp", "127.0.0.1:0")
		}
		if err != nil {
			return err
		}
		lns = append(lns, l)
	}
	if conns > 0 && len(lns) == 0 {
		return fmt.Errorf("%d connections need at least one listener", conns)
	}
	for i := 0; i < conns; i++ {
		l := lns[i%len(lns)]
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return err
		}
		s, err := l.Accept()
		if err != nil {
			return err
		}
		keep = append(keep, c, s)
	}
	fmt.Printf("ready %d %d\n", len(lns), conns)
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range keep {
		c.Close()
	}
	for _, l := range lns {
		l.Close()
	}
	return nil
}
