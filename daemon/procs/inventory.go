package procs

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
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

// Builds read the PIDs in chunks of buildChunk, on up to maxBuildWorkers
// goroutines (one per CPU): almost all of a build is system calls into
// procfs, which run in parallel. Chunks are merged in PID order, so the
// result is exactly that of one pass.
const (
	buildChunk      = 64
	maxBuildWorkers = 4
)

// sockRef says that pid holds the socket inode ino (once per fd).
type sockRef struct {
	ino uint64
	pid int
}

// nsRef is the network namespace of a process that holds sockets.
type nsRef struct {
	ns  string
	pid int
}

// chunkFinds is what reading one chunk of PIDs found besides the
// processes: sockets and namespaces, in PID order.
type chunkFinds struct {
	socks []sockRef
	netns []nsRef
}

// procReader reads processes for one build goroutine, with its buffers.
type procReader struct {
	inv   *inventory
	prev  map[int]sample
	boot0 float64   // CLOCK_BOOTTIME at mono0
	mono0 time.Time // the build's start

	// Paths are built in one buffer, NUL-terminated for the system calls:
	// no string per file. path[:base] is "/proc/PID/".
	path  []byte
	base  int
	stat  []byte
	cmd   []byte
	link  []byte
	dents []byte
}

// file returns /proc/PID/name, followed in memory by a NUL.
func (r *procReader) file(name string) []byte {
	r.path = append(append(r.path[:r.base], name...), 0)
	return r.path[:len(r.path)-1]
}

// build reads every process once: stat, cmdline, exe, fds (for sockets and
// the open-files count) and, for processes holding sockets, the network
// namespace; then the socket tables of each distinct network namespace,
// once each.
func (inv *inventory) build() *snapshot {
	now := time.Now()
	pids := inv.pids()

	inv.mu.Lock()
	prev := inv.prev
	inv.mu.Unlock()
	// CLOCK_BOOTTIME once (a system call: it has no vDSO fast path in x/sys),
	// then the monotonic clock from there.
	boot0, mono0 := sinceBoot(), time.Now()

	all := make([]Process, len(pids)) // slot i is pids[i]; PID 0 = gone
	samples := make([]sample, len(pids))
	finds := make([]chunkFinds, (len(pids)+buildChunk-1)/buildChunk)
	workers := 1
	if len(finds) > 1 {
		workers = min(runtime.GOMAXPROCS(0), maxBuildWorkers, len(finds))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &procReader{
				inv: inv, prev: prev, boot0: boot0, mono0: mono0,
				path:  make([]byte, 0, len(inv.procRoot)+64),
				stat:  make([]byte, 1024),
				cmd:   make([]byte, 0, 4096),
				link:  make([]byte, 256),
				dents: make([]byte, 8<<10),
			}
			for {
				c := int(next.Add(1)) - 1
				if c >= len(finds) {
					return
				}
				for i := c * buildChunk; i < min((c+1)*buildChunk, len(pids)); i++ {
					r.read(pids[i], &all[i], &samples[i], &finds[c])
				}
			}
		}()
	}
	wg.Wait()

	// Merge in PID order.
	procs := all[:0]
	cur := make(map[int]sample, len(pids))
	nsocks := 0
	for c := range finds {
		nsocks += len(finds[c].socks)
	}
	owners := make(map[uint64][]int, nsocks) // socket inode → PIDs holding it
	netnsPID := map[string]int{}             // netns id → one PID in it
	var netnsOrder []string
	for i := range all {
		if all[i].PID != 0 {
			cur[all[i].PID] = samples[i]
			procs = append(procs, all[i])
		}
	}
	clear(all[len(procs):]) // no stale copies behind the slice's end
	for c := range finds {
		for _, s := range finds[c].socks {
			// A process may hold one socket in several fds: list it once.
			if o := owners[s.ino]; len(o) == 0 || o[len(o)-1] != s.pid {
				owners[s.ino] = append(o, s.pid)
			}
		}
		for _, n := range finds[c].netns {
			if _, ok := netnsPID[n.ns]; !ok {
				netnsPID[n.ns] = n.pid
				netnsOrder = append(netnsOrder, n.ns)
			}
		}
	}

	index := make(map[int]int, len(procs))
	for i := range procs {
		index[procs[i].PID] = i
	}
	inv.attachPorts(procs, index, owners, netnsPID, netnsOrder)

	inv.mu.Lock()
	inv.prev = cur
	inv.mu.Unlock()
	return &snapshot{taken: now, procs: procs, index: index}
}

