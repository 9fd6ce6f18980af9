package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	gohost "github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
	"github.com/shirou/gopsutil/v3/net"
)

// Options configure a Sampler.
type Options struct {
	// ProcRoot and SysRoot are where procfs and sysfs are mounted
	// (default /proc and /sys); tests point them at fixtures. gopsutil
	// gets them through its context environment (HOST_PROC, HOST_SYS).
	ProcRoot string
	SysRoot  string
	// Interval between history samples while someone watches (default 1s).
	Interval time.Duration
	// Keep is how long the host history covers (default 10 minutes).
	Keep time.Duration
	// Demand is how long sampling goes on after the last request for the
	// overview (default 1 minute).
	Demand time.Duration
	// ProcessSamples is the per-process history length (default 120).
	ProcessSamples int
	Logger         *slog.Logger
}

// minRateInterval is the shortest interval a rate is computed over: a
// reading closer than this to the previous one is served from cache.
const minRateInterval = 250 * time.Millisecond

// Sampler reads the host figures and keeps their history. It is safe for
// concurrent use.
type Sampler struct {
	opts Options
	ctx  context.Context // carries gopsutil's environment (HOST_PROC, …)
	log  *slog.Logger

	mu      sync.Mutex // one reading at a time; guards what follows
	static  *staticInfo
	prev    *counters
	last    System
	lastAt  time.Time
	hist    *ring
	procs   *procHistory
	ioPrev  map[procKey]ioSample
	demand  time.Time // last request for the overview
	running bool      // the sampling goroutine is alive
	stop    chan struct{}
	closed  bool
	// The process count of the last snapshot of the core or count of
	// /proc, and when (see tasks).
	procCount   int
	procCountAt time.Time

	now   func() time.Time // tests: a fake clock for exact rates
	sleep func(time.Duration)
	wg    sync.WaitGroup
}

// staticInfo is read once: it does not change while the daemon runs (the
// hostname is read at each sample, it may).
type staticInfo struct {
	os, kernel string
	boot       uint64 // Unix seconds
}

// counters are the cumulative figures rates are computed from.
type counters struct {
	at    time.Time
	total cpu.TimesStat
	cores []cpu.TimesStat
	net   map[string]net.IOCountersStat
	disk  map[string]disk.IOCountersStat
}

