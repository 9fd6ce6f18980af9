package procfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// heldPidfd is the pidfd s holds for pid, or -1.
func heldPidfd(s *Inventory, pid int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd, ok := s.pidFDs[pid]; ok {
		return fd
	}
	return -1
}

// heldFD is the stat descriptor s holds for pid, or -1.
func heldFD(s *Inventory, pid int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd, ok := s.statFDs[pid]; ok {
		return fd
	}
	return -1
}

// fdNames is what descriptor fd of this process names, or "" if closed.
func fdNames(fd int) string {
	l, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return l
}

// TestStatHandleExit: the stat descriptor of a process is held between
// builds, and closed by the first build after the process is gone.
func TestStatHandleExit(t *testing.T) {
	s := newInv(t)
	kid := testproc.Sleeper(t)
	listAll(t, s)
	fd := heldFD(s, kid.PID)
	want := "/proc/" + strconv.Itoa(kid.PID) + "/stat"
	if fd < 0 || fdNames(fd) != want {
		t.Fatalf("no held stat descriptor for the sleeper (fd %d names %q)", fd, fdNames(fd))
	}
	p := find(t, listAll(t, s), kid.PID)
	if p == nil || heldFD(s, kid.PID) != fd || p.Name != "sleep" {
		t.Fatalf("second build: %+v, held fd %d (want %d, read again)", p, heldFD(s, kid.PID), fd)
	}
	pidfd := heldPidfd(s, kid.PID)
	if os.Geteuid() == 0 && !noPidfdInfo.Load() && (pidfd < 0 || fdNames(pidfd) != "anon_inode:[pidfd]") {
		t.Errorf("root's sleeper: no pidfd held (fd %d names %q)", pidfd, fdNames(pidfd))
	}
	if err := kid.Kill(); err != nil {
		t.Fatal(err)
	}
	kid.Wait()
	if p := find(t, listAll(t, s), kid.PID); p != nil {
		t.Fatalf("reaped process still listed: %+v", p)
	}
	if heldFD(s, kid.PID) != -1 || fdNames(fd) == want {
		t.Errorf("the descriptor of a reaped process is still held (fd %d names %q)", fd, fdNames(fd))
	}
	if pidfd >= 0 && (heldPidfd(s, kid.PID) != -1 || s.heldPidfd.has(pidfd)) {
		t.Errorf("the pidfd of a reaped process is still held (fd %d)", pidfd)
	}
}