// read fills *p and *smp for pid, and adds its sockets and namespace to f.
// A process that is gone (or unreadable) leaves p.PID zero.
func (r *procReader) read(pid int, p *Process, smp *sample, f *chunkFinds) {
	inv := r.inv
	r.path = append(strconv.AppendInt(append(append(r.path[:0], inv.procRoot...), '/'), int64(pid), 10), '/')
	r.base = len(r.path)
	fd, err := openZ(r.file("stat"), 0)
	if err != nil {
		return // gone
	}
	var fst unix.Stat_t
	ferr := unix.Fstat(fd, &fst)
	n, rerr := readFD(fd, r.stat)
	unix.Close(fd)
	if rerr != nil || ferr != nil {
		return
	}
	st, err := parseStat(r.stat[:n])
	if err != nil {
		return
	}
	*p = Process{
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
	*smp = sample{st.startTicks, p.cpuTicks, time.Now()}
	old, ok := r.prev[pid]
	if ok && old.startTicks == st.startTicks && smp.at.Sub(old.at) >= minCPUInterval {
		d := smp.at.Sub(old.at).Seconds()
		p.CPUPercent = float64(p.cpuTicks-min(old.cpuTicks, p.cpuTicks)) / clockTicks / d * 100
	} else {
		if ok && old.startTicks == st.startTicks {
			*smp = old // too soon: measure the next rate from the older sample
		}
		// New since the last sample, or sampled too recently: its
		// average over its life so far (boot-clock based, as starttime).
		if life := r.boot0 + time.Since(r.mono0).Seconds() - float64(st.startTicks)/clockTicks; life > 0 {
			p.CPUPercent = float64(p.cpuTicks) / clockTicks / life * 100
		}
	}
	p.CPUPercent = round2(p.CPUPercent)

	if st.flags&pfKthread != 0 {
		return
	}
	if fd, err := openZ(r.file("cmdline"), 0); err == nil {
		b, err := readAllFD(fd, r.cmd, cmdlineCap, true)
		unix.Close(fd)
		if err == nil {
			r.cmd = b
			p.Cmdline = splitNUL(b)
		}
	}
	if n, err := readlinkatZ(unix.AT_FDCWD, r.file("exe"), r.link); err == nil {
		p.Exe = string(r.link[:n])
	}
	var sockets bool
	p.OpenFilesCount, sockets = r.scanFDs(pid, f)
	// Only a process holding sockets needs its network namespace: the
	// tables of a namespace nobody here holds a socket in would give nothing.
	if sockets {
		if n, err := readlinkatZ(unix.AT_FDCWD, r.file("ns/net"), r.link); err == nil {
			if k := len(f.netns); k == 0 || f.netns[k-1].ns != string(r.link[:n]) {
				f.netns = append(f.netns, nsRef{string(r.link[:n]), pid})
			}
		}
	}
}

// scanFDs reads /proc/PID/fd once: socket inodes go to f. It returns the
// count of descriptors naming files (paths outside /dev) and whether the
// process holds any socket.
func (r *procReader) scanFDs(pid int, f *chunkFinds) (files int, sockets bool) {
	dfd, err := openZ(r.file("fd"), unix.O_DIRECTORY)
	if err != nil {
		return 0, false
	}
	defer unix.Close(dfd)
	buf := r.link
	_ = eachDirent(dfd, r.dents, true, func(name []byte) {
		n, err := readlinkatZ(dfd, name, buf)
		if err != nil || n == 0 {
			return
		}
		l := buf[:n]
		switch {
		case bytes.HasPrefix(l, []byte("socket:[")):
			sockets = true
			if ino, err := strconv.ParseUint(string(l[8:len(l)-1]), 10, 64); err == nil {
				f.socks = append(f.socks, sockRef{ino, pid})
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
	// procRoot is the live /proc.
	var selfNS string
	if inv.procRoot == "/proc" {
		if n, err := unix.Readlink("/proc/self/ns/net", buf[:cap(buf)]); err == nil {
			selfNS = string(buf[:n])
		}
	}
	read := func(base string, viaDiag bool) {
		for _, t := range socketTables {
			if viaDiag && sockDiag(t, buf[:cap(buf)], want, add) == nil {
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
		return
	}
	for _, ns := range order {
		read(inv.procRoot+"/"+strconv.Itoa(netnsPID[ns]), ns == selfNS && selfNS != "")
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