// New returns a Sampler. It reads nothing until asked.
func New(opts Options) *Sampler {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.SysRoot == "" {
		opts.SysRoot = "/sys"
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Keep <= 0 {
		opts.Keep = 10 * time.Minute
	}
	if opts.Demand <= 0 {
		opts.Demand = time.Minute
	}
	if opts.ProcessSamples <= 0 {
		opts.ProcessSamples = 120
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	env := common.EnvMap{common.HostProcEnvKey: opts.ProcRoot, common.HostSysEnvKey: opts.SysRoot}
	return &Sampler{
		opts:   opts,
		ctx:    context.WithValue(context.Background(), common.EnvKey, env),
		log:    opts.Logger.With("component", "host"),
		hist:   newRing(int(opts.Keep / opts.Interval)),
		procs:  newProcHistory(opts.ProcessSamples),
		ioPrev: map[procKey]ioSample{},
		stop:   make(chan struct{}),
		now:    time.Now,
		sleep:  time.Sleep,
	}
}

// Close stops the sampling goroutine, if any, and waits for it.
func (s *Sampler) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Current returns the host figures, reading them unless the last reading
// is younger than the sampling interval. It counts as a request for the
// overview: the history is sampled for the next minute.
func (s *Sampler) Current(ctx context.Context) (System, error) {
	sys, err := s.read(ctx, s.opts.Interval-s.opts.Interval/10)
	// Demand counts from the answer, not the question: the first reading
	// waits for a rate baseline, which may outlast a short Demand.
	s.Touch()
	return sys, err
}

// Snapshot returns the latest reading without marking demand (for
// exporters that poll on their own schedule: a scrape is its own sample).
func (s *Sampler) Snapshot(ctx context.Context) (System, error) {
	return s.read(ctx, minRateInterval)
}

func (s *Sampler) read(ctx context.Context, maxAge time.Duration) (System, error) {
	if err := ctx.Err(); err != nil {
		return System{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastAt.IsZero() && time.Since(s.lastAt) < maxAge {
		return s.last.clone(), nil
	}
	sys, err := s.sampleLocked()
	if err != nil {
		return System{}, err
	}
	return sys.clone(), nil
}

// sampleLocked takes one reading. On the very first one there is no
// previous reading to compute rates from: a baseline is read 100 ms
// before.
func (s *Sampler) sampleLocked() (System, error) {
	if s.prev == nil {
		c, err := s.readCounters()
		if err != nil {
			return System{}, err
		}
		s.prev = c
		s.sleep(100 * time.Millisecond)
	}
	cur, err := s.readCounters()
	if err != nil {
		return System{}, err
	}
	sys := System{Time: cur.at}
	dt := cur.at.Sub(s.prev.at).Seconds()
	sys.CPU = cpuShare(s.prev, cur)
	sys.Net = netRates(s.prev.net, cur.net, dt)
	sys.Disks = diskRates(s.prev.disk, cur.disk, dt, s.wholeDisk)
	s.prev = cur

	if s.static == nil {
		s.static = s.readStatic()
	}
	sys.OS, sys.Kernel = s.static.os, s.static.kernel
	sys.Hostname, _ = os.Hostname()
	if bt := s.static.boot; bt > 0 {
		sys.BootTime = bt
		if now := uint64(cur.at.Unix()); now > bt {
			sys.UptimeS = now - bt
		}
	}
	if err := s.readMemory(&sys); err != nil {
		return System{}, err
	}
	if avg, err := load.AvgWithContext(s.ctx); err == nil {
		sys.Load = [3]float64{avg.Load1, avg.Load5, avg.Load15}
	}
	sys.Tasks = s.tasks()
	sys.Filesystems = s.filesystems()
	sys.Pressure = readPressure(s.opts.ProcRoot)

	s.last, s.lastAt = sys, time.Now()
	s.hist.push(pointOf(&sys))
	return sys, nil
}

func (s *Sampler) readCounters() (*counters, error) {
	c := &counters{at: s.now()}
	// The per-core lines only: the total is their sum (one read of
	// /proc/stat instead of two).
	var err error
	if c.cores, err = cpu.TimesWithContext(s.ctx, true); err != nil || len(c.cores) == 0 {
		return nil, fmt.Errorf("cannot read the CPU times: %w", orNoData(err))
	}
	c.total = cpu.TimesStat{CPU: "cpu-total"}
	for _, t := range c.cores {
		c.total.User += t.User
		c.total.Nice += t.Nice
		c.total.System += t.System
		c.total.Idle += t.Idle
		c.total.Iowait += t.Iowait
		c.total.Irq += t.Irq
		c.total.Softirq += t.Softirq
		c.total.Steal += t.Steal
	}
	if ifs, err := s.netCounters(); err == nil {
		c.net = make(map[string]net.IOCountersStat, len(ifs))
		for _, i := range ifs {
			if i.Name != "lo" {
				c.net[i.Name] = i
			}
		}
	}
	if d, err := disk.IOCountersWithContext(s.ctx); err == nil {
		c.disk = d
	}
	return c, nil
}

// netCounters reads the interfaces of PID 1's network namespace, the
// host's: the service runs with PrivateNetwork=, where its own
// /proc/net/dev lists only a loopback. Without access to PID 1's (not
// root, hidepid), its own.
func (s *Sampler) netCounters() ([]net.IOCountersStat, error) {
	ifs, err := net.IOCountersByFileWithContext(s.ctx, true, filepath.Join(s.opts.ProcRoot, "1", "net", "dev"))
	if err != nil {
		ifs, err = net.IOCountersWithContext(s.ctx, true)
	}
	return ifs, err
}

func orNoData(err error) error {
	if err == nil {
		return errors.New("no data")
	}
	return err
}

func (s *Sampler) readStatic() *staticInfo {
	st := &staticInfo{}
	if info, err := gohost.InfoWithContext(s.ctx); err == nil {
		st.os = strings.TrimSpace(info.Platform + " " + info.PlatformVersion)
		st.kernel = info.KernelVersion
	}
	if st.os == "" {
		st.os = runtime.GOOS
	}
	st.boot = bootTime(s.opts.ProcRoot)
	return st
}

// bootTime is the btime line of /proc/stat. (gopsutil 3.24.5's
// host.BootTime runs its virtualization probe, a dozen file reads, on
// every call, then answers from /proc/uptime and the clock.)
func bootTime(procRoot string) uint64 {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func (s *Sampler) readMemory(sys *System) error {
	vm, err := mem.VirtualMemoryWithContext(s.ctx)
	if err != nil {
		return fmt.Errorf("cannot read the memory figures: %w", err)
	}
	used := vm.Total - min(vm.Available, vm.Total)
	sys.Memory = Memory{
		Total: vm.Total, Used: used, Available: vm.Available, Free: vm.Free,
		Buffers: vm.Buffers, Cached: vm.Cached, Percent: pct(float64(used), float64(vm.Total)),
	}
	swUsed := vm.SwapTotal - min(vm.SwapFree, vm.SwapTotal)
	sys.Swap = Swap{Total: vm.SwapTotal, Used: swUsed, Free: vm.SwapFree, Percent: pct(float64(swUsed), float64(vm.SwapTotal))}
	return nil
}

// procCountTTL is how long a process count serves.
const procCountTTL = 5 * time.Second

// tasks counts processes and threads. It reads by hand what gopsutil's
// load.Misc reads (procs_running and procs_blocked of /proc/stat, the
// numeric entries of /proc): listing /proc is the costly part of a
// reading (the kernel walks its task list: about 1.5 ms at 2,000
// processes, Misc adding a string per entry), so the total is the count
// of the core's last snapshot or of a listing, if younger than 5 s.
// Called with s.mu held.
func (s *Sampler) tasks() Tasks {
	if now := s.now(); s.procCountAt.IsZero() || now.Sub(s.procCountAt) >= procCountTTL || now.Before(s.procCountAt) {
		s.procCount, s.procCountAt = countPIDs(s.opts.ProcRoot), now
	}
	t := Tasks{Total: s.procCount, Threads: s.threads()}
	b, err := os.ReadFile(filepath.Join(s.opts.ProcRoot, "stat"))
	if err != nil {
		return t
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "procs_running "); ok {
			t.Running, _ = strconv.Atoi(strings.TrimSpace(v))
		} else if v, ok := strings.CutPrefix(line, "procs_blocked "); ok {
			t.Blocked, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return t
}

// threads is the number of kernel scheduling entities: the total after
// the slash in /proc/loadavg.
func (s *Sampler) threads() int {
	b, err := os.ReadFile(filepath.Join(s.opts.ProcRoot, "loadavg"))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return 0
	}
	_, tot, ok := strings.Cut(f[3], "/")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(tot)
	return n
}

// wholeDisk reports whether name is a whole block device worth showing:
// listed in /sys/block, not a loop, ram or zram device.
func (s *Sampler) wholeDisk(name string) bool {
	for _, p := range []string{"loop", "ram", "zram", "fd"} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			return false
		}
	}
	_, err := os.Stat(filepath.Join(s.opts.SysRoot, "block", name))
	return err == nil
}

// filesystems lists mounted filesystems on block devices (gopsutil's
// "physical" partitions), each device once, with their usage.
func (s *Sampler) filesystems() []Filesystem {
	parts, err := disk.PartitionsWithContext(s.ctx, false)
	out := []Filesystem{}
	if err != nil {
		return out
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if seen[p.Device] || p.Device == "" || p.Device == "none" {
			continue
		}
		seen[p.Device] = true
		u, err := disk.UsageWithContext(s.ctx, p.Mountpoint)
		if err != nil || u.Total == 0 {
			continue
		}
		out = append(out, Filesystem{
			Device: p.Device, Mountpoint: p.Mountpoint, Fstype: p.Fstype,
			Total: u.Total, Used: u.Used, Free: u.Free, Percent: round2(u.UsedPercent),
		})
	}
	return out
}

// cpuShare splits the CPU time between two readings.
func cpuShare(a, b *counters) CPU {
	t := coreShare(a.total, b.total)
	out := CPU{Percent: t.Percent, User: t.User, System: t.System, IOWait: t.IOWait, Steal: t.Steal, PerCore: make([]CoreCPU, 0, len(b.cores))}
	prev := make(map[string]cpu.TimesStat, len(a.cores))
	for _, c := range a.cores {
		prev[c.CPU] = c
	}
	for _, c := range b.cores {
		p, ok := prev[c.CPU]
		if !ok { // a core came online: no interval yet
			out.PerCore = append(out.PerCore, CoreCPU{})
			continue
		}
		out.PerCore = append(out.PerCore, coreShare(p, c))
	}
	return out
}

// coreShare: busy is everything but idle and iowait (iowait is idle time
// with I/O pending, shown apart as htop does). Guest time is already
// counted in user.
func coreShare(a, b cpu.TimesStat) CoreCPU {
	d := func(x, y float64) float64 { return max(y-x, 0) }
	user := d(a.User, b.User) + d(a.Nice, b.Nice)
	sys := d(a.System, b.System) + d(a.Irq, b.Irq) + d(a.Softirq, b.Softirq)
	iow := d(a.Iowait, b.Iowait)
	steal := d(a.Steal, b.Steal)
	idle := d(a.Idle, b.Idle)
	total := user + sys + iow + steal + idle
	if total <= 0 {
		return CoreCPU{}
	}
	return CoreCPU{
		Percent: round2(pct(user+sys+steal, total)),
		User:    round2(pct(user, total)),
		System:  round2(pct(sys, total)),
		IOWait:  round2(pct(iow, total)),
		Steal:   round2(pct(steal, total)),
	}
}

func netRates(a, b map[string]net.IOCountersStat, dt float64) []NetRate {
	out := make([]NetRate, 0, len(b))
	for name, c := range b {
		r := NetRate{Iface: name, RxBytes: c.BytesRecv, TxBytes: c.BytesSent}
		if p, ok := a[name]; ok && dt > 0 {
			r.RxBps = rate(p.BytesRecv, c.BytesRecv, dt)
			r.TxBps = rate(p.BytesSent, c.BytesSent, dt)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(x, y NetRate) int { return strings.Compare(x.Iface, y.Iface) })
	return out
}

func diskRates(a, b map[string]disk.IOCountersStat, dt float64, whole func(string) bool) []DiskRate {
	out := make([]DiskRate, 0, len(b))
	for name, c := range b {
		if !whole(name) {
			continue
		}
		r := DiskRate{Device: name, ReadBytes: c.ReadBytes, WriteBytes: c.WriteBytes}
		if p, ok := a[name]; ok && dt > 0 {
			r.ReadBps = rate(p.ReadBytes, c.ReadBytes, dt)
			r.WriteBps = rate(p.WriteBytes, c.WriteBytes, dt)
			if c.IoTime >= p.IoTime {
				r.BusyPercent = round2(min(float64(c.IoTime-p.IoTime)/(dt*1000)*100, 100))
			}
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(x, y DiskRate) int { return strings.Compare(x.Device, y.Device) })
	return out
}

// rate is bytes per second between two counter values; a counter that
// went back (wrapped, device reset) gives 0.
func rate(a, b uint64, dt float64) float64 {
	if b < a || dt <= 0 {
		return 0
	}
	return round2(float64(b-a) / dt)
}

func pct(part, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return round2(part / total * 100)
}

func round2(v float64) float64 {
	if v != v {
		return 0
	}
	return float64(int64(v*100+0.5)) / 100
}

// clone copies the slices and map so callers may keep a System while
// the sampler goes on.
func (s System) clone() System {
	s.CPU.PerCore = slices.Clone(s.CPU.PerCore)
	s.Net = slices.Clone(s.Net)
	s.Disks = slices.Clone(s.Disks)
	s.Filesystems = slices.Clone(s.Filesystems)
	if s.Pressure != nil {
		m := make(map[string]Pressure, len(s.Pressure))
		for k, v := range s.Pressure {
			m[k] = v
		}
		s.Pressure = m
	}
	return s
}
