package procs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/procfs"
)

// target is a process pinned by a pidfd, with what /proc said about it
// while the pidfd was held and the process verified alive afterwards.
type target struct {
	pid    int
	fd     int
	st     procfs.Stat
	uids   [3]uint32 // real, effective, saved
	gids   [3]uint32
	groups []uint32 // supplementary groups
	exe    string
	ctime  float64
	// dumpable: its /proc files are owned by its euid, not root (the
	// kernel gives a non-dumpable process's files to root).
	dumpable bool
}

func (t *target) close() { unix.Close(t.fd) }

// pidfdOpen pins pid.
func pidfdOpen(pid int) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ESRCH):
			return -1, noSuchProcess(pid)
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			// No pidfds: refuse rather than fall back to a bare kill(pid).
			return -1, &Error{Kind: KindFailed, Msg: "cannot act safely: pidfd_open is not available", Err: err}
		}
		return -1, &Error{Kind: KindFailed, Msg: fmt.Sprintf("cannot open process %d", pid), Err: err}
	}
	return fd, nil
}

// pinPIDFD identifies the process behind a pidfd a caller passed (the Pid:
// line of its fdinfo, which only pidfds have) and returns a duplicate of it.
func pinPIDFD(fd int) (pid, dup int, err error) {
	if fd < 0 {
		return 0, -1, errf(KindInvalidArgument, "invalid pidfd: no file descriptor")
	}
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0, -1, errf(KindInvalidArgument, "invalid pidfd: %v", err)
	}
	v, found := "", false
	for _, line := range strings.Split(string(b), "\n") {
		if v, found = strings.CutPrefix(line, "Pid:"); found {
			break
		}
	}
	if !found {
		return 0, -1, errf(KindInvalidArgument, "invalid pidfd: the file descriptor is not a pidfd")
	}
	pid, err = strconv.Atoi(strings.TrimSpace(v))
	switch {
	case err != nil:
		return 0, -1, errf(KindInvalidArgument, "invalid pidfd: unreadable Pid %q", strings.TrimSpace(v))
	case pid < 0:
		return 0, -1, errf(KindNoSuchProcess, "no such process: the process behind the pidfd has exited")
	case pid == 0:
		return 0, -1, errf(KindInvalidArgument, "invalid pidfd: its process is not in the daemon's PID namespace")
	}
	dup, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return 0, -1, &Error{Kind: KindFailed, Msg: "cannot duplicate the pidfd", Err: err}
	}
	return pid, dup, nil
}

// alive says whether the pinned process has not exited: its /proc entry,
// read since the pidfd was opened, is then its own and no other's.
func (t *target) alive() bool {
	err := unix.PidfdSendSignal(t.fd, 0, nil, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// verify is alive after reads by path: a process gone meanwhile is
// ProcessChanged (its PID may already name another), and what was read
// must be discarded.
func (t *target) verify() error {
	if t.alive() {
		return nil
	}
	return errf(KindProcessChanged, "process %d exited while it was being read (its PID may now be another process's); refresh the list", t.pid)
}

// kthread says whether the target is a kernel thread.
func (t *target) kthread() bool { return kernelThread(t.pid, t.st.PPID, t.st.KernelThread()) }

// kernelThread: PF_KTHREAD, or kthreadd (PID 2) and its children.
func kernelThread(pid, ppid int, pfKthread bool) bool { return pfKthread || pid == 2 || ppid == 2 }

// open pins the process behind ref: pidfd_open, read /proc, then verify the
// pidfd still names a live process (systemd's pidref_verify order), so the
// data read belongs to the process the fd pins. A CreateTime in ref that
// differs is ProcessChanged.
func (s *Service) open(ref Target) (*target, error) {
	if ref.CreateTime < 0 || math.IsNaN(ref.CreateTime) || math.IsInf(ref.CreateTime, 0) {
		return nil, errf(KindInvalidArgument, "invalid create_time")
	}
	var fd int
	var err error
	if ref.PIDFD != 0 {
		if ref.PID, fd, err = pinPIDFD(ref.PIDFD); err != nil {
			return nil, err
		}
	} else {
		if err := s.checkPID(ref.PID); err != nil {
			return nil, err
		}
		if fd, err = pidfdOpen(ref.PID); err != nil {
			return nil, err
		}
	}
	t := &target{pid: ref.PID, fd: fd}
	dir := s.inv.ProcRoot() + "/" + strconv.Itoa(ref.PID)
	b, err := procfs.ReadCapped(dir+"/stat", nil, procfs.StatCap)
	if err == nil {
		t.st, err = procfs.ParseStat(b)
	}
	var status []byte
	if err == nil {
		status, err = procfs.ReadCapped(dir+"/status", nil, 16<<10)
	}
	if err != nil {
		t.close()
		return nil, noSuchProcess(ref.PID)
	}
	var ok1, ok2 bool
	t.uids, ok1 = procfs.IDsFromStatus(status, "Uid")
	t.gids, ok2 = procfs.IDsFromStatus(status, "Gid")
	t.groups = procfs.GroupsFromStatus(status)
	if !ok1 || !ok2 {
		t.close()
		return nil, noSuchProcess(ref.PID)
	}
	if l, err := os.Readlink(dir + "/exe"); err == nil {
		t.exe = l
	}
	// The owner of /proc/PID/stat, not of /proc/PID: the kernel keeps the
	// euid on the 0555 directory even for a non-dumpable process
	// (task_dump_owner), and gives its files to root.
	var fst unix.Stat_t
	t.dumpable = unix.Stat(dir+"/stat", &fst) == nil && (fst.Uid == t.uids[1] || t.uids[1] == 0)
	t.ctime = procfs.CreateTime(s.inv.BootTime(), t.st.StartTicks)
	// Verify: the pinned process is still alive, so what we read is its.
	if !t.alive() {
		t.close()
		return nil, noSuchProcess(ref.PID)
	}
	if ref.CreateTime != 0 && math.Abs(ref.CreateTime-t.ctime) > 0.006 {
		t.close()
		return nil, errf(KindProcessChanged, "process %d changed: it was started at %.2f, not %.2f (the PID was reused); refresh the list", ref.PID, t.ctime, ref.CreateTime)
	}
	return t, nil
}