// TestStatHandleReusedPID: a held descriptor whose process is gone answers
// ESRCH, so a PID now used by another process is read afresh, never
// through the old descriptor. (The reuse is staged: the descriptor of a
// reaped process is filed under a live process's PID.)
func TestStatHandleReusedPID(t *testing.T) {
	s := newInv(t)
	dead := testproc.Sleeper(t)
	live := testproc.Sleeper(t)
	deadFD, err := unix.Open("/proc/"+strconv.Itoa(dead.PID)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Kill(); err != nil {
		t.Fatal(err)
	}
	dead.Wait()
	if _, err := unix.Pread(deadFD, make([]byte, 512), 0); err != unix.ESRCH {
		t.Fatalf("premise: a reaped process's stat answers %v, want ESRCH", err)
	}
	listAll(t, s)
	s.mu.Lock()
	liveFD := s.statFDs[live.PID]
	s.held.set(deadFD)
	s.statFDs[live.PID] = deadFD // as if live.PID had been dead's PID
	s.mu.Unlock()
	closeHeld(s.held, liveFD)

	p := find(t, listAll(t, s), live.PID)
	if p == nil || p.Name != "sleep" || p.Cmdline[0] != "sleep" {
		t.Fatalf("the process now at the PID: %+v", p)
	}
	if fd := heldFD(s, live.PID); fd < 0 || fdNames(fd) != "/proc/"+strconv.Itoa(live.PID)+"/stat" {
		t.Errorf("held fd %d names %q, want the new process's stat", fd, fdNames(fd))
	}
	if s.held.has(deadFD) || heldFD(s, live.PID) == deadFD {
		t.Errorf("the dead process's descriptor %d is still held", deadFD)
	}
}

// TestStatHandleExec: an execve keeps the process and its held
// descriptor, which shows the new image.
func TestStatHandleExec(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	s := newInv(t)
	cmd := exec.Command(sh, "-c", `read x; exec sleep 3600`)
	kid, in, _ := testproc.StartPiped(t, cmd)
	if p := find(t, listAll(t, s), kid.PID); p == nil || p.Name != "sh" {
		t.Fatalf("before exec: %+v", p)
	}
	fd := heldFD(s, kid.PID)
	if _, err := io.WriteString(in, "\n"); err != nil {
		t.Fatal(err)
	}
	var p *Process
	testproc.Poll(t, 10*time.Second, "the exec'd sleep to be listed", func() bool {
		p = find(t, listAll(t, s), kid.PID)
		return p != nil && p.Name == "sleep"
	})
	if heldFD(s, kid.PID) != fd {
		t.Errorf("the descriptor changed across exec (%d, then %d): it should stay", fd, heldFD(s, kid.PID))
	}
}

// runUIDSwitchHelper (the test binary with HelperEnv=uidswitch, as root):
// says "up", and on a line from stdin switches every uid to 65534, makes
// itself dumpable again (so that its /proc entry is owned by 65534, not
// root), says "switched" and waits for stdin to close.
func runUIDSwitchHelper() {
	in := bufio.NewReader(os.Stdin)
	fmt.Println("up")
	_, _ = in.ReadString('\n')
	if err := syscall.Setresuid(65534, 65534, 65534); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	fmt.Println("switched")
	_, _ = io.Copy(io.Discard, in)
	os.Exit(0)
}

// TestStatHandleUIDChange: a process that changes its uid while its stat
// descriptor is held is listed with the new uid: the owner comes from a
// fresh statx of /proc/PID/fd, not from the held descriptor, whose fstat
// may still give the owner the file had when it was last looked up.
func TestStatHandleUIDChange(t *testing.T) {
	requireRoot(t)
	s := newInv(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), testproc.HelperEnv+"=uidswitch")
	kid, in, out := testproc.StartPiped(t, cmd)
	if l, _ := out.ReadString('\n'); l != "up\n" {
		t.Fatalf("helper said %q", l)
	}
	if p := find(t, listAll(t, s), kid.PID); p == nil || p.UID != 0 || heldFD(s, kid.PID) < 0 {
		t.Fatalf("before: %+v, held fd %d", p, heldFD(s, kid.PID))
	}
	fd := heldFD(s, kid.PID)
	if _, err := io.WriteString(in, "\n"); err != nil {
		t.Fatal(err)
	}
	if l, _ := out.ReadString('\n'); l != "switched\n" {
		t.Fatalf("helper said %q", l)
	}
	p := find(t, listAll(t, s), kid.PID)
	if heldFD(s, kid.PID) != fd {
		t.Fatalf("premise: the descriptor was not held across builds")
	}
	if p == nil || p.UID != 65534 {
		t.Errorf("after setresuid(65534) and PR_SET_DUMPABLE: listed as %+v, want uid 65534", p)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err == nil {
		t.Logf("fstat of the held descriptor says uid %d (a fresh statx: %d)", st.Uid, p.UID)
	}
}

// TestStatHandleBudget: beyond the budget, processes are read by path, and
// the list is the same.
func TestStatHandleBudget(t *testing.T) {
	s := newInv(t)
	all := listAll(t, s)
	s.mu.Lock()
	s.statBudget = 3
	s.mu.Unlock()
	s.Close()
	small := listAll(t, s)
	s.mu.Lock()
	n := len(s.statFDs)
	s.mu.Unlock()
	if n > 3 {
		t.Errorf("%d stat descriptors held, budget 3", n)
	}
	if len(small) < len(all)/2 {
		t.Errorf("with a budget of 3: %d processes listed, %d before", len(small), len(all))
	}
	self := find(t, small, os.Getpid())
	if self == nil || self.Name == "" {
		t.Errorf("this process, read by path: %+v", self)
	}
}

// TestPidfdHandleNotCarried: a held pidfd is used again only while the
// stat descriptor held with it still reads (the same process). Staged: the
// PID of a root process gets the stat descriptor of a reaped process and
// the pidfd of a live process of uid 65534; the list must show uid 0, read
// afresh, and close both.
func TestPidfdHandleNotCarried(t *testing.T) {
	requireRoot(t)
	if noPidfdInfo.Load() {
		t.Skip("no PIDFD_GET_INFO on this kernel")
	}
	s := newInv(t)
	dead := testproc.Sleeper(t)
	live := testproc.Sleeper(t)
	other := testproc.Helper(t, "nodump") // uid 65534, its entry owned by root
	deadFD, err := unix.Open("/proc/"+strconv.Itoa(dead.PID)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	otherPidfd, err := unix.PidfdOpen(other.PID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Kill(); err != nil {
		t.Fatal(err)
	}
	dead.Wait()
	if p := find(t, listAll(t, s), live.PID); p == nil || p.UID != 0 || heldPidfd(s, live.PID) < 0 {
		t.Fatalf("premise: root's sleeper %+v with a held pidfd (%d)", p, heldPidfd(s, live.PID))
	}
	s.mu.Lock()
	oldStat, oldPidfd := s.statFDs[live.PID], s.pidFDs[live.PID]
	s.held.set(deadFD)
	s.heldPidfd.set(otherPidfd)
	s.statFDs[live.PID], s.pidFDs[live.PID] = deadFD, otherPidfd
	s.mu.Unlock()
	closeHeld(s.held, oldStat)
	closeHeld(s.heldPidfd, oldPidfd)

	if p := find(t, listAll(t, s), live.PID); p == nil || p.UID != 0 {
		t.Errorf("listed as %+v: the pidfd of another process was used", p)
	}
	if s.held.has(deadFD) || s.heldPidfd.has(otherPidfd) || heldPidfd(s, live.PID) == otherPidfd {
		t.Errorf("the staged descriptors are still held (stat %v, pidfd %v)", s.held.has(deadFD), s.heldPidfd.has(otherPidfd))
	}
}

// TestSelfScanSkipsHeld: this process's fd directory holds the inventory's
// descriptors; its scan neither counts them as open files nor loses its
// cache entry when they come and go, so a build does not read thousands of
// its entries again.
func TestSelfScanSkipsHeld(t *testing.T) {
	requireFDCount(t)
	s := newInv(t)
	kids := []*testproc.Child{}
	for range 3 {
		kids = append(kids, testproc.Sleeper(t))
	}
	listAll(t, s)
	self := os.Getpid()
	reusable := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.fdCache[self].count > 0
	}
	testproc.Poll(t, 10*time.Second, "this process's fd scan to be cached", func() bool {
		listAll(t, s)
		return reusable()
	})
	s.mu.Lock()
	held := len(s.statFDs)
	s.mu.Unlock()
	if p := find(t, listAll(t, s), self); p == nil || held < 4 || p.OpenFilesCount >= held {
		t.Errorf("this process: %d open files counted with %d stat descriptors held (%+v)", p.OpenFilesCount, held, p)
	}
	// A process gone (its descriptors closed) and the cache entry stays.
	if err := kids[0].Kill(); err != nil {
		t.Fatal(err)
	}
	kids[0].Wait()
	testproc.Poll(t, 10*time.Second, "the scan to stay reusable after descriptors were closed", func() bool {
		listAll(t, s)
		return reusable()
	})
}
