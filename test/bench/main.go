// Command bench is `make bench`: it spawns a workload (idle processes,
// listening TCP sockets, established loopback connections), measures
// roy-procwatchd's /api/processes against the floor (ps + ss run together),
// cleans everything up, even on Ctrl-C or failure, and prints a table.
// It does so for each workload shape (-holders: the sockets held by 10
// processes, then spread over 200), one workload at a time, and ends with
// a summary of every shape.
//
// No figure fails the run: the numbers go in the bench report.
//
//	bench [flags]                  measure (see -h)
//	bench hold -listen N -conns M  internal: the socket-holder helper
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/httpui"
)

type options struct {
	procs, listen, conns, holders int   // holders: of the shape being measured
	shapes                        []int // -holders, one workload per value
	requests, floorRuns, scrapes  int
	clients, rounds               int
	window                        time.Duration
	daemonBin, pgidFile, goBench  string
	baselineBin                   string
	inProcess, workloadOnly       bool
	hostOverview                  bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hold" {
		fs := flag.NewFlagSet("hold", flag.ExitOnError)
		l := fs.Int("listen", 0, "listeners")
		c := fs.Int("conns", 0, "connections")
		_ = fs.Parse(os.Args[2:])
		if err := hold(*l, *c); err != nil {
			fmt.Fprintln(os.Stderr, "bench hold:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.procs, "procs", 2000, "idle processes to spawn (socket holders included)")
	flag.IntVar(&o.listen, "listen", 500, "listening TCP sockets (loopback; every fifth on ::1 when IPv6 works)")
	flag.IntVar(&o.conns, "conns", 200, "established loopback TCP connections (both ends held)")
	holders := flag.String("holders", "10,200", "processes the sockets are spread across (the rest run `sleep`); a comma list measures one workload shape per value")
	flag.IntVar(&o.requests, "requests", 30, "(a) fresh snapshots to time")
	flag.IntVar(&o.scrapes, "scrapes", 10, "(m) GET /metrics to time, fresh snapshot and shared snapshot each")
	flag.IntVar(&o.floorRuns, "floor-runs", 30, "(d) runs of ps + ss to time (interleaved with (a))")
	flag.IntVar(&o.clients, "clients", 8, "(b) clients polling within one window")
	flag.IntVar(&o.rounds, "rounds", 5, "(b) polling rounds, one per snapshot TTL")
	flag.DurationVar(&o.window, "window", time.Second, "(b) the clients' requests spread over this window (< the 2s TTL)")
	flag.StringVar(&o.daemonBin, "daemon", "bin/roy-procwatchd", "the daemon binary")
	flag.StringVar(&o.baselineBin, "baseline-daemon", "", "another roy-procwatchd build to time in (a) alongside, e.g. one from before a change")
	flag.StringVar(&o.pgidFile, "pgid-file", "", "write the workload's process group here (for the caller's cleanup trap)")
	flag.BoolVar(&o.hostOverview, "host", true, "(e) measure the host overview: memory with the per-process history full, GET /api/system, the sampling's CPU")
	flag.BoolVar(&o.inProcess, "in-process", true, "also measure allocations of the core + encoding in this process")
	flag.BoolVar(&o.workloadOnly, "workload-only", false, "spawn the workload, then wait for Ctrl-C (to profile by hand)")
	flag.StringVar(&o.goBench, "go-bench", "", "run these packages' Go benchmarks (go test -bench) while the workload is up, e.g. ./internal/procfs/,./httpui/")
	flag.Parse()
	for _, f := range strings.Split(*holders, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "bench: -holders %q: want a comma list of counts, e.g. 10,200\n", *holders)
			os.Exit(2)
		}
		o.shapes = append(o.shapes, n)
	}
	os.Exit(run(o))
}

