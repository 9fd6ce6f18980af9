package procfs

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// The fd-scan cache must never show a port that is gone, or miss one that
// is new, when a process swaps descriptors keeping its fd count. The swap
// helper holds one descriptor and replaces it in place (dup2) on command,
// with raw system calls so that its fd count stays exactly the same.

// runSwapHelper is the child side: PROCWATCH_TEST_SWAP ("sock" or "file")
// says what it holds first, PROCWATCH_TEST_BIND the address it listens on
// (by default a loopback address of its own, see ownLoopback).
// Commands on stdin, one per line, each answered with one line:
//
//	listen  → a new listening socket replaces the held fd; prints its address
//	file    → a file replaces the held fd; prints "ok"
//	recv    → an fd received on fd 3 (SCM_RIGHTS) replaces it; prints "ok"
//	add     → a new listening socket, in a new fd; prints its address
func runSwapHelper() {
	bind := os.Getenv("PROCWATCH_TEST_BIND")
	if bind == "" {
		bind = ownLoopback(os.Getpid())
	}
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(3)
	}
	listen := func() (int, string) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fail(err)
		}
		sa := &unix.SockaddrInet4{Addr: [4]byte(net.ParseIP(bind).To4())}
		if err := unix.Bind(fd, sa); err != nil {
			fail(err)
		}
		if err := unix.Listen(fd, 8); err != nil {
			fail(err)
		}
		got, err := unix.Getsockname(fd)
		if err != nil {
			fail(err)
		}
		return fd, net.JoinHostPort(bind, strconv.Itoa(got.(*unix.SockaddrInet4).Port))
	}
	file := func() int {
		fd, err := unix.Open(os.Args[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fail(err)
		}
		return fd
	}
	var held int
	if os.Getenv("PROCWATCH_TEST_SWAP") == "sock" {
		var addr string
		held, addr = listen()
		fmt.Println(addr)
	} else {
		held = file()
		fmt.Println("file")
	}
	// dup2 closes what held named and puts the new descriptor there; the
	// temporary one is closed at once: the count is the same after.
	replace := func(fd int) {
		if err := unix.Dup3(fd, held, unix.O_CLOEXEC); err != nil {
			fail(err)
		}
		unix.Close(fd)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "listen":
			fd, addr := listen()
			replace(fd)
			fmt.Println(addr)
		case "add":
			_, addr := listen()
			fmt.Println(addr)
		case "file":
			replace(file())
			fmt.Println("ok")
		case "recv":
			buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := unix.Recvmsg(3, buf, oob, unix.MSG_CMSG_CLOEXEC)
			if err != nil {
				fail(err)
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil || len(msgs) != 1 {
				fail(fmt.Errorf("control message: %v", err))
			}
			fds, err := unix.ParseUnixRights(&msgs[0])
			if err != nil || len(fds) != 1 {
				fail(fmt.Errorf("rights: %v", err))
			}
			replace(fds[0])
			fmt.Println("ok")
		}
	}
	os.Exit(0)
}

// ownLoopback is a loopback address that only the process pid listens on:
// the tests check that a closed listener is listed on no one, and on
// 127.0.0.1 its port, once free, can be taken at once by any other
// process binding port 0 (other test packages run alongside: seen once,
// "closed listener 127.0.0.1:41223 still listed" on another PID). PIDs
// stay below 2^22, so 127.100-163.x.y is one address per live process,
// never the network or broadcast address of 127.0.0.0/8.
func ownLoopback(pid int) string {
	return fmt.Sprintf("127.%d.%d.%d", 100+(pid>>16)&0x3f, (pid>>8)&0xff, pid&0xff)
}

// swapper is a running swap helper.
type swapper struct {
	*testproc.Child
	in  io.Writer
	out *bufio.Reader
}

// startSwapper starts the swap helper holding what ("sock" or "file").
func startSwapper(t *testing.T, what string, attr *syscall.SysProcAttr, extra []*os.File, env ...string) *swapper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), testproc.HelperEnv+"=swap", "PROCWATCH_TEST_SWAP="+what), env...)
	cmd.SysProcAttr = attr
	cmd.ExtraFiles = extra
	c, in, out := testproc.StartPiped(t, cmd)
	sw := &swapper{Child: c, in: in, out: out}
	c.Line = sw.readLine(t)
	return sw
}

func (sw *swapper) readLine(t *testing.T) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		l, _ := sw.out.ReadString('\n')
		ch <- strings.TrimSpace(l)
	}()
	select {
	case l := <-ch:
		if l == "" || strings.HasPrefix(l, "error") {
			t.Fatalf("swap helper: %q", l)
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("swap helper did not answer")
		return ""
	}
}

