package metrics

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// The process states always exported (0 when none), so that a series does
// not vanish when no process is in that state; others appear when seen.
var baseStates = []string{"running", "sleeping", "disk-sleep", "idle", "stopped", "tracing-stop", "zombie"}

var (
	processesDesc = prometheus.NewDesc(namespace+"_processes",
		"Processes in the snapshot, by state.", []string{"state"}, nil)
	userProcessesDesc = prometheus.NewDesc(namespace+"_user_processes",
		"Processes in the snapshot, by user name (the uid when it has no name).", []string{"user"}, nil)
	threadsDesc = prometheus.NewDesc(namespace+"_threads",
		"Threads of every process in the snapshot.", nil, nil)
	openFilesDesc = prometheus.NewDesc(namespace+"_open_files",
		"Open file descriptors of every process the daemon could read.", nil, nil)
	snapshotTimeDesc = prometheus.NewDesc(namespace+"_snapshot_timestamp_seconds",
		"When the snapshot these figures come from was taken (Unix time).", nil, nil)
)

// snapshotSource reads the shared snapshot once per scrape and hands it to
// each view: with a short TTL, three readers could each have paid a pass
// over /proc.
type snapshotSource struct {
	snap  Snapshotter
	views []snapshotView
}

// snapshotView is one concern computed from the snapshot.
type snapshotView interface {
	Describe(ch chan<- *prometheus.Desc)
	collect(ctx context.Context, ps []procs.Process, taken time.Time, ch chan<- prometheus.Metric) error
}

func (s *snapshotSource) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range s.views {
		v.Describe(ch)
	}
}

func (s *snapshotSource) Collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	ps, taken, err := s.snap.Snapshot(ctx)
	if err != nil {
		return err
	}
	for _, v := range s.views {
		if err := v.collect(ctx, ps, taken, ch); err != nil {
			return err
		}
	}
	return nil
}

// processView: counts over the whole snapshot.
type processView struct{}

func (processView) Describe(ch chan<- *prometheus.Desc) {
	ch <- processesDesc
	ch <- userProcessesDesc
	ch <- threadsDesc
	ch <- openFilesDesc
	ch <- snapshotTimeDesc
}

func (processView) collect(_ context.Context, ps []procs.Process, taken time.Time, ch chan<- prometheus.Metric) error {
	states := map[string]int{}
	for _, st := range baseStates {
		states[st] = 0
	}
	users := map[string]int{}
	var threads, files int
	for i := range ps {
		p := &ps[i]
		states[p.Status]++
		u := p.Username
		if u == "" {
			u = strconv.FormatUint(uint64(p.UID), 10)
		}
		users[u]++
		threads += p.Threads
		files += p.OpenFilesCount
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(processesDesc, prometheus.GaugeValue, float64(n), st)
	}
	for u, n := range users {
		ch <- prometheus.MustNewConstMetric(userProcessesDesc, prometheus.GaugeValue, float64(n), u)
	}
	ch <- prometheus.MustNewConstMetric(threadsDesc, prometheus.GaugeValue, float64(threads))
	ch <- prometheus.MustNewConstMetric(openFilesDesc, prometheus.GaugeValue, float64(files))
	ch <- prometheus.MustNewConstMetric(snapshotTimeDesc, prometheus.GaugeValue, float64(taken.UnixNano())/1e9)
	return nil
}

var (
	listenInfoDesc = prometheus.NewDesc(namespace+"_listen_info",
		"1 for every listening socket: TCP in LISTEN, UDP bound and unconnected. Capped by ROY_PROCWATCH_METRICS_MAX_LISTEN_SERIES.",
		[]string{"proto", "address", "port", "unit", "comm"}, nil)
	listenersDesc = prometheus.NewDesc(namespace+"_listen_series",
		"Distinct roy_procwatch_listen_info label sets before the cap.", nil, nil)
	listenDroppedDesc = prometheus.NewDesc(namespace+"_listen_info_dropped_total",
		"roy_procwatch_listen_info series left out of scrapes by the series cap (summed over scrapes).", nil, nil)
	unitPortsDesc = prometheus.NewDesc(namespace+"_unit_listening_ports",
		"Distinct listening sockets (proto, address, port) held by the processes of each systemd unit.", []string{"unit"}, nil)
)

// listenKey is one roy_procwatch_listen_info series.
type listenKey struct {
	proto, address string
	port           int
	unit, comm     string
}

// listenView: who listens on what.
type listenView struct {
	max     int
	dropped atomic.Uint64
}

func (s *listenView) Describe(ch chan<- *prometheus.Desc) {
	ch <- listenInfoDesc
	ch <- listenersDesc
	ch <- listenDroppedDesc
	ch <- unitPortsDesc
}

// listening says whether a socket waits for peers: a TCP socket in LISTEN,
// or a UDP socket with no peer.
func listening(pt *procs.Port) bool {
	if pt.Type == "tcp" {
		return pt.Status == "LISTEN"
	}
	return pt.Type == "udp" && pt.Remote == nil
}

