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
	gen   uint64 // bumped by invalidate
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
		b, err := readCapped(inv.procRoot+"/"+strconv.Itoa(pid)+"/stat", buf, statCap)
		if err != nil {
			continue
		}
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
	d, err := os.Open(inv.procRoot)
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	out := make([]int, 0, len(names))
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		if pid, err := strconv.Atoi(n); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// invalidate drops the cached snapshot (after an action changed things).
func (inv *inventory) invalidate() {
	inv.mu.Lock()
	inv.cur = nil
	inv.gen++
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
	inv.mu.Lock()
	gen := inv.gen
	inv.mu.Unlock()
	s := inv.build()
	inv.mu.Lock()
	// A build that an action overtook (invalidate ran while it read /proc)
	// serves its own caller but is not cached: callers after the action
	// must see its effect.
	if inv.gen == gen {
		inv.cur = s
	}
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
	sockOwners := map[uint64][]int{} // socket inode → PIDs holding it
	netnsPID := map[string]int{}     // netns id → one PID in it
	var netnsOrder []string
	cur := make(map[int]sample, len(pids))

	inv.mu.Lock()
	prev := inv.prev
	inv.mu.Unlock()

	for _, pid := range pids {
		dir := inv.procRoot + "/" + strconv.Itoa(pid)
		f, err := os.Open(dir + "/stat")
		if err != nil {
			continue // gone
		}
		var fst unix.Stat_t
		ferr := unix.Fstat(int(f.Fd()), &fst)
		statBuf = statBuf[:cap(statBuf)]
		n, rerr := f.Read(statBuf)
		f.Close()
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
			if life := sinceBoot() - float64(st.startTicks)/clockTicks; life > 0 {
				p.CPUPercent = float64(p.cpuTicks) / clockTicks / life * 100
			}
		}
		cur[pid] = smp
		p.CPUPercent = round2(p.CPUPercent)

		if st.flags&pfKthread == 0 {
			if b, err := readCapped(dir+"/cmdline", cmdBuf, cmdlineCap); err == nil {
				cmdBuf = b
				p.Cmdline = splitNUL(b)
			}
			if n, err := unix.Readlink(dir+"/exe", linkBuf); err == nil {
				p.Exe = string(linkBuf[:n])
			}
			p.OpenFilesCount = inv.scanFDs(dir, pid, linkBuf, sockOwners)
			if n, err := unix.Readlink(dir+"/ns/net", linkBuf); err == nil {
				ns := string(linkBuf[:n])
				if _, ok := netnsPID[ns]; !ok {
					netnsPID[ns] = pid
					netnsOrder = append(netnsOrder, ns)
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

// scanFDs reads /proc/PID/fd once: socket inodes go to owners, and the
// count of descriptors naming files (paths outside /dev) is returned.
func (inv *inventory) scanFDs(dir string, pid int, buf []byte, owners map[uint64][]int) int {
	fdDir := dir + "/fd"
	dfd, err := unix.Open(fdDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	d := os.NewFile(uintptr(dfd), fdDir)
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	files := 0
	for _, name := range names {
		n, err := unix.Readlinkat(dfd, name, buf)
		if err != nil || n == 0 {
			continue
		}
		l := buf[:n]
		switch {
		case bytes.HasPrefix(l, []byte("socket:[")):
			ino, err := strconv.ParseUint(string(l[8:len(l)-1]), 10, 64)
			// A process may hold one socket in several fds: list it once.
			if o := owners[ino]; err == nil && (len(o) == 0 || o[len(o)-1] != pid) {
				owners[ino] = append(o, pid)
			}
		case l[0] == '/' && !bytes.HasPrefix(l, []byte("/dev/")):
			files++
		}
	}
	return files
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
			b, err := readCapped(base+"/net/"+t.file, buf, 64<<20)
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
