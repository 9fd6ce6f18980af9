package procfs

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Held stat descriptors. Opening /proc/PID/stat walks the path and builds
// a file for every process in every build; the inventory instead keeps the
// descriptor of each process's stat open between builds and reads it again
// with pread, which saves the open and the close. A descriptor stays bound
// to the process it was opened for: once that process is gone (reaped) a
// read answers ESRCH, even if its PID now belongs to another process, so a
// held descriptor cannot show a reused PID's new owner; the build then
// opens the path again. An execve keeps the process, and the descriptor
// shows the new image.
//
// The real uid of a process whose entry root owns (see realUID) comes from
// PIDFD_GET_INFO on a pidfd, held along with the stat descriptor: it is
// used again only while that descriptor still reads (the same process).
//
// The owner uid is not taken from the held descriptor (fstat would give the
// owner the file had when opened, and a process may change its uid or
// dumpability since) but from statx of /proc/PID/fd by path, which the
// fd-scan cache makes anyway: that directory has the same owner rule as
// stat (the euid, root when the process is not dumpable).
//
// The budget, descriptors of both kinds: at most a quarter of
// RLIMIT_NOFILE's soft limit (the Go runtime raises it to the hard limit;
// systemd's default hard limit is 524288, the unit does not change it) and
// never more than maxHeldStat; processes beyond it are read by path as
// before. The descriptors of
// processes that are gone are closed at the end of the build that finds
// them gone; Close closes them all. They are close-on-exec: nothing the
// daemon starts inherits them. The daemon's own fd directory holds them
// too: its scan skips them (heldSet), and does not count them in its
// open_files_count, which stays the daemon's own files. This process is read
// last in a build, alone, once the held set is settled, and holds no
// descriptor of its own: its fd count less the held ones is then stable, so
// its fd scan is served from the cache like any other's, without reading
// thousands of entries.

// maxHeldStat caps the descriptors kept open.
const maxHeldStat = 32768

// statBudget is how many descriptors an inventory may keep open.
func statBudget() int64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int64(min(rl.Cur/4, maxHeldStat))
}

// heldSet marks the descriptor numbers that are held descriptors. A
// bit is set after the open and cleared before the close, so a set bit
// always means a held descriptor (one opened meanwhile is merely not
// marked yet, and read the usual way).
type heldSet struct{ bits []atomic.Uint64 }

func newHeldSet(maxFD int) *heldSet { return &heldSet{bits: make([]atomic.Uint64, (maxFD+63)/64)} }

func (h *heldSet) set(fd int) {
	if i := fd / 64; h != nil && fd >= 0 && i < len(h.bits) {
		h.bits[i].Or(1 << (fd % 64))
	}
}

func (h *heldSet) clear(fd int) {
	if i := fd / 64; h != nil && fd >= 0 && i < len(h.bits) {
		h.bits[i].And(^uint64(1 << (fd % 64)))
	}
}

func (h *heldSet) has(fd int) bool {
	i := fd / 64
	return h != nil && fd >= 0 && i < len(h.bits) && h.bits[i].Load()&(1<<(fd%64)) != 0
}

// heldSetSize is the descriptor numbers heldSet tracks: the soft limit,
// within reason (a descriptor above it is read the usual way).
func heldSetSize() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int(min(rl.Cur, 1<<20))
}

// closeHeld closes a held descriptor, marked in set.
func closeHeld(set *heldSet, fd int) {
	set.clear(fd)
	unix.Close(fd)
}

// closeGone closes the descriptors of old (PID → fd, marked in set) that
// are not carried in cur.
func (inv *Inventory) closeGone(old, cur map[int]int, set *heldSet) {
	for pid, fd := range old {
		if nfd, ok := cur[pid]; !ok || nfd != fd {
			closeHeld(set, fd)
		}
	}
}

// Close closes the descriptors the inventory keeps open. It is safe to
// call more than once; a build after it opens them again.
func (inv *Inventory) Close() {
	inv.buildMu.Lock()
	defer inv.buildMu.Unlock()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for _, fd := range inv.statFDs {
		closeHeld(inv.held, fd)
	}
	for _, fd := range inv.pidFDs {
		closeHeld(inv.heldPidfd, fd)
	}
	inv.statFDs, inv.pidFDs = nil, nil
}

// readStat reads the stat file of the reader's process (pid) into r.stat:
// through the descriptor held since the last build if that process is
// still there, else by path. keep is the descriptor to hold after this
// build, or -1; same says it is the one held since the last build (so the
// process is the one the last build saw under this PID).
func (r *procReader) readStat(pid int) (n, keep int, same, ok bool) {
	if fd, held := r.statFDs[pid]; held {
		if n, err := preadFD(fd, r.stat); err == nil {
			r.kept.Add(1)
			return n, fd, true, true
		}
		// ESRCH: that process is gone; the build closes fd.
	}
	fd, err := openZ(r.file("stat"), 0)
	if err != nil {
		return 0, -1, false, false
	}
	n, err = readFD(fd, r.stat)
	if err != nil {
		unix.Close(fd)
		return 0, -1, false, false
	}
	if r.isSelf() || !r.reserve() { // this process holds none of its own
		unix.Close(fd)
		return n, -1, false, true
	}
	r.inv.held.set(fd)
	return n, fd, false, true
}

// reserve takes one descriptor of the build's budget, if any is left.
func (r *procReader) reserve() bool {
	if r.kept.Add(1) > r.inv.statBudget {
		r.kept.Add(-1)
		return false
	}
	return true
}

// preadFD reads fd from offset 0 into buf, retrying on EINTR.
func preadFD(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// fdDirStat is statx of /proc/PID/fd for the reader's process: its owner
// (see above) and its size, the number of open descriptors (0 if unknown:
// kernels before 6.2). ok is false if it could not be read (gone).
func (r *procReader) fdDirStat() (count int64, uid uint32, ok bool) {
	path := r.file("fd")
	var stx unix.Statx_t
	cwd := unix.AT_FDCWD // a variable: the constant -100 does not convert to uintptr
	for {
		_, _, e := unix.Syscall6(unix.SYS_STATX, uintptr(cwd), uintptr(unsafe.Pointer(&path[0])),
			0, unix.STATX_SIZE|unix.STATX_UID, uintptr(unsafe.Pointer(&stx)), 0)
		switch e {
		case 0:
			if stx.Mask&unix.STATX_UID == 0 {
				return 0, 0, false
			}
			if stx.Mask&unix.STATX_SIZE != 0 && stx.Mode&unix.S_IFMT == unix.S_IFDIR {
				count = int64(stx.Size)
			}
			return count, stx.Uid, true
		case unix.EINTR:
			continue
		}
		return 0, 0, false
	}
}