// do sends one command and returns the answer.
func (sw *swapper) do(t *testing.T, cmd string) string {
	t.Helper()
	if _, err := io.WriteString(sw.in, cmd+"\n"); err != nil {
		t.Fatal(err)
	}
	return sw.readLine(t)
}

// fdCountOf is the size of /proc/PID/fd (the open fd count).
func fdCountOf(t *testing.T, pid int) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/fd", &st); err != nil {
		t.Fatal(err)
	}
	return st.Size
}

// requireFDCount skips on kernels where the fd directory's size is not the
// descriptor count (before 6.2): the cache is never used there.
func requireFDCount(t *testing.T) {
	t.Helper()
	if fdCountOf(t, os.Getpid()) == 0 {
		t.Skip("stat(/proc/PID/fd).st_size is 0 on this kernel: no fd-scan cache")
	}
}

// warm lists until pid is in the fd-scan cache with its current count, so
// that the next list serves it from the cache unless something is noticed.
func warm(t *testing.T, s *Inventory, pid int) int64 {
	t.Helper()
	var n int64
	testproc.Poll(t, 10*time.Second, fmt.Sprintf("process %d's fd scan to be cached", pid), func() bool {
		listAll(t, s)
		n = fdCountOf(t, pid)
		s.mu.Lock()
		defer s.mu.Unlock()
		c, ok := s.fdCache[pid]
		return ok && c.count == n
	})
	return n
}

// sameCount fails the test if the helper's fd count changed: the test would
// then not exercise a same-count swap.
func sameCount(t *testing.T, pid int, want int64) {
	t.Helper()
	if got := fdCountOf(t, pid); got != want {
		t.Fatalf("helper's fd count went from %d to %d: not a same-count swap", want, got)
	}
}

func hasPort(ps []Process, pid int, local string) bool {
	for i := range ps {
		if ps[i].PID == pid {
			for _, pt := range ps[i].Ports {
				if pt.Local == local && pt.Status == "LISTEN" {
					return true
				}
			}
		}
	}
	return false
}

// anyOwner lists the PIDs shown with the LISTEN socket at local.
// anyOwner lists the processes with a socket on the local address local in
// this test's network namespace: the same address may be in use in another
// namespace (the host's, when the tests run under unshare -n) by an
// unrelated process.
func anyOwner(ps []Process, local string) []int {
	self, _ := os.Readlink("/proc/self/ns/net")
	var out []int
	for i := range ps {
		if !hasPort(ps[i:i+1], ps[i].PID, local) {
			continue
		}
		if ns, err := os.Readlink("/proc/" + strconv.Itoa(ps[i].PID) + "/ns/net"); err == nil && self != "" && ns != self {
			continue
		}
		out = append(out, ps[i].PID)
	}
	return out
}

func lastStats(s *Inventory) fdStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fdStats
}

// TestFDCacheListenerSwapped: a process closes its listening socket and
// opens another on a new port in the same fd; the next list shows the new
// port, and the old one on nobody.
func TestFDCacheListenerSwapped(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	sw := startSwapper(t, "sock", nil, nil)
	old := sw.Line
	n := warm(t, s, sw.PID)
	if !hasPort(listAll(t, s), sw.PID, old) {
		t.Fatalf("listener %s not listed on %d", old, sw.PID)
	}
	if st := lastStats(s); st.cached == 0 {
		t.Fatalf("no fd scan served from the cache in steady state: %+v", st)
	}
	nu := sw.do(t, "listen")
	sameCount(t, sw.PID, n)
	ps := listAll(t, s)
	if !hasPort(ps, sw.PID, nu) {
		t.Errorf("new listener %s not listed on %d (stale fd scan)", nu, sw.PID)
	}
	if o := anyOwner(ps, old); len(o) != 0 {
		t.Errorf("closed listener %s still listed, on %v (the swapper is %d)", old, o, sw.PID)
	}
	if st := lastStats(s); st.rescanned == 0 {
		t.Errorf("the unowned new socket did not make the build rescan: %+v", st)
	}
	// Swapped again: the ownerless-set must not hide the next one.
	n2 := sw.do(t, "listen")
	sameCount(t, sw.PID, n)
	if ps := listAll(t, s); !hasPort(ps, sw.PID, n2) || hasPort(ps, sw.PID, nu) {
		t.Errorf("after a second swap: want %s listed and %s gone", n2, nu)
	}
}