func run(o options) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	for _, tool := range []string{"ps", "ss"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s not found (apt-get install procps iproute2, or make deps)\n", tool)
			return 1
		}
	}
	closeOnExec()
	dir, err := os.MkdirTemp("", "roy-procwatch-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	var (
		mu   sync.Mutex
		w    *workload // the one up now, if any
		once sync.Once
	)
	cleanup := func() {
		once.Do(func() {
			mu.Lock()
			if w != nil {
				w.cleanup()
			}
			mu.Unlock()
			os.RemoveAll(dir)
		})
	}
	defer cleanup()
	// Ctrl-C, SIGTERM, SIGHUP: clean up, then exit as killed.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "\nbench: %v: cleaning up\n", s)
		cleanup()
		os.Exit(130)
	}()

	var reports []*report
	for k, holders := range o.shapes {
		o := o
		o.holders = holders
		last := k == len(o.shapes)-1
		fmt.Printf("\n== shape %d of %d: %d processes (%d socket holders), %d listeners, %d connections\n",
			k+1, len(o.shapes), o.procs, o.holders, o.listen, o.conns)
		cur := &workload{}
		mu.Lock()
		w = cur
		mu.Unlock()
		t0 := time.Now()
		if err := cur.spawn(self, o.procs, o.holders, o.listen, o.conns, o.pgidFile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		fmt.Printf("workload up in %.1fs\n", time.Since(t0).Seconds())
		time.Sleep(500 * time.Millisecond) // let exec settle
		if o.workloadOnly {
			fmt.Println("workload up; Ctrl-C to clean up")
			select {}
		}

		r := &report{opts: o, loadStart: loadAvg()}
		if err := r.measure(cur, dir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		if o.hostOverview && k == 0 {
			if err := r.hostBench(cur, dir); err != nil {
				fmt.Fprintln(os.Stderr, "bench: host overview:", err)
			}
		}
		if o.inProcess {
			if err := r.inProcess(); err != nil {
				fmt.Fprintln(os.Stderr, "bench: in-process:", err)
			}
		}
		r.loadEnd = loadAvg()
		r.print(os.Stdout)
		r.printHost(os.Stdout)
		reports = append(reports, r)
		if last && o.goBench != "" {
			fmt.Println("\nGo benchmarks (go test -bench . -benchmem), with this workload up:")
			args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem"}, strings.Split(o.goBench, ",")...)
			cmd := exec.Command("go", args...)
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "bench: go test -bench:", err)
			}
		}
		mu.Lock()
		cur.cleanup()
		w = nil
		mu.Unlock()
	}
	if len(reports) > 1 {
		printSummary(os.Stdout, reports)
	}
	return 0
}

// closeOnExec marks every descriptor above stderr close-on-exec, so that
// what the caller's shell leaked to us (make, CI runners, terminals do)
// does not reach the 2,000 children: each idle process holds exactly
// stdin, stdout and stderr, and the workload is the same wherever it runs.
func closeOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// stats summarizes timings.
type stats struct {
	n        int
	p50, p95 time.Duration
	cpu      time.Duration // mean CPU per operation
}

func summarize(ds []time.Duration, cpuTotal time.Duration) stats {
	s := slices.Clone(ds)
	slices.Sort(s)
	st := stats{n: len(s)}
	if len(s) == 0 {
		return st
	}
	st.p50 = s[(len(s)-1)/2]
	st.p95 = s[min(len(s)-1, (len(s)*95+99)/100-1)]
	st.cpu = cpuTotal / time.Duration(len(s))
	return st
}

type report struct {
	opts options
	host hostReport

	totalProcs              int // processes in the list
	holderListen, holderEst int // ports the list shows on the holders
	bodyBytes               int

	floor, fresh, shared stats
	baseline             stats // (a) for -baseline-daemon
	baseRSS, baseHWM     uint64
	loadStart, loadEnd   string
	sharedBodies         []int // distinct response bodies per (b) round
	sharedWall           time.Duration
	rssA, hwmA           uint64
	rssB, hwmB           uint64

	scrapeFresh, scrapeShared stats // (m)
	series, listenSeries      int
	scrapeBytes               int
	coldWall, coldCPU         time.Duration // first scrape of a fresh daemon

	inProc struct {
		ok                 bool
		allocs, bytes      uint64
		list, full, encode time.Duration
	}
}

