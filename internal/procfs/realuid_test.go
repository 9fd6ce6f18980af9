package procfs

import (
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestRealUIDBothWays: a non-dumpable process of uid 65534 has a /proc
// entry owned by root; PIDFD_GET_INFO (where the kernel has it) and the
// status file both give its real uid, and the list shows that uid, on
// either path.
func TestRealUIDBothWays(t *testing.T) {
	requireRoot(t)
	nodump := testproc.Helper(t, "nodump")
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/"+strconv.Itoa(nodump.PID)+"/stat", &st); err != nil || st.Uid != 0 {
		t.Fatalf("premise: the non-dumpable helper's /proc entry owner is %d (err %v), want 0", st.Uid, err)
	}
	r := procReader{inv: &Inventory{procRoot: "/proc"}, path: make([]byte, 0, 64), stat: make([]byte, 1024)}
	r.at(nodump.PID)
	if uid, ok := r.statusRealUID(); !ok || uid != 65534 {
		t.Errorf("status: real uid %d (ok %v), want 65534", uid, ok)
	}
	pidfd, err := unix.PidfdOpen(nodump.PID, 0)
	if err != nil {
		t.Fatal(err)
	}
	uid, err := pidfdRUID(pidfd)
	switch {
	case err == unix.ENOTTY || err == unix.EINVAL:
		t.Logf("PIDFD_GET_INFO not offered by this kernel (%v): the list reads status", err)
	case err != nil || uid != 65534:
		t.Errorf("PIDFD_GET_INFO: real uid %d (err %v), want 65534", uid, err)
	}
	unix.Close(pidfd)

	saved := noPidfdInfo.Load()
	t.Cleanup(func() { noPidfdInfo.Store(saved) })
	for _, viaStatus := range []bool{false, true} {
		noPidfdInfo.Store(viaStatus)
		if p := find(t, listAll(t, newInv(t)), nodump.PID); p == nil || p.UID != 65534 {
			t.Errorf("status path %v: non-dumpable process of uid 65534 listed as %+v", viaStatus, p)
		}
	}
}
