package procfs

import (
	"time"
)

// The fd-scan cache. Reading /proc/PID/fd (getdents plus one readlink per
// descriptor) is the largest part of a build, yet most processes keep the
// same descriptors for hours. Since Linux 6.2, stat(/proc/PID/fd).st_size
// is the number of open descriptors (0 on older kernels: nothing is ever
// reused there), so one statx per process tells whether its last scan can
// still be current: same process (PID and start time) and same nonzero
// count → the scan is reused. A scan is kept only if it saw exactly the
// count stat gave just before it (an fd reserved but not yet installed
// counts in st_size, not in the directory).
//
// A count hides swaps (close one fd, open another: same count). For ports
// that is caught: the socket tables are read in full, and a socket in them
// that no process holds — and that was not already ownerless after the
// last full scan (a socket in flight in SCM_RIGHTS, a kernel socket, one
// held by a process outside our PID namespace) — makes the build read fd
// directories again and attach the ports again. First only those whose
// count moved during the build (a connection accepted or made after the
// process was looked at: the usual case, cheap); then, if such a socket is
// still there without an owner, every process served from the cache. A
// socket swapped away is no longer in the tables, so it shows on nobody.
//
// What stays stale, for at most fdFullRescan (every build after that reads
// every fd directory again):
//   - open_files_count after a same-count swap between a file and a
//     non-file (a file replaced by a pipe or a socket, or the reverse);
//   - the ports of a socket held by several processes (inherited, passed)
//     when one of them swaps its copy for another descriptor of the same
//     count: it still shows on that process; and a socket already held by
//     another process (or known ownerless: received from an SCM_RIGHTS
//     message that was in flight during the last full scan) that a cached
//     process takes in a same-count swap (dup2 of the received fd over an
//     old one) shows on the others only, or on nobody;
//   - a cached process holding no socket that moves to another network
//     namespace and there swaps a descriptor for a socket: that namespace's
//     tables are read only for processes known to hold sockets.
//
// Cost: a host where processes we cannot see (another PID namespace,
// hidepid) open sockets all the time makes most builds read every cached
// fd directory again: no worse than without the cache, plus one more read
// of the tables.

// fdFullRescan bounds the staleness above: a build more than this long
// after the last one that read every fd directory reads them all.
const fdFullRescan = 30 * time.Second

// fdScan is what one read of a process's fd directory found.
type fdScan struct {
	startTicks uint64   // which process (with the PID, the cache key)
	count      int64    // descriptors at the scan; 0 = not reusable
	files      int      // descriptors naming files (paths outside /dev)
	socks      []uint64 // socket inodes, once per fd; shared, never modified
	sockets    bool     // holds a socket of any family: needs its netns
}

// fdStats counts how a build got the fd scans (for tests and profiling).
type fdStats struct {
	cached    int // fd scans served from the cache
	scanned   int // fd directories read (or kernel threads)
	moved     int // read again because their count moved during the build
	rescanned int // cached ones read again: a new socket had no owner
}

// reusable says whether s can stand for the fd directory of the process
// started at startTicks that now has count descriptors.
func (s fdScan) reusable(startTicks uint64, count int64) bool {
	return s.count > 0 && s.count == count && s.startTicks == startTicks
}

// fdCount is the number of open descriptors of the reader's process (the
// size of its fd directory), or 0 if unknown (older kernels, errors).
func (r *procReader) fdCount() int64 {
	count, _, _ := r.fdDirStat()
	return r.ownCount(count)
}

// ownCount is count, the size of the reader's process's fd directory, but
// for this process: without the descriptors the inventory holds
// (handles.go), which its scan skips, so that its cached scan stays
// reusable while they come and go; 0 (unknown) until they are settled.
func (r *procReader) ownCount(count int64) int64 {
	if !r.isSelf() || count == 0 {
		return count
	}
	if r.heldNow < 0 || count <= r.heldNow {
		return 0
	}
	return count - r.heldNow
}

// The executable's path (readlink of /proc/PID/exe) is reused the same
// way, for the same process whose comm and stack start are unchanged. An
// execve changes it only together with both, in practice: comm becomes the
// new file's name, and the new stack's top is randomized (ASLR) and, even
// without ASLR, moves with the size of the new argv and environment. What
// can stay stale, for at most fdFullRescan: the " (deleted)" suffix the
// kernel adds once the file is deleted or replaced (a package upgrade), an
// execve of another file of the same name that lands its stack at the same
// address (ASLR off and arguments of the same size), and PR_SET_MM_EXE_FILE.
// Actions never use this path: the core reads exe afresh when it pins a process.

// exeMemo is a process's executable path and what identifies its image.
type exeMemo struct {
	startTicks uint64
	startStack uint64 // 0 = not reusable (no access, or the process is exiting)
	comm       string
	exe        string
}

// same says whether m was read for the image st describes.
func (m exeMemo) same(st statFields) bool {
	return m.startStack != 0 && m.startStack == st.startStack && m.startTicks == st.startTicks && m.comm == st.comm
}