// floorOnce runs ps and ss together (concurrently) and returns the wall
// time and the CPU both used (getrusage of the children).
func floorOnce() (time.Duration, time.Duration, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	defer null.Close()
	ps := exec.Command("ps", "-eo", "pid,ppid,user,ni,rss,pcpu,lstart,args")
	ss := exec.Command("ss", "-tanupH")
	t0 := time.Now()
	for _, c := range []*exec.Cmd{ps, ss} {
		c.Stdout, c.Stderr = null, null
		if err := c.Start(); err != nil {
			return 0, 0, err
		}
	}
	e1, e2 := ps.Wait(), ss.Wait()
	wall := time.Since(t0)
	if e1 != nil || e2 != nil {
		return 0, 0, fmt.Errorf("ps: %v, ss: %v", e1, e2)
	}
	cpu := ps.ProcessState.UserTime() + ps.ProcessState.SystemTime() + ss.ProcessState.UserTime() + ss.ProcessState.SystemTime()
	return wall, cpu, nil
}

// listShape is what the bench checks in a list response.
type listShape struct {
	Count int `json:"count"`
	Items []struct {
		PID   int `json:"pid"`
		Ports []struct {
			Status string `json:"status"`
		} `json:"ports"`
	} `json:"items"`
}

func (r *report) check(body []byte, holders []int) error {
	var l listShape
	if err := json.Unmarshal(body, &l); err != nil {
		return fmt.Errorf("bad /api/processes JSON: %w", err)
	}
	r.totalProcs, r.bodyBytes = l.Count, len(body)
	for _, it := range l.Items {
		if !slices.Contains(holders, it.PID) {
			continue
		}
		for _, p := range it.Ports {
			switch p.Status {
			case "LISTEN":
				r.holderListen++
			case "ESTABLISHED":
				r.holderEst++
			}
		}
	}
	return nil
}

