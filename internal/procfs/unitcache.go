package procfs

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// The unit cache. Every list item names the systemd unit whose cgroup holds
// the process (the deepest .service or .scope of its cgroup path, as the
// detail's unit), read from /proc/PID/cgroup. A process changes cgroup only
// when something moves it (systemd's AttachProcesses, `systemd-run --scope`
// moving itself before its execve, a cgroup.procs write), so a build reuses
// the unit read for the same process and reads it again when:
//   - it is another process or image: PID, start time or comm differ (a
//     scope's runner moves itself, then its execve changes comm);
//   - the build is a full one (every fdFullRescan, as for the fd scans and
//     command lines).
//
// The staleness rule: a process moved to another cgroup without an execve
// shows its new unit at the next full build, at most fdFullRescan (30 s)
// later; a new process, and one that executed a new program, shows it at
// once. The detail (GetProcess) always reads the cgroup afresh.

// unitMemo is a process's unit and what identifies the image it was read
// for.
type unitMemo struct {
	startTicks uint64
	comm       string
	unit       string
	ok         bool // read: may be reused
}

// unitCgroupCap bounds the read of /proc/PID/cgroup (one line under cgroup
// v2; a dozen under v1).
const unitCgroupCap = 8 << 10

// readUnit reads the unit of the reader's process (stat st) or takes it
// from the cache.
func (r *procReader) readUnit(pid int, st statFields) (string, unitMemo) {
	if m, ok := r.unitCache[pid]; ok && !r.full && m.ok && m.startTicks == st.startTicks && m.comm == st.comm {
		return m.unit, m
	}
	fd, err := openZ(r.file("cgroup"), 0)
	if err != nil {
		return "", unitMemo{}
	}
	b, err := readAllFD(fd, r.cg, unitCgroupCap, true)
	unix.Close(fd)
	if err != nil {
		return "", unitMemo{}
	}
	r.cg = b
	u := unitOfCgroup(b)
	return u, unitMemo{st.startTicks, st.comm, u, true}
}

// unitOfCgroup is the deepest .service or .scope of the cgroup v2 path in
// the content of /proc/PID/cgroup (or, under cgroup v1, of the
// name=systemd hierarchy's path); "" when there is none.
func unitOfCgroup(b []byte) string {
	path, ok := cgroupPath(b)
	if !ok {
		return ""
	}
	var unit []byte
	for len(path) > 0 {
		part := path
		if i := bytes.IndexByte(path, '/'); i >= 0 {
			part, path = path[:i], path[i+1:]
		} else {
			path = nil
		}
		if bytes.HasSuffix(part, []byte(".service")) || bytes.HasSuffix(part, []byte(".scope")) {
			unit = part
		}
	}
	return string(unit)
}

// cgroupPath finds the unified hierarchy's line ("0::PATH") or, failing
// it, the name=systemd one.
func cgroupPath(b []byte) ([]byte, bool) {
	var v1 []byte
	found := false
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if p, ok := bytes.CutPrefix(line, []byte("0::")); ok {
			return bytes.TrimSpace(p), true
		}
		if _, p, ok := bytes.Cut(line, []byte(":name=systemd:")); ok {
			v1, found = bytes.TrimSpace(p), true
		}
	}
	return v1, found
}