// TestFDCacheFileSwappedForSocket: a process holding no socket at all
// replaces a file by a listening socket (same count).
func TestFDCacheFileSwappedForSocket(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	sw := startSwapper(t, "file", nil, nil)
	n := warm(t, s, sw.PID)
	files := find(t, listAll(t, s), sw.PID).OpenFilesCount
	addr := sw.do(t, "listen")
	sameCount(t, sw.PID, n)
	ps := listAll(t, s)
	if !hasPort(ps, sw.PID, addr) {
		t.Fatalf("listener %s not listed on %d (stale fd scan)", addr, sw.PID)
	}
	// The rescan the new socket caused also refreshed the file count.
	if got := find(t, ps, sw.PID).OpenFilesCount; got != files-1 {
		t.Errorf("open files %d, want %d", got, files-1)
	}
}

// TestFDCacheSocketSwappedForFile: the port goes at once; the open-files
// count is stale until the next full rescan (fdFullRescan), no longer.
func TestFDCacheSocketSwappedForFile(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	sw := startSwapper(t, "sock", nil, nil)
	old := sw.Line
	n := warm(t, s, sw.PID)
	files := find(t, listAll(t, s), sw.PID).OpenFilesCount
	sw.do(t, "file")
	sameCount(t, sw.PID, n)
	if o := anyOwner(listAll(t, s), old); len(o) != 0 {
		t.Errorf("closed listener %s still listed, on %v", old, o)
	}
	// Pretend the last full rescan was fdFullRescan ago.
	s.mu.Lock()
	s.lastFull = time.Now().Add(-fdFullRescan - time.Second)
	s.mu.Unlock()
	ps := listAll(t, s)
	if st := lastStats(s); st.cached != 0 {
		t.Errorf("a build after fdFullRescan served %d fd scans from the cache", st.cached)
	}
	if got := find(t, ps, sw.PID).OpenFilesCount; got != files+1 {
		t.Errorf("open files after a full rescan %d, want %d", got, files+1)
	}
}