func (r *report) measure(w *workload, dir string) error {
	o := r.opts
	// (a) + (d), interleaved so that drift hits both alike; and (a) for
	// the -baseline-daemon too, when one is given.
	d, err := startDaemon(w, o.daemonBin, dir, "1ms", 1)
	if err != nil {
		return err
	}
	var base *daemonProc
	if o.baselineBin != "" {
		if base, err = startDaemon(w, o.baselineBin, dir, "1ms", 1); err != nil {
			return err
		}
	}
	fmt.Printf("(a)+(d): %d fresh snapshots and %d ps+ss runs, interleaved...\n", o.requests, o.floorRuns)
	for i := 0; i < 3; i++ { // warm-up: CPU baseline, user cache, connections
		body, _, err := d.list()
		if err != nil {
			return err
		}
		if i == 0 {
			if err := r.check(body, w.holders); err != nil {
				return err
			}
		}
		if base != nil {
			if _, _, err := base.list(); err != nil {
				return err
			}
		}
	}
	var fresh, baseFresh, floor []time.Duration
	var freshCPU, baseCPU, floorCPU time.Duration
	timed := func(d *daemonProc, walls *[]time.Duration, cpu *time.Duration) error {
		c0, err := cpuTime(d.pid())
		if err != nil {
			return err
		}
		_, wall, err := d.list()
		if err != nil {
			return err
		}
		c1, _ := cpuTime(d.pid())
		*walls = append(*walls, wall)
		*cpu += c1 - c0
		return nil
	}
	for i := 0; i < max(o.requests, o.floorRuns); i++ {
		if i < o.floorRuns {
			wall, cpu, err := floorOnce()
			if err != nil {
				return err
			}
			floor = append(floor, wall)
			floorCPU += cpu
		}
		if i < o.requests {
			if err := timed(d, &fresh, &freshCPU); err != nil {
				return err
			}
			if base != nil {
				if err := timed(base, &baseFresh, &baseCPU); err != nil {
					return err
				}
			}
		}
	}
	r.fresh, r.floor = summarize(fresh, freshCPU), summarize(floor, floorCPU)
	r.rssA, r.hwmA = memKiB(d.pid())
	// (m) scrapes, each with its own fresh snapshot (TTL 1ms).
	fmt.Printf("(m): %d scrapes of /metrics, fresh snapshot each...\n", o.scrapes)
	if r.scrapeFresh, err = r.scrapeRuns(d, o.scrapes, nil); err != nil {
		return err
	}
	d.stop()
	if base != nil {
		r.baseline = summarize(baseFresh, baseCPU)
		r.baseRSS, r.baseHWM = memKiB(base.pid())
		base.stop()
	}

	// (b) the default TTL; clients poll within a window shorter than it.
	d, err = startDaemon(w, o.daemonBin, dir, "", o.clients)
	if err != nil {
		return err
	}
	// (m) the first request of a just-started daemon is a scrape: what a
	// scrape costs when it socket-activates an idle daemon (its CPU since
	// the start, the start included).
	if _, r.coldWall, err = d.metrics(); err != nil {
		return err
	}
	if r.coldCPU, err = cpuTime(d.pid()); err != nil {
		return err
	}
	const ttl = 2 * time.Second
	fmt.Printf("(b): %d clients x %d rounds within %s each, default TTL...\n", o.clients, o.rounds, o.window)
	if _, _, err := d.list(); err != nil { // warm-up
		return err
	}
	time.Sleep(ttl + 100*time.Millisecond)
	var shared []time.Duration
	var sharedCPU time.Duration
	t0 := time.Now()
	for round := 0; round < o.rounds; round++ {
		start := time.Now()
		c0, err := cpuTime(d.pid())
		if err != nil {
			return err
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var firstErr error
		sums := map[[32]byte]bool{}
		for c := 0; c < o.clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				time.Sleep(o.window * time.Duration(c) / time.Duration(o.clients))
				body, wall, err := d.list()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					firstErr = err
					return
				}
				shared = append(shared, wall)
				sums[sha256.Sum256(body)] = true
			}(c)
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		c1, _ := cpuTime(d.pid())
		sharedCPU += c1 - c0
		r.sharedBodies = append(r.sharedBodies, len(sums))
		if round < o.rounds-1 {
			time.Sleep(time.Until(start.Add(ttl + o.window/2 + 200*time.Millisecond)))
		}
	}
	r.sharedWall = time.Since(t0)
	r.shared = summarize(shared, sharedCPU)
	// (m) scrapes over the snapshot a list request just took (default TTL).
	fmt.Printf("(m): %d scrapes of /metrics within the TTL of a list request...\n", o.scrapes)
	time.Sleep(ttl + 100*time.Millisecond)
	if r.scrapeShared, err = r.scrapeRuns(d, o.scrapes, func() error { _, _, err := d.list(); return err }); err != nil {
		return err
	}
	r.rssB, r.hwmB = memKiB(d.pid())
	d.stop()
	return nil
}

// scrapeRuns times n scrapes (wall and the daemon's CPU), each after
// before() when set (outside the timing), and counts the series.
func (r *report) scrapeRuns(d *daemonProc, n int, before func() error) (stats, error) {
	var walls []time.Duration
	var cpu time.Duration
	for i := 0; i < n; i++ {
		if before != nil {
			if err := before(); err != nil {
				return stats{}, err
			}
		}
		c0, err := cpuTime(d.pid())
		if err != nil {
			return stats{}, err
		}
		body, wall, err := d.metrics()
		if err != nil {
			return stats{}, err
		}
		c1, _ := cpuTime(d.pid())
		walls = append(walls, wall)
		cpu += c1 - c0
		r.series, r.listenSeries, r.scrapeBytes = 0, 0, len(body)
		for _, line := range strings.Split(string(body), "\n") {
			if line != "" && line[0] != '#' {
				r.series++
				if strings.HasPrefix(line, "roy_procwatch_listen_info{") {
					r.listenSeries++
				}
			}
		}
	}
	return summarize(walls, cpu), nil
}

// discardRW is a ResponseWriter that counts and drops the body.
type discardRW struct {
	h http.Header
	n int
}

func (d *discardRW) Header() http.Header         { return d.h }
func (d *discardRW) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discardRW) WriteHeader(int)             {}

