package procs

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// snapshot is one pass over /proc: every process with its ports.
type snapshot struct {
	taken time.Time
	procs []Process   // in PID order
	index map[int]int // PID → position in procs
}

// sample is the CPU time a process had at the previous snapshot, and when
// its stat was read: each process gets its own interval, because one pass
// over /proc takes long enough (100+ ms on a busy host) to skew a rate
// measured between the passes' start and end times.
type sample struct {
	startTicks uint64
	cpuTicks   uint64
	at         time.Time
}

// minCPUInterval is the shortest interval a rate is measured over: with
// 10 ms clock ticks, shorter ones are mostly rounding. Below it, the
// process's average over its life is shown and the older sample is kept.
const minCPUInterval = 250 * time.Millisecond

// inventory reads /proc. It is safe for concurrent use: builds are
// serialized and shared by everyone who asks within the TTL.
type inventory struct {
	procRoot string
	ttl      time.Duration
	selfPID  int
	pageSize uint64
	boot     float64

	buildMu sync.Mutex // one build at a time; waiters share its result

	mu    sync.Mutex
	cur   *snapshot
	prev  map[int]sample
	users map[uint32]string
}

func newInventory(procRoot string, ttl time.Duration) (*inventory, error) {
	boot, err := bootTime(procRoot)
	if err != nil {
		return nil, err
	}
	inv := &inventory{
		procRoot: procRoot,
		ttl:      ttl,
		selfPID:  os.Getpid(),
		pageSize: uint64(os.Getpagesize()),
		boot:     boot,
		users:    map[uint32]string{},
	}
	// A CPU baseline, so the first list shows real rates, not zeros.
	inv.prev = inv.cpuBaseline()
	return inv, nil
}

// cpuBaseline reads only the CPU times of every process.
func (inv *inventory) cpuBaseline() map[int]sample {
	out := map[int]sample{}
	buf := make([]byte, 0, 512)
	for _, pid := range inv.pids() {
		b, err := readFileInto(inv.procRoot+"/"+strconv.Itoa(pid)+"/stat", buf, statCap, true)
		if err != nil {
			continue
		}
		buf = b
		st, err := parseStat(b)
		if err != nil {
			continue
		}
		out[pid] = sample{st.startTicks, st.utime + st.stime, time.Now()}
	}
	return out
}

// pids lists the numeric entries of /proc.
func (inv *inventory) pids() []int {
	fd, err := openRead(inv.procRoot, unix.O_DIRECTORY)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	out := make([]int, 0, 1024)
	_ = eachDirent(fd, make([]byte, 32<<10), false, func(name []byte) {
		if pid, ok := atoiBytes(name); ok {
			out = append(out, pid)
		}
	})
	return out
}

// invalidate drops the cached snapshot (after an action changed things).
func (inv *inventory) invalidate() {
	inv.mu.Lock()
	inv.cur = nil
	inv.mu.Unlock()
}

