package procfs

// Benchmarks for the inventory's hot path. Run them with
//
//	go test -run '^$' -bench . -benchmem ./internal/procfs/
//
// They time nothing that can fail the build: the figures go in the bench
// report (make bench prints the end-to-end ones).

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// benchStatLine is a real /proc/PID/stat line (a shell), with a comm that
// holds a space and a ')' to keep the last-')' split honest.
var benchStatLine = []byte("29044 (bash (x) y) S 29040 29044 29044 34816 32146 4194560 3171 21620 0 2 5 3 41 12 20 0 1 0 50123 9031680 1264 18446744073709551615 94585208844288 94585209768621 140724516052192 0 0 0 65536 3686404 1266761467 1 0 0 17 0 0 0 0 0 0 94585209999024 94585210045540 94585238401024 140724516056617 140724516056622 140724516056622 140724516057070 0\n")

func BenchmarkParseStat(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchStatLine)))
	for b.Loop() {
		if _, err := parseStat(benchStatLine); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTCPTable returns a /proc/net/tcp-style table of n sockets in the
// kernel's exact layout: a mix of listeners, established loopback pairs and
// TIME_WAIT entries (inode 0, skipped by the parser as the kernel has no
// owner for them).
func benchTCPTable(n int) []byte {
	var sb strings.Builder
	sb.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n")
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		var local, remote, st string
		inode := 100000 + i
		switch i % 10 {
		case 0, 1, 2, 3: // listener on 0.0.0.0 or 127.0.0.1
			addr := "00000000"
			if i%2 == 1 {
				addr = "0100007F"
			}
			local, remote, st = fmt.Sprintf("%s:%04X", addr, 20000+i), "00000000:0000", "0A"
		case 9: // TIME_WAIT: no inode
			local = fmt.Sprintf("0100007F:%04X", 30000+r.IntN(30000))
			remote, st, inode = fmt.Sprintf("0100007F:%04X", 20000+r.IntN(1000)), "06", 0
		default: // established loopback
			local = fmt.Sprintf("0100007F:%04X", 30000+r.IntN(30000))
			remote, st = fmt.Sprintf("0100007F:%04X", 20000+r.IntN(1000)), "01"
		}
		fmt.Fprintf(&sb, "%4d: %s %s %s 00000000:00000000 00:00000000 00000000     0        0 %d 1 %016x 100 0 0 10 0                     \n",
			i, local, remote, st, inode, r.Uint64())
	}
	return []byte(sb.String())
}

func BenchmarkParseSocketTable(b *testing.B) {
	table := benchTCPTable(1000)
	t := socketTables[0]
	wantAll := func(uint64) bool { return true }
	b.ReportAllocs()
	b.SetBytes(int64(len(table)))
	for b.Loop() {
		n := 0
		parseSocketTable(table, t, wantAll, func(Port) { n++ })
		if n != 900 {
			b.Fatalf("parsed %d sockets, want 900", n)
		}
	}
}

// BenchmarkParseSocketTableFew is the common case: a busy table of which
// only a few sockets belong to processes we saw (want is a map lookup).
func BenchmarkParseSocketTableFew(b *testing.B) {
	table := benchTCPTable(1000)
	t := socketTables[0]
	owners := map[uint64][]int{100001: {1}, 100500: {2}, 100998: {3}}
	want := func(ino uint64) bool { _, ok := owners[ino]; return ok }
	b.ReportAllocs()
	for b.Loop() {
		parseSocketTable(table, t, want, func(Port) {})
	}
}

// BenchmarkBuild is one full snapshot of the live /proc: stat, cmdline,
// exe, fd links and ns/net of every process, then the socket tables of each
// network namespace, with the socket-inode map in between. The figures
// depend on what runs on the machine: make bench runs it with its workload.
// Builds after the first reuse the fd scans that cannot have changed
// (fdcache.go): this is the steady state; BenchmarkBuildCold is the first
// build, or one every fdFullRescan.
func BenchmarkBuild(b *testing.B) { benchBuild(b, false) }

// BenchmarkBuildCold is a build that reads every fd directory and exe link.
func BenchmarkBuildCold(b *testing.B) { benchBuild(b, true) }

func benchBuild(b *testing.B, cold bool) {
	inv, err := NewInventory("/proc", time.Millisecond)
	if err != nil {
		b.Skip("no /proc:", err)
	}
	inv.build() // warm the user-name cache (and the fd-scan cache)
	b.ReportAllocs()
	var n, cached, moved, rescans int
	cpu0 := benchCPU()
	for b.Loop() {
		if cold {
			inv.mu.Lock()
			inv.fdCache, inv.exeCache, inv.cmdCache, inv.unitCache = nil, nil, nil, nil
			inv.mu.Unlock()
		}
		n = len(inv.build().Procs)
		inv.mu.Lock()
		cached += inv.fdStats.cached
		moved += inv.fdStats.moved
		if inv.fdStats.rescanned > 0 {
			rescans++
		}
		inv.mu.Unlock()
	}
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64(benchCPU()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(n), "procs")
	b.ReportMetric(float64(cached)/float64(b.N), "fd-cached/op")
	b.ReportMetric(float64(moved)/float64(b.N), "moved/op")
	b.ReportMetric(float64(rescans)/float64(b.N), "rescans/op")
}

// benchCPU is this process's user+system time so far.
func benchCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCPUBaseline is the stat-only pass the inventory does once at start.
func BenchmarkCPUBaseline(b *testing.B) {
	inv, err := NewInventory("/proc", time.Millisecond)
	if err != nil {
		b.Skip("no /proc:", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		inv.cpuBaseline()
	}
}

// BenchmarkSocketTablesDiag and BenchmarkSocketTablesProc read the four
// socket tables of this process's network namespace (every socket wanted)
// through sock_diag and through /proc/self/net/*: the choice sockdiag.go
// makes for the standalone daemon.
func BenchmarkSocketTablesDiag(b *testing.B) { benchSocketTables(b, true) }

// BenchmarkSocketTablesProc: see BenchmarkSocketTablesDiag.
func BenchmarkSocketTablesProc(b *testing.B) { benchSocketTables(b, false) }

func benchSocketTables(b *testing.B, diag bool) {
	buf := make([]byte, 64<<10)
	want := func(uint64) bool { return true }
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = 0
		for _, t := range socketTables {
			if diag {
				if err := sockDiag(t, buf, want, func(Port) { n++ }); err != nil {
					b.Skip("no sock_diag here:", err)
				}
				continue
			}
			tb, err := readFileInto("/proc/self/net/"+t.file, buf, 64<<20, false)
			if err != nil {
				b.Skip(err)
			}
			buf = tb
			parseSocketTable(tb, t, want, func(Port) { n++ })
		}
	}
	b.ReportMetric(float64(n), "sockets")
}
