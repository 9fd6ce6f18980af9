package procfs

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Snapshot is one pass over /proc: every process with its ports. It is
// shared by every caller within the TTL and must not be modified.
type Snapshot struct {
	Taken time.Time
	Procs []Process   // in PID order
	Index map[int]int // PID → position in Procs
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

// Inventory reads /proc. It is safe for concurrent use: builds are
// serialized and shared by everyone who asks within the TTL.
type Inventory struct {
	procRoot string
	ttl      time.Duration
	selfPID  int
	pageSize uint64
	boot     float64

	buildMu sync.Mutex // one build at a time; waiters share its result

	mu    sync.Mutex
	cur   *Snapshot
	gen   uint64 // bumped by Invalidate
	prev  map[int]sample
	users map[uint32]string

	// The fd-scan cache (see fdcache.go): the last reusable scan of each
	// live process, its executable's path, the socket inodes that no process held after the last
	// full scan, and when that full scan was.
	fdCache   map[int]fdScan
	exeCache  map[int]exeMemo
	cmdCache  map[int]cmdMemo  // the command lines (cmdcache.go)
	unitCache map[int]unitMemo // the units (unitcache.go)
	unowned   map[uint64]struct{}
	lastFull  time.Time
	fdStats   fdStats // of the last build, for tests

	// The stat descriptors held between builds (handles.go): PID → fd.
	statFDs    map[int]int
	pidFDs     map[int]int // and the pidfds, for PIDFD_GET_INFO
	statBudget int64       // descriptors of both kinds
	held       *heldSet
	heldPidfd  *heldSet

	afterScan func() // tests: runs between the fd scans and the table read

	memTotal uint64 // bytes, from /proc/meminfo (0: unknown)
	// Annotate, when set, runs on every process of a new snapshot, before
	// it is shared: the core marks the processes it protects.
	Annotate func(p *Process)
	onBuild  func(time.Duration) // OnBuild
}

// OnBuild sets fn to be called after each pass over /proc with how long it
// took (the metrics' snapshot duration histogram). Set it before use.
func (inv *Inventory) OnBuild(fn func(time.Duration)) { inv.onBuild = fn }

// NewInventory returns an Inventory of the procfs mounted at procRoot whose
// snapshots serve every caller for ttl.
func NewInventory(procRoot string, ttl time.Duration) (*Inventory, error) {
	boot, err := bootTime(procRoot)
	if err != nil {
		return nil, err
	}
	inv := &Inventory{
		procRoot: procRoot,
		ttl:      ttl,
		selfPID:  os.Getpid(),
		pageSize: uint64(os.Getpagesize()),
		boot:     boot,
		users:    map[uint32]string{},
		memTotal: memTotal(procRoot),

		statBudget: statBudget(),
		held:       newHeldSet(heldSetSize()),
		heldPidfd:  newHeldSet(heldSetSize()),
	}
	// A CPU baseline, so the first list shows real rates, not zeros.
	inv.prev = inv.cpuBaseline()
	return inv, nil
}

// ProcRoot is where the procfs read is mounted.
func (inv *Inventory) ProcRoot() string { return inv.procRoot }

// BootTime is the boot time in seconds since the epoch (btime).
func (inv *Inventory) BootTime() float64 { return inv.boot }

// cpuBaseline reads only the CPU times of every process.
func (inv *Inventory) cpuBaseline() map[int]sample {
	out := map[int]sample{}
	buf := make([]byte, 0, 512)
	for _, pid := range inv.pids() {
		b, err := readFileInto(inv.procRoot+"/"+strconv.Itoa(pid)+"/stat", buf, StatCap, true)
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
func (inv *Inventory) pids() []int {
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

// Invalidate drops the cached snapshot (after an action changed things).
func (inv *Inventory) Invalidate() {
	inv.mu.Lock()
	inv.cur = nil
	inv.gen++
	inv.mu.Unlock()
}

// Get returns a snapshot no older than the TTL, building one if needed.
// Concurrent callers share one build.
func (inv *Inventory) Get(ctx context.Context) (*Snapshot, error) {
	return inv.GetMaxAge(ctx, inv.ttl)
}

// GetMaxAge is Get with a bound below the TTL (a caller who asks for fresh
// data); it is capped by the TTL.
func (inv *Inventory) GetMaxAge(ctx context.Context, maxAge time.Duration) (*Snapshot, error) {
	maxAge = min(maxAge, inv.ttl)
	if s := inv.fresh(maxAge); s != nil {
		return s, nil
	}
	inv.buildMu.Lock()
	defer inv.buildMu.Unlock()
	if s := inv.fresh(maxAge); s != nil {
		return s, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv.mu.Lock()
	gen := inv.gen
	inv.mu.Unlock()
	start := time.Now()
	s := inv.build()
	if inv.onBuild != nil {
		inv.onBuild(time.Since(start))
	}
	inv.mu.Lock()
	// A build that an action overtook (Invalidate ran while it read /proc)
	// serves its own caller but is not cached: callers after the action
	// must see its effect.
	if inv.gen == gen {
		inv.cur = s
	}
	inv.mu.Unlock()
	return s, nil
}

func (inv *Inventory) fresh(maxAge time.Duration) *Snapshot {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.cur != nil && time.Since(inv.cur.Taken) < maxAge {
		return inv.cur
	}
	return nil
}

// username maps a uid to a name, caching lookups (and misses).
func (inv *Inventory) username(uid uint32) string {
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

// Builds read the PIDs in chunks of buildChunk, on up to maxBuildWorkers
// goroutines (one per CPU): almost all of a build is system calls into
// procfs, which run in parallel. Chunks are merged in PID order, so the
// result is exactly that of one pass.
const (
	buildChunk      = 64
	maxBuildWorkers = 4
)

// procReader reads processes for one build goroutine, with its buffers.
type procReader struct {
	inv       *Inventory
	prev      map[int]sample
	boot0     float64   // CLOCK_BOOTTIME at mono0
	mono0     time.Time // the build's start
	fdCache   map[int]fdScan
	exeCache  map[int]exeMemo
	cmdCache  map[int]cmdMemo
	unitCache map[int]unitMemo
	statFDs   map[int]int   // held stat descriptors of the last build, read-only
	pidFDs    map[int]int   // held pidfds of the last build, read-only
	kept      *atomic.Int64 // stat descriptors held by this build
	heldNow   int64         // descriptors held, once fixed for this build; -1 before
	full      bool          // scan every fd directory, read every exe: no cache

	// Paths are built in one buffer, NUL-terminated for the system calls:
	// no string per file. path[:base] is "/proc/PID/".
	path  []byte
	base  int
	pid   int // the process path points at
	stat  []byte
	cmd   []byte
	link  []byte
	dents []byte
	cg    []byte
}

// file returns /proc/PID/name, followed in memory by a NUL.
func (r *procReader) file(name string) []byte {
	r.path = append(append(r.path[:r.base], name...), 0)
	return r.path[:len(r.path)-1]
}

// at points the reader's paths at /proc/PID/.
func (r *procReader) at(pid int) {
	r.path = append(strconv.AppendInt(append(append(r.path[:0], r.inv.procRoot...), '/'), int64(pid), 10), '/')
	r.base = len(r.path)
	r.pid = pid
}

// fdSlot is what a build knows of one process's descriptors.
type fdSlot struct {
	fdScan
	fdRead    bool     // its fd directory was looked at (not a kernel thread)
	seen      int64    // its fd count when it was looked at (0 = unknown)
	cached    bool     // served from the fd-scan cache in this build
	netns     string   // its network namespace, when it holds sockets
	exe       exeMemo  // its executable, if it may be reused
	cmd       cmdMemo  // its command line, if it may be reused
	unit      unitMemo // its unit, if it may be reused
	stat      int      // its stat descriptor to hold (handles.go), if hold
	pidfd     int      // its pidfd to hold, if holdPidfd
	hold      bool
	holdPidfd bool
}

// withBuffers is a copy of proto with buffers of its own.
func (proto procReader) withBuffers() procReader {
	r := proto
	r.path = make([]byte, 0, len(r.inv.procRoot)+64)
	r.stat = make([]byte, 1024)
	r.cmd = make([]byte, 0, 4096)
	r.link = make([]byte, 256)
	r.dents = make([]byte, 8<<10)
	r.cg = make([]byte, 0, 256)
	return r
}

// isSelf says whether the reader's process is this one.
func (r *procReader) isSelf() bool {
	return r.pid == r.inv.selfPID && r.inv.procRoot == "/proc"
}

// parallel calls fn for i in [0, n), in chunks of buildChunk, on up to
// maxBuildWorkers goroutines, each with its own reader.
func (inv *Inventory) parallel(n int, proto procReader, fn func(r *procReader, i int)) {
	chunks := (n + buildChunk - 1) / buildChunk
	workers := 1
	if chunks > 1 {
		workers = min(runtime.GOMAXPROCS(0), maxBuildWorkers, chunks)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := proto.withBuffers()
			for {
				c := int(next.Add(1)) - 1
				if c >= chunks {
					return
				}
				for i := c * buildChunk; i < min((c+1)*buildChunk, n); i++ {
					fn(&r, i)
				}
			}
		}()
	}
	wg.Wait()
}

// build reads every process once: stat, cmdline, exe, fds (for sockets and
// the open-files count; from the fd-scan cache when the directory cannot
// have changed, see fdcache.go) and, for processes holding sockets, the
// network namespace; then the socket tables of each distinct network
// namespace, once each.
func (inv *Inventory) build() *Snapshot {
	now := time.Now()
	pids := inv.pids()

	inv.mu.Lock()
	prev := inv.prev
	cache, exes, cmds, units, known := inv.fdCache, inv.exeCache, inv.cmdCache, inv.unitCache, inv.unowned
	oldStat, oldPidfd := inv.statFDs, inv.pidFDs
	full := cache == nil || now.Sub(inv.lastFull) >= fdFullRescan
	inv.mu.Unlock()
	// CLOCK_BOOTTIME once (a system call: it has no vDSO fast path in x/sys),
	// then the monotonic clock from there.
	boot0, mono0 := sinceBoot(), time.Now()
	proto := procReader{inv: inv, prev: prev, boot0: boot0, mono0: mono0, fdCache: cache, exeCache: exes, cmdCache: cmds, unitCache: units, full: full}
	var kept atomic.Int64
	proto.statFDs, proto.pidFDs, proto.kept, proto.heldNow = oldStat, oldPidfd, &kept, -1

	all := make([]Process, len(pids)) // slot i is pids[i]; PID 0 = gone
	samples := make([]sample, len(pids))
	fds := make([]fdSlot, len(pids))
	// This process is read last, alone, once the descriptors it holds are
	// settled (handles.go).
	selfAt := -1
	if inv.procRoot == "/proc" {
		selfAt = slices.Index(pids, inv.selfPID)
	}
	inv.parallel(len(pids), proto, func(r *procReader, i int) {
		if i != selfAt {
			r.read(pids[i], &all[i], &samples[i], &fds[i])
		}
	})
	// The stat descriptors to hold (of every slot, listed or not: none
	// leaks); the others of the last build are of processes now gone.
	newStat, newPidfd := make(map[int]int, len(pids)), make(map[int]int, len(pids))
	for i := range fds {
		if fds[i].hold {
			newStat[pids[i]] = fds[i].stat
		}
		if fds[i].holdPidfd {
			newPidfd[pids[i]] = fds[i].pidfd
		}
	}
	inv.closeGone(oldStat, newStat, inv.held)
	inv.closeGone(oldPidfd, newPidfd, inv.heldPidfd)
	proto.heldNow = int64(len(newStat) + len(newPidfd))
	if selfAt >= 0 {
		r := proto.withBuffers()
		r.read(pids[selfAt], &all[selfAt], &samples[selfAt], &fds[selfAt])
	}

	// Compact in PID order.
	procs := all[:0]
	cur := make(map[int]sample, len(pids))
	var cachedAt []int // positions in procs served from the cache
	for i := range all {
		if all[i].PID != 0 {
			cur[all[i].PID] = samples[i]
			fds[len(procs)] = fds[i]
			if fds[i].cached {
				cachedAt = append(cachedAt, len(procs))
			}
			procs = append(procs, all[i])
		}
	}
	clear(all[len(procs):]) // no stale copies behind the slice's end
	fds = fds[:len(procs)]

	index := make(map[int]int, len(procs))
	for i := range procs {
		index[procs[i].PID] = i
	}
	if inv.afterScan != nil {
		inv.afterScan()
	}
	unowned := inv.attachPorts(procs, index, fds)
	stats := fdStats{cached: len(cachedAt), scanned: len(procs) - len(cachedAt)}
	// A socket in the tables that no process holds, and that was not
	// already ownerless after the last full scan, may be one a cached
	// process took in a same-count swap. Usually it is not: a process
	// accepted or made a connection after its fd directory was looked at,
	// and its fd count has moved since. So first rescan the processes whose
	// count moved and read the tables again; the sockets that were new and
	// are still there without an owner make the build rescan every cached
	// process. (A new socket that is gone by the second read is shown on
	// no one either way.)
	if suspects := newOnly(unowned, known); len(cachedAt) > 0 && len(suspects) > 0 {
		var moved atomic.Int64
		inv.parallel(len(procs), proto, func(r *procReader, i int) {
			if fds[i].fdRead && r.rescanIfMoved(&procs[i], &fds[i]) {
				moved.Add(1)
			}
		})
		stats.moved = int(moved.Load())
		unowned = inv.reattach(procs, index, fds)
		cachedAt = cachedAt[:0]
		for i := range fds {
			if fds[i].cached {
				cachedAt = append(cachedAt, i)
			}
		}
		if len(cachedAt) > 0 && anyIn(suspects, unowned) {
			inv.parallel(len(cachedAt), proto, func(r *procReader, k int) {
				i := cachedAt[k]
				r.rescan(&procs[i], &fds[i])
			})
			unowned = inv.reattach(procs, index, fds)
			stats.rescanned, cachedAt = len(cachedAt), nil
		}
	}
	if len(cachedAt) == 0 {
		// Every fd directory was read in this build: what no one holds now
		// is known to be ownerless (sockets in flight, kernel sockets...).
		known = unowned
	} else {
		// Forget the ownerless sockets that were closed (or found owners).
		// A new map: the old one may be read by a concurrent build.
		still := make(map[uint64]struct{}, len(known))
		for ino := range known {
			if _, ok := unowned[ino]; ok {
				still[ino] = struct{}{}
			}
		}
		known = still
	}

	newCache := make(map[int]fdScan, len(procs))
	newExes := make(map[int]exeMemo, len(procs))
	newCmds := make(map[int]cmdMemo, len(procs))
	newUnits := make(map[int]unitMemo, len(procs))
	for i := range procs {
		if fds[i].count > 0 {
			newCache[procs[i].PID] = fds[i].fdScan
		}
		if fds[i].exe.startStack != 0 {
			newExes[procs[i].PID] = fds[i].exe
		}
		if fds[i].cmd.startStack != 0 {
			newCmds[procs[i].PID] = fds[i].cmd
		}
		if fds[i].unit.ok {
			newUnits[procs[i].PID] = fds[i].unit
		}
	}
	if inv.Annotate != nil {
		for i := range procs {
			inv.Annotate(&procs[i])
		}
	}
	inv.mu.Lock()
	inv.prev = cur
	inv.fdCache, inv.exeCache, inv.cmdCache, inv.unowned, inv.fdStats = newCache, newExes, newCmds, known, stats
	inv.unitCache = newUnits
	inv.statFDs, inv.pidFDs = newStat, newPidfd
	if len(cachedAt) == 0 {
		inv.lastFull = now
	}
	inv.mu.Unlock()
	return &Snapshot{Taken: now, Procs: procs, Index: index}
}

// newOnly is the inodes of set that are not in known.
func newOnly(set, known map[uint64]struct{}) map[uint64]struct{} {
	var out map[uint64]struct{}
	for ino := range set {
		if _, ok := known[ino]; !ok {
			if out == nil {
				out = map[uint64]struct{}{}
			}
			out[ino] = struct{}{}
		}
	}
	return out
}

// anyIn says whether some inode of a is in b.
func anyIn(a, b map[uint64]struct{}) bool {
	for ino := range a {
		if _, ok := b[ino]; ok {
			return true
		}
	}
	return false
}

// reattach drops the ports attached so far and attaches them again, from a
// new read of the tables, after some fd directories were read again.
func (inv *Inventory) reattach(procs []Process, index map[int]int, fds []fdSlot) map[uint64]struct{} {
	for i := range procs {
		procs[i].Ports = procs[i].Ports[:0]
	}
	return inv.attachPorts(procs, index, fds)
}

// read fills *p and *smp for pid, and *fs with its descriptors.
// A process that is gone (or unreadable) leaves p.PID zero.
func (r *procReader) read(pid int, p *Process, smp *sample, fs *fdSlot) {
	inv := r.inv
	r.at(pid)
	n, keep, same, ok := r.readStat(pid)
	if !ok {
		return // gone
	}
	fs.stat, fs.hold = keep, keep >= 0
	st, err := parseStat(r.stat[:n])
	if err != nil {
		return
	}
	*p = Process{
		PID:        pid,
		PPID:       st.ppid,
		Name:       st.comm,
		UID:        0, // kernel threads: root; the others' below
		Status:     statusName(st.state),
		MemoryRSS:  st.rssPages * inv.pageSize,
		Nice:       st.nice,
		Threads:    st.numThreads,
		startTicks: st.startTicks,
		cpuTicks:   st.utime + st.stime,
		MemoryVMS:  st.vsize,
		kthread:    st.flags&pfKthread != 0,
		Cmdline:    []string{},
		Ports:      []Port{},
	}
	p.CPUTime = round2(float64(p.cpuTicks) / ClockTicks)
	if inv.memTotal > 0 {
		p.MemoryPercent = round2(float64(p.MemoryRSS) / float64(inv.memTotal) * 100)
	}
	p.CreateTime = CreateTime(inv.boot, st.startTicks)
	p.CreateTimeISO = isoLocal(p.CreateTime)
	*smp = sample{st.startTicks, p.cpuTicks, time.Now()}
	old, ok := r.prev[pid]
	if ok && old.startTicks == st.startTicks && smp.at.Sub(old.at) >= minCPUInterval {
		d := smp.at.Sub(old.at).Seconds()
		p.CPUPercent = float64(p.cpuTicks-min(old.cpuTicks, p.cpuTicks)) / ClockTicks / d * 100
	} else {
		if ok && old.startTicks == st.startTicks {
			*smp = old // too soon: measure the next rate from the older sample
		}
		// New since the last sample, or sampled too recently: its
		// average over its life so far (boot-clock based, as starttime).
		if life := r.boot0 + time.Since(r.mono0).Seconds() - float64(st.startTicks)/ClockTicks; life > 0 {
			p.CPUPercent = float64(p.cpuTicks) / ClockTicks / life * 100
		}
	}
	p.CPUPercent = round2(p.CPUPercent)

	if st.flags&pfKthread != 0 {
		p.Username = inv.username(p.UID)
		return
	}
	// The owner of /proc/PID/fd (handles.go), with the descriptor count.
	count, owner, ok := r.fdDirStat()
	if !ok {
		var fst unix.Stat_t
		if err := unix.Stat(string(r.file("stat")), &fst); err != nil {
			p.PID = 0 // gone
			return
		}
		owner = fst.Uid
	}
	p.UID = owner
	count = r.ownCount(count)
	if p.UID == 0 {
		// The entry's owner is the euid, or root when the process is not
		// dumpable (ssh-agent, setgid programs): the real uid is in status.
		if uid, ok := r.realUID(pid, fs, same); ok {
			p.UID = uid
		}
	}
	p.Username = inv.username(p.UID)
	if c, ok := r.cmdCache[pid]; ok && !r.full && c.same(st) {
		p.Cmdline, fs.cmd = c.cmdline, c
	} else if fd, err := openZ(r.file("cmdline"), 0); err == nil {
		b, err := readAllFD(fd, r.cmd, CmdlineCap, true)
		unix.Close(fd)
		if err == nil {
			r.cmd = b
			p.Cmdline = SplitNUL(b)
			fs.cmd = newCmdMemo(st, p.Cmdline)
		}
	}
	if c, ok := r.exeCache[pid]; ok && !r.full && c.same(st) {
		p.Exe, fs.exe = c.exe, c
	} else if n, err := readlinkatZ(unix.AT_FDCWD, r.file("exe"), r.link); err == nil {
		p.Exe = string(r.link[:n])
		fs.exe = exeMemo{st.startTicks, st.startStack, st.comm, p.Exe}
	}
	p.Unit, fs.unit = r.readUnit(pid, st)
	fs.fdRead, fs.seen = true, count
	if c, ok := r.fdCache[pid]; ok && !r.full && c.reusable(st.startTicks, count) {
		fs.fdScan, fs.cached = c, true
	} else {
		fs.fdScan, _ = r.scanFDs(st.startTicks, count)
	}
	r.finishFDs(p, fs)
}

// realUID is the real uid of the reader's process, pid (fs is its slot;
// same says its stat was read through the descriptor held since the last
// build). PIDFD_GET_INFO (Linux 6.13) gives it for one ioctl on a pidfd
// held between builds (handles.go), or pidfd_open, ioctl and close; older
// kernels answer ENOTTY or EINVAL, and then (for good: noPidfdInfo) the
// Uid: line of /proc/PID/status is read, which costs the kernel several
// times more: it formats the whole file (memory, signals, capabilities...)
// for one line. A new pidfd or status names the process by PID some time
// after its stat was read, as any reader of /proc does: the snapshot is a
// sample.
func (r *procReader) realUID(pid int, fs *fdSlot, same bool) (uint32, bool) {
	if noPidfdInfo.Load() {
		return r.statusRealUID()
	}
	// The pidfd held since the last build, if its stat descriptor showed
	// that the same process is still there (handles.go).
	if fd, ok := r.pidFDs[pid]; ok && same {
		if uid, err := pidfdRUID(fd); err == nil {
			r.kept.Add(1)
			fs.pidfd, fs.holdPidfd = fd, true
			return uid, true
		}
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ENOSYS || err == unix.EPERM {
			noPidfdInfo.Store(true)
		}
		return r.statusRealUID()
	}
	uid, err := pidfdRUID(fd)
	if err != nil {
		unix.Close(fd)
		if err != unix.ESRCH { // ESRCH: reaped since pidfd_open
			noPidfdInfo.Store(true)
		}
		return r.statusRealUID()
	}
	// Held only along with the stat descriptor, which tells the next
	// build whether this is still the same process.
	if fs.hold && r.reserve() {
		r.inv.heldPidfd.set(fd)
		fs.pidfd, fs.holdPidfd = fd, true
	} else {
		unix.Close(fd)
	}
	return uid, true
}

// noPidfdInfo is set once PIDFD_GET_INFO turned out to be unavailable.
var noPidfdInfo atomic.Bool

// pidfdRUID is the real uid of the process of pidfd fd (PIDFD_GET_INFO):
// ESRCH once it is reaped, ENOTTY or EINVAL from kernels without it.
func pidfdRUID(fd int) (uint32, error) {
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_CREDS}
	if err := unix.IoctlPidfdInfo(fd, &info); err != nil {
		return 0, err
	}
	if info.Mask&unix.PIDFD_INFO_CREDS == 0 {
		return 0, unix.ENOTTY
	}
	return info.Ruid, nil
}

// statusRealUID reads the real uid from the status file of the reader's
// process.
func (r *procReader) statusRealUID() (uint32, bool) {
	fd, err := openZ(r.file("status"), 0)
	if err != nil {
		return 0, false
	}
	// The Uid: line comes within the first kilobyte (after Name, Umask,
	// State, Tgid, Ngid, Pid, PPid, TracerPid).
	n, err := readFD(fd, r.stat)
	unix.Close(fd)
	if err != nil {
		return 0, false
	}
	ids, ok := IDsFromStatus(r.stat[:n], "Uid")
	return ids[0], ok
}

// rescan reads the fd directory of a process again. If it is gone by now,
// the scan it had (valid when this build began) stays.
func (r *procReader) rescan(p *Process, fs *fdSlot) {
	r.at(p.PID)
	r.rescanAt(p, fs, r.fdCount())
}

// rescanIfMoved rescans the fd directory if its count is not the one seen
// earlier in this build.
func (r *procReader) rescanIfMoved(p *Process, fs *fdSlot) bool {
	r.at(p.PID)
	n := r.fdCount()
	if n != 0 && n == fs.seen {
		return false
	}
	r.rescanAt(p, fs, n)
	return true
}

func (r *procReader) rescanAt(p *Process, fs *fdSlot, count int64) {
	if s, ok := r.scanFDs(p.startTicks, count); ok {
		fs.fdScan, fs.cached, fs.seen = s, false, count
	}
	r.finishFDs(p, fs)
}

// finishFDs copies the fd scan into p and reads the network namespace.
func (r *procReader) finishFDs(p *Process, fs *fdSlot) {
	p.OpenFilesCount = fs.files
	// Only a process holding sockets needs its network namespace: the
	// tables of a namespace nobody here holds a socket in would give
	// nothing. It is read in every build, cached scan or not: a process
	// may move to another namespace without touching its descriptors.
	fs.netns = ""
	if fs.sockets {
		if n, err := readlinkatZ(unix.AT_FDCWD, r.file("ns/net"), r.link); err == nil {
			fs.netns = string(r.link[:n])
		}
	}
}

// scanFDs reads /proc/PID/fd once: the socket inodes held (once per fd),
// the count of descriptors naming files (paths outside /dev) and whether
// the process holds any socket. count is the directory's size, stat before
// the scan; the result is marked reusable only if the scan saw exactly that
// many descriptors. ok is false if the directory could not be read.
func (r *procReader) scanFDs(startTicks uint64, count int64) (s fdScan, ok bool) {
	s.startTicks = startTicks
	dfd, err := openZ(r.file("fd"), unix.O_DIRECTORY)
	if err != nil {
		return s, false
	}
	defer unix.Close(dfd)
	buf := r.link
	var seen int64
	self := r.isSelf()
	err = eachDirent(dfd, r.dents, true, func(name []byte) {
		if self {
			// Our own held descriptors (handles.go) and the directory
			// being read are not counted (see ownCount), nor read.
			if fd, ok := atoiBytes(name); ok && (fd == dfd || r.inv.held.has(fd) || r.inv.heldPidfd.has(fd)) {
				return
			}
		}
		seen++
		n, err := readlinkatZ(dfd, name, buf)
		if err != nil || n == 0 {
			return
		}
		l := buf[:n]
		switch {
		case bytes.HasPrefix(l, []byte("socket:[")):
			s.sockets = true
			if ino, err := strconv.ParseUint(string(l[8:len(l)-1]), 10, 64); err == nil {
				s.socks = append(s.socks, ino)
			}
		case l[0] == '/' && !bytes.HasPrefix(l, []byte("/dev/")):
			s.files++
		}
	})
	if err == nil && count > 0 && seen == count {
		s.count = count
	}
	return s, true
}

// attachPorts reads the socket tables once per network namespace and gives
// each process the sockets whose inodes it holds. It returns the inodes in
// the tables that no process holds. The tables are read even when no
// process is known to hold a socket: a cached one might (fdcache.go).
func (inv *Inventory) attachPorts(procs []Process, index map[int]int, fds []fdSlot) map[uint64]struct{} {
	nsocks := 0
	for i := range fds {
		nsocks += len(fds[i].socks)
	}
	owners := make(map[uint64][]int, nsocks) // socket inode → PIDs holding it
	netnsPID := map[string]int{}             // netns id → one PID in it
	var order []string
	for i := range fds {
		pid := procs[i].PID
		for _, ino := range fds[i].socks {
			// A process may hold one socket in several fds: list it once.
			if o := owners[ino]; len(o) == 0 || o[len(o)-1] != pid {
				owners[ino] = append(o, pid)
			}
		}
		if ns := fds[i].netns; ns != "" {
			if _, ok := netnsPID[ns]; !ok {
				netnsPID[ns] = pid
				order = append(order, ns)
			}
		}
	}
	unowned := map[uint64]struct{}{}
	want := func(ino uint64) bool {
		if _, ok := owners[ino]; ok {
			return true
		}
		unowned[ino] = struct{}{}
		return false
	}
	seen := make(map[uint64]bool, len(owners))
	add := func(p Port) {
		if seen[p.Inode] {
			return
		}
		seen[p.Inode] = true
		for _, pid := range owners[p.Inode] {
			if i, ok := index[pid]; ok {
				procs[i].Ports = append(procs[i].Ports, p)
			}
		}
	}
	buf := make([]byte, 0, 64<<10)
	// Our own namespace goes through sock_diag (see sockdiag.go) when
	// procRoot is the live /proc. Under the shipped unit it never does: the
	// unit refuses AF_NETLINK, and our namespace is a private, empty one
	// (PrivateNetwork=yes); the host's tables come from /proc/<pid>/net/*.
	var selfNS string
	if inv.procRoot == "/proc" {
		if n, err := unix.Readlink("/proc/self/ns/net", buf[:cap(buf)]); err == nil {
			selfNS = string(buf[:n])
		}
	}
	read := func(base string, viaDiag bool) {
		for _, t := range socketTables {
			if viaDiag && !sockDiagOff.Load() && sockDiag(t, buf[:cap(buf)], want, add) == nil {
				continue
			}
			b, err := readFileInto(base+"/net/"+t.file, buf, 64<<20, false)
			if err != nil {
				continue
			}
			buf = b
			parseSocketTable(b, t, want, add)
		}
	}
	if len(order) == 0 {
		read(inv.procRoot+"/self", false)
		return unowned
	}
	// The daemon's own namespace is always read: a socket that appears there
	// while no process in it is known to hold one must still be seen (and
	// make the next build rescan), e.g. in a fresh namespace such as a
	// package build's (unshare -n).
	readSelf := selfNS != ""
	for _, ns := range order {
		if ns == selfNS {
			readSelf = false
		}
		read(inv.procRoot+"/"+strconv.Itoa(netnsPID[ns]), ns == selfNS && selfNS != "")
	}
	if readSelf {
		read(inv.procRoot+"/self", true)
	}
	return unowned
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

// memTotal reads MemTotal from procRoot/meminfo, in bytes; 0 if unreadable.
func memTotal(procRoot string) uint64 {
	b, err := os.ReadFile(procRoot + "/meminfo")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if k, v, ok := kbValue(line); ok && k == "MemTotal" {
			return v
		}
	}
	return 0
}
