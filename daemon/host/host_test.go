package host

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixture writes a fake /proc and /sys under a temporary directory.
type fixture struct {
	t         *testing.T
	proc, sys string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{t: t, proc: filepath.Join(root, "proc"), sys: filepath.Join(root, "sys")}
	f.write("proc/meminfo", `MemTotal:        8000000 kB
MemFree:         1000000 kB
MemAvailable:    6000000 kB
Buffers:          200000 kB
Cached:          3000000 kB
SwapCached:            0 kB
Active:          2000000 kB
Inactive:        2000000 kB
SwapTotal:       2000000 kB
SwapFree:        1500000 kB
Shmem:             10000 kB
SReclaimable:     100000 kB
`)
	f.write("proc/loadavg", "0.50 1.25 2.00 3/456 789\n")
	f.write("proc/filesystems", "nodev\tsysfs\nnodev\tproc\nnodev\ttmpfs\n\text4\n\tvfat\n")
	// mountinfo: the root on sda1, /boot/efi on sda2, a bind mount of
	// sda1, and pseudo filesystems that must be left out.
	f.write("proc/1/mountinfo", `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid - proc proc rw
24 22 0:22 / /sys rw,nosuid - sysfs sysfs rw
25 22 0:23 / /run rw,nosuid - tmpfs tmpfs rw
26 22 8:2 / /tmp rw,relatime - vfat /dev/sda2 rw
27 22 8:1 /srv /mnt/bind rw,relatime - ext4 /dev/sda1 rw
`)
	for _, pid := range []string{"1", "42", "43"} {
		f.write("proc/"+pid+"/.keep", "")
	}
	f.write("proc/pressure/cpu", "some avg10=1.50 avg60=0.75 avg300=0.10 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	f.write("proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=42\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=7\n")
	// io left out: a kernel may lack one resource.
	for _, d := range []string{"sda", "nvme0n1"} {
		f.write("sys/block/"+d+"/.keep", "")
	}
	f.counters(0)
	return f
}

func (f *fixture) write(rel, body string) {
	f.t.Helper()
	p := filepath.Join(filepath.Dir(f.proc), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// counters writes the cumulative files for step 0 or 1. Between them,
// over 2 s (USER_HZ 100: 200 ticks per core):
//
//	cpu0: user 100 (50%), system 40 (20%), iowait 20 (10%), idle 40
//	cpu1: nice 10, steal 10, idle 180
//	eth0: +2000 B rx, +1000 B tx; lo: ignored
//	sda:  +4000 sectors read (1,024,000 B/s), +2000 written, io_ticks +500 ms
func (f *fixture) counters(step int) {
	type core struct{ user, nice, sys, idle, iow, irq, soft, steal int }
	c := [2]core{{1000, 0, 500, 8000, 100, 0, 0, 0}, {900, 50, 400, 9000, 10, 5, 5, 0}}
	rx, tx, lorx := 10000, 5000, 99999
	rd, wr, iot := 100000, 50000, 1000
	if step == 1 {
		c[0].user += 100
		c[0].sys += 40
		c[0].iow += 20
		c[0].idle += 40
		c[1].nice += 10
		c[1].steal += 10
		c[1].idle += 180
		rx, tx, lorx = rx+2000, tx+1000, lorx+777777
		rd, wr, iot = rd+4000, wr+2000, iot+500
	}
	line := func(name string, x core) string {
		return name + " " + strings.Join([]string{itoa(x.user), itoa(x.nice), itoa(x.sys), itoa(x.idle), itoa(x.iow), itoa(x.irq), itoa(x.soft), itoa(x.steal), "0", "0"}, " ") + "\n"
	}
	tot := core{c[0].user + c[1].user, c[0].nice + c[1].nice, c[0].sys + c[1].sys, c[0].idle + c[1].idle,
		c[0].iow + c[1].iow, c[0].irq + c[1].irq, c[0].soft + c[1].soft, c[0].steal + c[1].steal}
	f.write("proc/stat", line("cpu ", tot)+line("cpu0", c[0])+line("cpu1", c[1])+
		"intr 0\nctxt 1234\nbtime 1700000000\nprocesses 5000\nprocs_running 3\nprocs_blocked 1\n")
	// The daemon's own network namespace (PrivateNetwork=): a loopback
	// only. The host's interfaces are PID 1's.
	f.write("proc/net/dev", `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0
`)
	f.write("proc/1/net/dev", `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: `+itoa(lorx)+` 10 0 0 0 0 0 0 `+itoa(lorx)+` 10 0 0 0 0 0 0
  eth0: `+itoa(rx)+` 20 0 0 0 0 0 0 `+itoa(tx)+` 15 0 0 0 0 0 0
`)
	f.write("proc/diskstats", "   8       0 sda 10 0 "+itoa(rd)+" 5 20 0 "+itoa(wr)+" 7 0 "+itoa(iot)+" 12\n"+
		"   8       1 sda1 10 0 "+itoa(rd)+" 5 20 0 "+itoa(wr)+" 7 0 "+itoa(iot)+" 12\n"+
		"   7       0 loop0 1 0 8 0 0 0 0 0 0 0 0\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFixtureFigures checks every figure against a fixture /proc with
// exact numbers, two readings 2 s apart on a fake clock.
func TestFixtureFigures(t *testing.T) {
	f := newFixture(t)
	s := New(Options{ProcRoot: f.proc, SysRoot: f.sys})
	defer s.Close()
	now := time.Unix(1700001000, 0)
	s.now = func() time.Time { return now }
	s.sleep = func(d time.Duration) {
		now = now.Add(2 * time.Second)
		f.counters(1)
	}
	sys, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	if len(sys.CPU.PerCore) != 2 {
		t.Fatalf("per_core: %d cores, want 2", len(sys.CPU.PerCore))
	}
	c0, c1 := sys.CPU.PerCore[0], sys.CPU.PerCore[1]
	if c0 != (CoreCPU{Percent: 70, User: 50, System: 20, IOWait: 10}) {
		t.Errorf("cpu0 = %+v", c0)
	}
	if c1 != (CoreCPU{Percent: 10, User: 5, Steal: 5}) {
		t.Errorf("cpu1 = %+v", c1)
	}
	if got := sys.CPU; got.Percent != 40 || got.User != 27.5 || got.System != 10 || got.IOWait != 5 || got.Steal != 2.5 {
		t.Errorf("cpu total = %+v", got)
	}
	wantMem := Memory{Total: 8000000 << 10, Available: 6000000 << 10, Used: 2000000 << 10, Free: 1000000 << 10,
		Buffers: 200000 << 10, Percent: 25}
	gotMem := sys.Memory
	gotMem.Cached = 0 // gopsutil adds SReclaimable to Cached: checked apart
	if gotMem != wantMem {
		t.Errorf("memory = %+v\nwant %+v", sys.Memory, wantMem)
	}
	if sys.Memory.Cached != (3000000+100000)<<10 {
		t.Errorf("cached = %d", sys.Memory.Cached)
	}
	if sys.Swap != (Swap{Total: 2000000 << 10, Used: 500000 << 10, Free: 1500000 << 10, Percent: 25}) {
		t.Errorf("swap = %+v", sys.Swap)
	}
	if sys.Load != [3]float64{0.5, 1.25, 2} {
		t.Errorf("load = %v", sys.Load)
	}
	if sys.Tasks != (Tasks{Total: 3, Running: 3, Blocked: 1, Threads: 456}) {
		t.Errorf("tasks = %+v", sys.Tasks)
	}
	if sys.BootTime != 1700000000 || sys.UptimeS != 1002 {
		t.Errorf("boot_time %d uptime_s %d", sys.BootTime, sys.UptimeS)
	}
	if len(sys.Net) != 1 || sys.Net[0] != (NetRate{Iface: "eth0", RxBps: 1000, TxBps: 500, RxBytes: 12000, TxBytes: 6000}) {
		t.Errorf("net = %+v (loopback must be left out)", sys.Net)
	}
	if len(sys.Disks) != 1 || sys.Disks[0] != (DiskRate{Device: "sda", ReadBps: 1024000, WriteBps: 512000,
		ReadBytes: 104000 * 512, WriteBytes: 52000 * 512, BusyPercent: 25}) {
		t.Errorf("disks = %+v (partitions and loop devices must be left out)", sys.Disks)
	}
	var mounts []string
	for _, fs := range sys.Filesystems {
		mounts = append(mounts, fs.Device+" "+fs.Mountpoint+" "+fs.Fstype)
		if fs.Total == 0 || fs.Used+fs.Free > fs.Total+fs.Total/10 {
			t.Errorf("filesystem %+v: implausible usage", fs)
		}
	}
	if strings.Join(mounts, ",") != "/dev/sda1 / ext4,/dev/sda2 /tmp vfat" {
		t.Errorf("filesystems = %q (pseudo filesystems and repeated devices left out)", mounts)
	}
	cpuP := sys.Pressure["cpu"]
	if cpuP.Some != (PressureLine{Avg10: 1.5, Avg60: 0.75, Avg300: 0.1, Total: 123456}) || cpuP.Full == nil || *cpuP.Full != (PressureLine{}) {
		t.Errorf("pressure cpu = %+v", cpuP)
	}
	if m := sys.Pressure["memory"]; m.Full == nil || m.Full.Avg10 != 0.25 || m.Some.Total != 42 {
		t.Errorf("pressure memory = %+v", m)
	}
	if _, ok := sys.Pressure["io"]; ok || len(sys.Pressure) != 2 {
		t.Errorf("pressure = %+v: io has no file in the fixture", sys.Pressure)
	}

	// The reading went into the history; 10 minutes later it is gone
	// from it.
	h := s.History(time.Time{})
	if len(h.Points) != 1 || h.Points[0].CPU != 40 || len(h.Points[0].Cores) != 2 || h.Points[0].NetRxBps != 1000 || h.Points[0].DiskReadBps != 1024000 {
		t.Errorf("history = %+v", h)
	}
	now = now.Add(10*time.Minute + time.Second)
	if h := s.History(time.Time{}); len(h.Points) != 0 {
		t.Errorf("a point older than 10 minutes is still in the history: %+v", h.Points)
	}
}

func TestPressureBadInput(t *testing.T) {
	for _, line := range []string{"", "avg10=x avg60=0 avg300=0 total=0", "avg10=1 avg60=2", "total=-1 avg10=0 avg60=0 avg300=0"} {
		if _, ok := parsePressureLine(line); ok {
			t.Errorf("parsePressureLine(%q) accepted", line)
		}
	}
}

// TestLiveHost checks the live figures against what the kernel says
// directly: one bar per core that nproc counts, the memory total of
// /proc/meminfo.
func TestLiveHost(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	sys, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := onlineCPUs(t); len(sys.CPU.PerCore) != n {
		t.Errorf("per_core has %d entries, the host has %d CPUs online", len(sys.CPU.PerCore), n)
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	var kb uint64
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			for _, c := range strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) {
				kb = kb*10 + uint64(c-'0')
			}
		}
	}
	if sys.Memory.Total != kb<<10 {
		t.Errorf("memory total %d, /proc/meminfo says %d kB", sys.Memory.Total, kb)
	}
	if sys.Hostname == "" || sys.Kernel == "" || sys.BootTime == 0 || sys.Tasks.Total == 0 || sys.Tasks.Threads < sys.Tasks.Total {
		t.Errorf("implausible: %+v", sys)
	}
	if p := sys.CPU.Percent; p < 0 || p > 100 {
		t.Errorf("cpu percent %v", p)
	}
	for _, n := range sys.Net {
		if n.Iface == "lo" {
			t.Error("loopback listed")
		}
	}
}

// onlineCPUs is what nproc prints (without affinity limits): the cpuN
// lines of /proc/stat.
func onlineCPUs(t *testing.T) int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return n
}

// TestTaskCountFromSnapshots: the core's snapshot count serves
// tasks.total for 5 s; then /proc is counted again.
func TestTaskCountFromSnapshots(t *testing.T) {
	f := newFixture(t)
	s := New(Options{ProcRoot: f.proc, SysRoot: f.sys})
	defer s.Close()
	now := time.Unix(1700001000, 0)
	s.now = func() time.Time { return now }
	ps := make([]ProcSample, 7)
	for i := range ps {
		ps[i].PID = i + 1
	}
	s.RecordProcesses(now, ps)
	s.mu.Lock()
	got := s.tasks()
	s.mu.Unlock()
	if got.Total != 7 || got.Running != 3 || got.Blocked != 1 || got.Threads != 456 {
		t.Errorf("tasks after a snapshot of 7: %+v", got)
	}
	now = now.Add(procCountTTL)
	s.mu.Lock()
	got = s.tasks()
	s.mu.Unlock()
	if got.Total != 3 {
		t.Errorf("tasks.total %d after the TTL, want the 3 PIDs of the fixture", got.Total)
	}
}