// TestFDCacheSocketPassed: a socket passed to a cached process over a unix
// socket, which puts it in place of an fd it had (same count), while the
// sender closes its copy: the port moves to the receiver.
func TestFDCacheSocketPassed(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	theirs := os.NewFile(uintptr(pair[1]), "pair")
	sw := startSwapper(t, "file", nil, []*os.File{theirs})
	theirs.Close()
	defer unix.Close(pair[0])
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	n := warm(t, s, sw.PID)
	if err := unix.Sendmsg(pair[0], []byte{0}, unix.UnixRights(int(lf.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	sw.do(t, "recv")
	lf.Close()
	l.Close()
	sameCount(t, sw.PID, n)
	ps := listAll(t, s)
	if o := anyOwner(ps, addr); len(o) != 1 || o[0] != sw.PID {
		t.Errorf("passed listener %s listed on %v, want [%d]", addr, o, sw.PID)
	}
}

// TestFDCacheInherited: a child inheriting a listening socket is a new
// process (scanned in full): it shows the port with its parent.
func TestFDCacheInherited(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	sw := startSwapper(t, "sock", nil, nil)
	warm(t, s, sw.PID)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "3600")
	cmd.ExtraFiles = []*os.File{lf}
	kid := testproc.Start(t, cmd)
	lf.Close()
	ps := listAll(t, s)
	o := anyOwner(ps, l.Addr().String())
	if len(o) != 2 || !contains(o, kid.PID) || !contains(o, os.Getpid()) {
		t.Errorf("inherited listener listed on %v, want the child %d and this process %d", o, kid.PID, os.Getpid())
	}
	if !hasPort(ps, sw.PID, sw.Line) {
		t.Errorf("unrelated cached listener %s lost", sw.Line)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestFDCacheKey: a cached scan is used only for the same process (start
// time) with the same fd count; a PID reused by a new process (another
// start time) is scanned again.
func TestFDCacheKey(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	kid := testproc.Sleeper(t)
	warm(t, s, kid.PID)
	poison := func(startDelta uint64) {
		s.mu.Lock()
		c := s.fdCache[kid.PID]
		c.startTicks += startDelta
		c.files = 999
		s.fdCache[kid.PID] = c
		s.mu.Unlock()
	}
	// Control: the same process and count are served from the cache
	// (unless a build happens to rescan everything: a new ownerless socket
	// elsewhere on the machine; then try again).
	for deadline := time.Now().Add(5 * time.Second); ; {
		warm(t, s, kid.PID)
		poison(0)
		got := find(t, listAll(t, s), kid.PID).OpenFilesCount
		if st := lastStats(s); st.rescanned == 0 && st.cached > 0 {
			if got != 999 {
				t.Fatalf("open files %d: the cache was not used for an unchanged process", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Skip("every build rescanned: sockets open and close all the time on this machine")
		}
	}
	warm(t, s, kid.PID)
	poison(1) // as if the PID now belonged to a process started later
	if got := find(t, listAll(t, s), kid.PID).OpenFilesCount; got == 999 {
		t.Errorf("a scan cached for another process (start time) was used")
	}
}

// TestFDCacheOtherNetns: a same-count swap in a process in its own network
// namespace (tables read through /proc/PID/net, not sock_diag).
func TestFDCacheOtherNetns(t *testing.T) {
	requireRoot(t)
	requireFDCount(t)
	s := newInv(t)
	sw := startSwapper(t, "sock", &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}, nil, "PROCWATCH_TEST_BIND=0.0.0.0")
	old := sw.Line
	n := warm(t, s, sw.PID)
	if !hasPort(listAll(t, s), sw.PID, old) {
		t.Fatalf("listener %s in another namespace not listed", old)
	}
	nu := sw.do(t, "listen")
	sameCount(t, sw.PID, n)
	ps := listAll(t, s)
	if !hasPort(ps, sw.PID, nu) || hasPort(ps, sw.PID, old) {
		t.Errorf("after the swap in another namespace: want %s listed and %s gone; ports %+v", nu, old, find(t, ps, sw.PID).Ports)
	}
}

// TestExeCacheExec: a process that execs another file of the same name
// (same comm, same PID and start time) shows the new path at once.
func TestExeCacheExec(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if sh, err = filepath.EvalSymlinks(sh); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a", "sh"), filepath.Join(dir, "b", "sh")
	for _, p := range []string{a, b} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := newInv(t)
	cmd := exec.Command(a, "-c", `read x; exec "$0" -c 'echo again; read y'`, b)
	kid, in, outp := testproc.StartPiped(t, cmd)
	testproc.Poll(t, 10*time.Second, "the first shell's exe to be cached", func() bool {
		if p := find(t, listAll(t, s), kid.PID); p == nil || p.Exe != a {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.exeCache[kid.PID]
		return ok
	})
	if _, err := io.WriteString(in, "\n"); err != nil {
		t.Fatal(err)
	}
	if l, _ := outp.ReadString('\n'); l != "again\n" {
		t.Fatalf("second shell said %q", l)
	}
	p := find(t, listAll(t, s), kid.PID)
	if p == nil || p.Name != "sh" {
		t.Fatalf("the exec'd shell: %+v", p)
	}
	if p.Exe != b {
		t.Errorf("exe %q after exec, want %q (stale cached path)", p.Exe, b)
	}
}

// TestFDCacheOwnerlessKnown: a socket no process holds (here one in flight
// in an SCM_RIGHTS message nobody reads) is known as ownerless after a
// full scan and does not make every later build rescan.
func TestFDCacheOwnerlessKnown(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ino := socketInode(t, l.(*net.TCPListener))
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendmsg(pair[0], []byte{0}, unix.UnixRights(int(lf.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	l.Close()
	ps := listAll(t, s)
	if o := anyOwner(ps, l.Addr().String()); len(o) != 0 {
		t.Errorf("a socket in flight listed on %v", o)
	}
	s.mu.Lock()
	_, known := s.unowned[ino]
	s.mu.Unlock()
	if !known {
		t.Fatalf("socket %d in flight not known as ownerless after a full scan", ino)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		listAll(t, s)
		if st := lastStats(s); st.cached > 0 && st.rescanned == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Skip("every build rescanned: sockets open and close all the time on this machine")
		}
	}
}

// TestFDCacheNewConnectionNoFullRescan: a socket opened (fd count +1) by a
// cached process after its fd directory was looked at, before the tables
// are read, is the usual cause of a new ownerless socket: only the
// processes whose count moved are read again, not every cached one.
func TestFDCacheNewConnectionNoFullRescan(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	sw := startSwapper(t, "sock", nil, nil)
	for deadline := time.Now().Add(5 * time.Second); ; {
		warm(t, s, sw.PID)
		var addr string
		s.afterScan = func() { addr = sw.do(t, "add") }
		ps := listAll(t, s)
		s.afterScan = nil
		if !hasPort(ps, sw.PID, addr) {
			t.Fatalf("socket %s opened during the build not listed on %d", addr, sw.PID)
		}
		st := lastStats(s)
		if st.moved == 0 {
			t.Fatalf("the process whose fd count moved was not read again: %+v", st)
		}
		if st.rescanned == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Skip("every build rescanned: sockets open and close all the time on this machine")
		}
	}
}