// inProcess runs the core and the HTTP handler in this process to count
// allocations per fresh snapshot (runtime.MemStats) and to split the time
// between the core (build + filter/sort) and the JSON encoding.
func (r *report) inProcess() error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	core, err := procs.New(procs.Options{SnapshotTTL: time.Nanosecond, Logger: log})
	if err != nil {
		return err
	}
	h := httpui.New(core, httpui.Options{Token: "bench", ListenAddrs: []string{"127.0.0.1:1"}, Logger: log})
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/api/processes", nil)
	req.Host = "127.0.0.1:1"
	req.Header.Set("X-Auth-Token", "bench")
	caller := procs.Caller{Privileged: true, Name: "bench"}
	serve := func() {
		w := &discardRW{h: http.Header{}}
		h.ServeHTTP(w, req)
	}
	serve() // warm-up
	const n = 10
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		serve()
	}
	r.inProc.full = time.Since(t0) / n
	runtime.ReadMemStats(&ms1)
	r.inProc.allocs = (ms1.Mallocs - ms0.Mallocs) / n
	r.inProc.bytes = (ms1.TotalAlloc - ms0.TotalAlloc) / n
	var items []procs.Process
	t0 = time.Now()
	for i := 0; i < n; i++ {
		if items, err = core.List(context.Background(), caller, procs.ListOptions{}); err != nil {
			return err
		}
	}
	r.inProc.list = time.Since(t0) / n
	// The encoding as httpui's writeJSON does it, on one list.
	t0 = time.Now()
	for i := 0; i < n; i++ {
		_ = json.NewEncoder(io.Discard).Encode(map[string]any{"count": len(items), "items": items})
	}
	r.inProc.encode = time.Since(t0) / n
	r.inProc.ok = true
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func (r *report) print(out io.Writer) {
	o := r.opts
	fmt.Fprintf(out, "\nroy-procwatch bench (shape: %d socket holders): %d CPUs, %s\n", o.holders, runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(out, "load average (1, 5, 15 min) at start: %s, at end: %s (other jobs on the machine skew every figure)\n", r.loadStart, r.loadEnd)
	fmt.Fprintf(out, "workload: %d idle processes (%d socket holders + sleep), %d listening TCP, %d established loopback connections\n",
		o.procs, o.holders, o.listen, o.conns)
	fmt.Fprintf(out, "the list showed %d processes, %d LISTEN and %d ESTABLISHED ports on the holders (want %d and %d); body %d KiB\n\n",
		r.totalProcs, r.holderListen, r.holderEst, o.listen, 2*o.conns, r.bodyBytes>>10)
	fmt.Fprintf(out, "%-52s %4s %10s %10s %12s %9s %9s\n", "measure", "n", "wall p50", "wall p95", "CPU/op", "wall/(d)", "CPU/(d)")
	fmt.Fprintln(out, strings.Repeat("-", 112))
	row := func(name string, s stats) {
		fmt.Fprintf(out, "%-52s %4d %10s %10s %12s %9s %9s\n", name, s.n, ms(s.p50), ms(s.p95), ms(s.cpu),
			ratio(s.p50, r.floor.p50), ratio(s.cpu, r.floor.cpu))
	}
	row("(d) floor: ps -eo ... + ss -tanupH, together", r.floor)
	row("(a) fresh snapshot: GET /api/processes, TTL 1ms", r.fresh)
	if o.baselineBin != "" {
		row("(a) the same, -baseline-daemon", r.baseline)
	}
	row(fmt.Sprintf("(b) %d clients within %s, default TTL 2s, per request", o.clients, o.window), r.shared)
	row("(m) GET /metrics, fresh snapshot (TTL 1ms)", r.scrapeFresh)
	row("(m) GET /metrics, snapshot shared with a list", r.scrapeShared)
	fmt.Fprintln(out, strings.Repeat("-", 112))
	fmt.Fprintf(out, "(m) the first request of a just-started daemon is a scrape (as when it activates an idle one): %s wall, %s daemon CPU since its start\n",
		ms(r.coldWall), ms(r.coldCPU))
	fmt.Fprintf(out, "(m) one scrape: %d series (%d roy_procwatch_listen_info), %d KiB of text; CPU per scrape at 15s intervals: %.2f%% of one CPU (fresh snapshot)\n",
		r.series, r.listenSeries, r.scrapeBytes>>10, 100*r.scrapeFresh.cpu.Seconds()/15)
	fmt.Fprintf(out, "(b) distinct response bodies per round (1 = one shared snapshot): %v; CPU per round %s = %.2f fresh snapshots\n",
		r.sharedBodies, ms(r.shared.cpu*time.Duration(o.clients)), float64(r.shared.cpu*time.Duration(o.clients))/float64(max(r.fresh.cpu, 1)))
	fmt.Fprintf(out, "(c) daemon memory: after (a) VmRSS %.1f MiB, VmHWM %.1f MiB; after (b) VmRSS %.1f MiB, VmHWM %.1f MiB\n",
		float64(r.rssA)/1024, float64(r.hwmA)/1024, float64(r.rssB)/1024, float64(r.hwmB)/1024)
	if o.baselineBin != "" {
		fmt.Fprintf(out, "(c) -baseline-daemon memory after (a): VmRSS %.1f MiB, VmHWM %.1f MiB (%s)\n",
			float64(r.baseRSS)/1024, float64(r.baseHWM)/1024, o.baselineBin)
	}
	if r.inProc.ok {
		fmt.Fprintf(out, "allocations per fresh /api/processes (in-process, runtime.MemStats): %d allocs, %.2f MiB; time: core (build + filter/sort) %s, JSON encoding %s\n",
			r.inProc.allocs, float64(r.inProc.bytes)/(1<<20), ms(r.inProc.list), ms(r.inProc.encode))
	}
	fmt.Fprintln(out, "\ntargets (reported, never enforced):")
	fmt.Fprintf(out, "  (a) wall <= 1/5 of (d): %s/%s = %s  %s\n", ms(r.fresh.p50), ms(r.floor.p50), ratio(r.fresh.p50, r.floor.p50), mark(r.fresh.p50*5 <= r.floor.p50))
	fmt.Fprintf(out, "  (a) CPU  <= 1/5 of (d): %s/%s = %s  %s\n", ms(r.fresh.cpu), ms(r.floor.cpu), ratio(r.fresh.cpu, r.floor.cpu), mark(r.fresh.cpu*5 <= r.floor.cpu))
	sharedOK := true
	for _, b := range r.sharedBodies {
		sharedOK = sharedOK && b == 1
	}
	fmt.Fprintf(out, "  (b) clients within the TTL share one snapshot: %s\n", mark(sharedOK))
	fmt.Fprintf(out, "  (c) RSS <= 40 MiB: %.1f MiB (VmHWM, worst of (a) and (b))  %s\n", float64(max(r.hwmA, r.hwmB))/1024, mark(max(r.hwmA, r.hwmB) <= 40*1024))
}

// printSummary is one table of every workload shape measured: the fresh
// snapshot (a) against the floor (d), and -baseline-daemon's (a) if timed.
func printSummary(out io.Writer, rs []*report) {
	fmt.Fprintln(out, "\nsummary, per workload shape (fresh snapshot (a) against ps + ss (d); targets: ratios <= 0.20, reported, never enforced):")
	fmt.Fprintf(out, "%-40s %-10s %10s %10s %10s %9s %9s\n", "shape", "measure", "wall p50", "wall p95", "CPU/op", "wall/(d)", "CPU/(d)")
	fmt.Fprintln(out, strings.Repeat("-", 106))
	for _, r := range rs {
		o := r.opts
		shape := fmt.Sprintf("%d procs, %d holders, %d+%d socks", o.procs, o.holders, o.listen, 2*o.conns)
		row := func(name string, s stats) {
			fmt.Fprintf(out, "%-40s %-10s %10s %10s %10s %9s %9s\n", shape, name, ms(s.p50), ms(s.p95), ms(s.cpu),
				ratio(s.p50, r.floor.p50), ratio(s.cpu, r.floor.cpu))
		}
		row("(d) ps+ss", r.floor)
		row("(a) fresh", r.fresh)
		if o.baselineBin != "" {
			row("(a) base", r.baseline)
		}
	}
}