// listenersOf lists the distinct listen_info label sets of a snapshot,
// sorted by port, protocol, address, unit and comm (so that the cap always
// keeps the same ones).
func listenersOf(ctx context.Context, ps []procs.Process) ([]listenKey, error) {
	seen := map[listenKey]struct{}{}
	var out []listenKey
	for i := range ps {
		p := &ps[i]
		if len(p.Ports) > 0 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		for j := range p.Ports {
			pt := &p.Ports[j]
			if !listening(pt) {
				continue
			}
			addr := pt.Local
			if ap, err := netip.ParseAddrPort(pt.Local); err == nil {
				addr = ap.Addr().String()
			}
			k := listenKey{proto: pt.Type, address: addr, port: pt.LocalPort, unit: p.Unit, comm: p.Name}
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b listenKey) int {
		return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto),
			cmp.Compare(a.address, b.address), cmp.Compare(a.unit, b.unit), cmp.Compare(a.comm, b.comm))
	})
	return out, nil
}

func (s *listenView) collect(ctx context.Context, ps []procs.Process, _ time.Time, ch chan<- prometheus.Metric) error {
	keys, err := listenersOf(ctx, ps)
	if err != nil {
		return err
	}
	type sock struct {
		proto, address string
		port           int
	}
	perUnit := map[string]map[sock]struct{}{}
	for _, k := range keys {
		if k.unit == "" {
			continue
		}
		if perUnit[k.unit] == nil {
			perUnit[k.unit] = map[sock]struct{}{}
		}
		perUnit[k.unit][sock{k.proto, k.address, k.port}] = struct{}{}
	}
	ch <- prometheus.MustNewConstMetric(listenersDesc, prometheus.GaugeValue, float64(len(keys)))
	for u, socks := range perUnit {
		ch <- prometheus.MustNewConstMetric(unitPortsDesc, prometheus.GaugeValue, float64(len(socks)), u)
	}
	if len(keys) > s.max {
		s.dropped.Add(uint64(len(keys) - s.max))
		keys = keys[:s.max]
	}
	ch <- prometheus.MustNewConstMetric(listenDroppedDesc, prometheus.CounterValue, float64(s.dropped.Load()))
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(listenInfoDesc, prometheus.GaugeValue, 1,
			k.proto, k.address, strconv.Itoa(k.port), k.unit, k.comm)
	}
	return nil
}

var (
	topCPUDesc = prometheus.NewDesc(namespace+"_top_process_cpu_usage_ratio",
		"CPU use of the busiest processes (1 = one CPU), opt-in with ROY_PROCWATCH_METRICS_TOP; labelled by PID: high cardinality.",
		[]string{"pid", "comm", "unit"}, nil)
	topRSSDesc = prometheus.NewDesc(namespace+"_top_process_resident_memory_bytes",
		"Resident memory of the busiest processes, opt-in with ROY_PROCWATCH_METRICS_TOP; labelled by PID: high cardinality.",
		[]string{"pid", "comm", "unit"}, nil)
)

// topView: the N busiest processes by CPU and the N largest by RSS.
type topView struct {
	n int
}

func (s *topView) Describe(ch chan<- *prometheus.Desc) {
	ch <- topCPUDesc
	ch <- topRSSDesc
}

// topOf returns the union of the n highest by CPU and the n highest by RSS,
// in PID order.
func topOf(ps []procs.Process, n int) []*procs.Process {
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	pick := map[int]bool{}
	for _, by := range []func(a, b int) int{
		func(a, b int) int { return cmp.Or(cmp.Compare(ps[b].CPUPercent, ps[a].CPUPercent), cmp.Compare(a, b)) },
		func(a, b int) int { return cmp.Or(cmp.Compare(ps[b].MemoryRSS, ps[a].MemoryRSS), cmp.Compare(a, b)) },
	} {
		slices.SortFunc(idx, by)
		for _, i := range idx[:min(n, len(idx))] {
			pick[i] = true
		}
	}
	out := make([]*procs.Process, 0, len(pick))
	for i := range ps {
		if pick[i] {
			out = append(out, &ps[i])
		}
	}
	return out
}

func (s *topView) collect(ctx context.Context, ps []procs.Process, _ time.Time, ch chan<- prometheus.Metric) error {
	for _, p := range topOf(ps, s.n) {
		if err := ctx.Err(); err != nil {
			return err
		}
		unit := p.Unit
		pid := strconv.Itoa(p.PID)
		ch <- prometheus.MustNewConstMetric(topCPUDesc, prometheus.GaugeValue, p.CPUPercent/100, pid, p.Name, unit)
		ch <- prometheus.MustNewConstMetric(topRSSDesc, prometheus.GaugeValue, float64(p.MemoryRSS), pid, p.Name, unit)
	}
	return nil
}