// get returns a snapshot no older than the TTL, building one if needed.
// Concurrent callers share one build.
func (inv *inventory) get(ctx context.Context) (*snapshot, error) {
	if s := inv.fresh(); s != nil {
		return s, nil
	}
	inv.buildMu.Lock()
	defer inv.buildMu.Unlock()
	if s := inv.fresh(); s != nil {
		return s, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := inv.build()
	inv.mu.Lock()
	inv.cur = s
	inv.mu.Unlock()
	return s, nil
}

func (inv *inventory) fresh() *snapshot {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.cur != nil && time.Since(inv.cur.taken) < inv.ttl {
		return inv.cur
	}
	return nil
}

// username maps a uid to a name, caching lookups (and misses).
func (inv *inventory) username(uid uint32) string {
	inv.mu.Lock()
	name, ok := inv.users[uid]
	inv.mu.Unlock()
	if ok {
		return name
	}
	name = strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	inv.mu.Lock()
	inv.users[uid] = name
	inv.mu.Unlock()
	return name
}

// build reads every process once: stat, cmdline, exe, fds (for sockets and
// the open-files count) and network namespace; then the socket tables of
// each distinct network namespace, once each.
func (inv *inventory) build() *snapshot {
	now := time.Now()
	pids := inv.pids()
	procs := make([]Process, 0, len(pids))
	statBuf := make([]byte, 0, 1024)
	cmdBuf := make([]byte, 0, 4096)
	linkBuf := make([]byte, 256)
	dents := make([]byte, 8<<10)
	sockOwners := map[uint64][]int{} // socket inode → PIDs holding it
	netnsPID := map[string]int{}     // netns id → one PID in it
	var netnsOrder []string
	cur := make(map[int]sample, len(pids))

	inv.mu.Lock()
	prev := inv.prev
	inv.mu.Unlock()
	// CLOCK_BOOTTIME once (a system call: it has no vDSO fast path in x/sys),
	// then the monotonic clock from there.
	boot0, mono0 := sinceBoot(), time.Now()

	// Paths are built in one buffer, NUL-terminated for the system calls:
	// no string per file.
	path := make([]byte, 0, len(inv.procRoot)+64)
	var base int
	file := func(name string) []byte {
		path = append(append(path[:base], name...), 0)
		return path[:len(path)-1]
	}

	for _, pid := range pids {
		path = append(strconv.AppendInt(append(append(path[:0], inv.procRoot...), '/'), int64(pid), 10), '/')
		base = len(path)
		fd, err := openZ(file("stat"), 0)
		if err != nil {
			continue // gone
		}
		var fst unix.Stat_t
		ferr := unix.Fstat(fd, &fst)
		statBuf = statBuf[:cap(statBuf)]
		n, rerr := readFD(fd, statBuf)
		unix.Close(fd)
		if rerr != nil || ferr != nil {
			continue
		}
		st, err := parseStat(statBuf[:n])
		if err != nil {
			continue
		}
		p := Process{
			PID:        pid,
			PPID:       st.ppid,
			Name:       st.comm,
			UID:        fst.Uid,
			Status:     statusName(st.state),
			MemoryRSS:  st.rssPages * inv.pageSize,
			Nice:       st.nice,
			Threads:    st.numThreads,
			startTicks: st.startTicks,
			cpuTicks:   st.utime + st.stime,
			Cmdline:    []string{},
			Ports:      []Port{},
		}
		p.Username = inv.username(fst.Uid)
		p.CreateTime = createTime(inv.boot, st.startTicks)
		p.CreateTimeISO = isoLocal(p.CreateTime)
		smp := sample{st.startTicks, p.cpuTicks, time.Now()}
		old, ok := prev[pid]
		if ok && old.startTicks == st.startTicks && smp.at.Sub(old.at) >= minCPUInterval {
			d := smp.at.Sub(old.at).Seconds()
			p.CPUPercent = float64(p.cpuTicks-min(old.cpuTicks, p.cpuTicks)) / clockTicks / d * 100
		} else {
			if ok && old.startTicks == st.startTicks {
				smp = old // too soon: measure the next rate from the older sample
			}
			// New since the last sample, or sampled too recently: its
			// average over its life so far (boot-clock based, as starttime).
			if life := boot0 + time.Since(mono0).Seconds() - float64(st.startTicks)/clockTicks; life > 0 {
				p.CPUPercent = float64(p.cpuTicks) / clockTicks / life * 100
			}
		}
		cur[pid] = smp
		p.CPUPercent = round2(p.CPUPercent)

		if st.flags&pfKthread == 0 {
			if fd, err := openZ(file("cmdline"), 0); err == nil {
				b, err := readAllFD(fd, cmdBuf, cmdlineCap, true)
				unix.Close(fd)
				if err == nil {
					cmdBuf = b
					p.Cmdline = splitNUL(b)
				}
			}
			if n, err := readlinkatZ(unix.AT_FDCWD, file("exe"), linkBuf); err == nil {
				p.Exe = string(linkBuf[:n])
			}
			var sockets bool
			p.OpenFilesCount, sockets = inv.scanFDs(file("fd"), pid, linkBuf, dents, sockOwners)
			// Only a process holding sockets needs its network namespace:
			// the tables of a namespace nobody here holds a socket in would
			// give nothing.
			if n, err := 0, error(nil); sockets {
				if n, err = readlinkatZ(unix.AT_FDCWD, file("ns/net"), linkBuf); err == nil {
					if _, ok := netnsPID[string(linkBuf[:n])]; !ok {
						ns := string(linkBuf[:n])
						netnsPID[ns] = pid
						netnsOrder = append(netnsOrder, ns)
					}
				}
			}
		}
		procs = append(procs, p)
	}

	index := make(map[int]int, len(procs))
	for i := range procs {
		index[procs[i].PID] = i
	}
	inv.attachPorts(procs, index, sockOwners, netnsPID, netnsOrder)

	inv.mu.Lock()
	inv.prev = cur
	inv.mu.Unlock()
	return &snapshot{taken: now, procs: procs, index: index}
}

// scanFDs reads /proc/PID/fd (fdDir, followed by a NUL) once: socket
// inodes go to owners. It returns
// the count of descriptors naming files (paths outside /dev) and whether
// the process holds any socket.
func (inv *inventory) scanFDs(fdDir []byte, pid int, buf, dents []byte, owners map[uint64][]int) (files int, sockets bool) {
	dfd, err := openZ(fdDir, unix.O_DIRECTORY)
	if err != nil {
		return 0, false
	}
	defer unix.Close(dfd)
	_ = eachDirent(dfd, dents, true, func(name []byte) {
		n, err := readlinkatZ(dfd, name, buf)
		if err != nil || n == 0 {
			return
		}
		l := buf[:n]
		switch {
		case bytes.HasPrefix(l, []byte("socket:[")):
			sockets = true
			ino, err := strconv.ParseUint(string(l[8:len(l)-1]), 10, 64)
			// A process may hold one socket in several fds: list it once.
			if o := owners[ino]; err == nil && (len(o) == 0 || o[len(o)-1] != pid) {
				owners[ino] = append(o, pid)
			}
		case l[0] == '/' && !bytes.HasPrefix(l, []byte("/dev/")):
			files++
		}
	})
	return files, sockets
}

// attachPorts reads the socket tables once per network namespace and gives
// each process the sockets whose inodes it holds.
func (inv *inventory) attachPorts(procs []Process, index map[int]int, owners map[uint64][]int, netnsPID map[string]int, order []string) {
	if len(owners) == 0 {
		return
	}
	want := func(ino uint64) bool { _, ok := owners[ino]; return ok }
	seen := map[uint64]bool{}
	buf := make([]byte, 0, 64<<10)
	read := func(base string) {
		for _, t := range socketTables {
			b, err := readFileInto(base+"/net/"+t.file, buf, 64<<20, false)
			if err != nil {
				continue
			}
			buf = b
			parseSocketTable(b, t, want, func(p Port) {
				if seen[p.Inode] {
					return
				}
				seen[p.Inode] = true
				for _, pid := range owners[p.Inode] {
					if i, ok := index[pid]; ok {
						procs[i].Ports = append(procs[i].Ports, p)
					}
				}
			})
		}
	}
	if len(order) == 0 {
		read(inv.procRoot + "/self")
		return
	}
	for _, ns := range order {
		read(inv.procRoot + "/" + strconv.Itoa(netnsPID[ns]))
	}
}

// sinceBoot is CLOCK_BOOTTIME in seconds, the clock /proc/PID/stat's
// starttime counts in.
func sinceBoot() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

func round2(v float64) float64 {
	return float64(int64(v*100+0.5)) / 100
}
