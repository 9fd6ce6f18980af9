package testproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/relaunch"
)

// HelperEnv, set to a mode, makes a test binary a helper process.
const HelperEnv = "PROCWATCH_TEST_HELPER"

// HelperAddrEnv is the address the "connect" helper dials.
const HelperAddrEnv = "PROCWATCH_TEST_ADDR"

// RunHelperIfAsked is called first thing in TestMain: when the test binary
// was started by Helper, it runs the helper mode and never returns.
func RunHelperIfAsked() {
	relaunch.RunHelperIfAsked() // a detached relaunch re-executes the test binary
	if mode := os.Getenv(HelperEnv); mode != "" {
		RunHelper(mode)
	}
}

// Helper starts the test binary (which must call RunHelperIfAsked in its
// TestMain) in a helper mode and reads the line it prints.
func Helper(t testing.TB, mode string, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), HelperEnv+"="+mode), env...)
	return StartLine(t, cmd)
}

// held keeps the connections a helper accepted open until it exits.
var (
	heldMu sync.Mutex
	held   []net.Conn
)

// RunHelper is the child side. It prints one line (what the parent needs)
// and then blocks until killed; on an error it prints "error ..." and
// exits 3. The modes:
//
//	listen4, listen6  listen on loopback TCP, print the address, accept and hold connections
//	connect           dial $PROCWATCH_TEST_ADDR, print the local address
//	udp4              bind a loopback UDP socket, print its address
//	threads           run four more locked OS threads, print "ready"
//	setresuid         real uid 65534, effective and saved uid 0, print "ready"
//	setresgid         (as root) gids 42 42 42, uids 65534, no groups, print "ready"
//	nodump            (as root) uid/gid 65534, prctl(PR_SET_DUMPABLE, 0), print "ready"
//	threadspawner     print "ready", then start 400 threads, one every 2 ms
//	anything else     print "ready"
func RunHelper(mode string) {
	hold := func() {
		for {
			time.Sleep(time.Hour)
		}
	}
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(3)
	}
	acceptAll := func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			held = append(held, c) // hold them open (an unreferenced conn is closed by its finalizer)
			heldMu.Unlock()
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
			fail(err)
		}
		fmt.Println(l.Addr().String())
		go acceptAll(l)
		hold()
	case "connect":
		c, err := net.Dial("tcp", os.Getenv(HelperAddrEnv))
		if err != nil {
			fail(err)
		}
		fmt.Println(c.LocalAddr().String())
		defer c.Close()
		hold()
	case "udp4":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			fail(err)
		}
		fmt.Println(c.LocalAddr().String())
		hold()
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
			fail(err)
		}
		fmt.Println("ready")
		hold()
	case "setresgid":
		// A setgid program that made its group real, run by uid 65534
		// (started as root): gids 42 42 42, no supplementary group, uids
		// 65534. The credential change leaves it non-dumpable.
		if err := unix.Setgroups(nil); err != nil {
			fail(err)
		}
		if err := unix.Setresgid(42, 42, 42); err != nil {
			fail(err)
		}
		if err := unix.Setresuid(65534, 65534, 65534); err != nil {
			fail(err)
		}
		fmt.Println("ready")
		hold()
	case "nodump":
		// Like ssh-agent: a process of uid and gid 65534 (started as
		// root) that made itself non-dumpable (prctl(PR_SET_DUMPABLE, 0)).
		if err := unix.Setgroups(nil); err != nil {
			fail(err)
		}
		if err := unix.Setresgid(65534, 65534, 65534); err != nil {
			fail(err)
		}
		if err := unix.Setresuid(65534, 65534, 65534); err != nil {
			fail(err)
		}
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			fail(err)
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
