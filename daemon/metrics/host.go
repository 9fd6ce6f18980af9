package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// HostStat is what the host metrics need: the overview's figures that are
// gauges or counters (not its rates). Byte counts are bytes.
type HostStat struct {
	CPUSeconds           map[string]float64 // by mode, since boot, all CPUs
	MemoryTotalBytes     uint64
	MemoryAvailableBytes uint64
	MemoryUsedBytes      uint64
	SwapTotalBytes       uint64
	SwapUsedBytes        uint64
	Load                 [3]float64 // 1, 5, 15 minutes
	TasksRunning         int
	TasksBlocked         int
	Threads              int
}

// HostReader reads the host figures (the overview's sampler).
type HostReader interface {
	HostStats(ctx context.Context) (HostStat, error)
}

// HostReaderFunc is a function as a HostReader.
type HostReaderFunc func(ctx context.Context) (HostStat, error)

// HostStats calls f.
func (f HostReaderFunc) HostStats(ctx context.Context) (HostStat, error) { return f(ctx) }

var (
	hostCPUDesc = prometheus.NewDesc(namespace+"_host_cpu_seconds_total",
		"CPU time of the host since boot, all CPUs, by mode (/proc/stat).", []string{"mode"}, nil)
	hostMemTotalDesc = prometheus.NewDesc(namespace+"_host_memory_total_bytes",
		"Physical memory of the host.", nil, nil)
	hostMemAvailDesc = prometheus.NewDesc(namespace+"_host_memory_available_bytes",
		"Memory available for new work without swapping (MemAvailable).", nil, nil)
	hostMemUsedDesc = prometheus.NewDesc(namespace+"_host_memory_used_bytes",
		"Memory in use: total minus available.", nil, nil)
	hostSwapTotalDesc = prometheus.NewDesc(namespace+"_host_swap_total_bytes",
		"Swap space of the host.", nil, nil)
	hostSwapUsedDesc = prometheus.NewDesc(namespace+"_host_swap_used_bytes",
		"Swap space in use.", nil, nil)
	hostLoadDesc = [3]*prometheus.Desc{
		prometheus.NewDesc(namespace+"_host_load1", "Load average over 1 minute.", nil, nil),
		prometheus.NewDesc(namespace+"_host_load5", "Load average over 5 minutes.", nil, nil),
		prometheus.NewDesc(namespace+"_host_load15", "Load average over 15 minutes.", nil, nil),
	}
	hostTasksDesc = prometheus.NewDesc(namespace+"_host_tasks",
		"Tasks of the host by state: running (runnable) and blocked (waiting for I/O), from /proc/stat.", []string{"state"}, nil)
	hostThreadsDesc = prometheus.NewDesc(namespace+"_host_threads",
		"Threads on the host.", nil, nil)
)

type hostSource struct{ read HostReader }

// AddHost registers the host collector ("host" in the scrape metrics).
// Call it before serving.
func (m *Metrics) AddHost(r HostReader) { m.Add("host", &hostSource{read: r}) }

func (s *hostSource) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hostCPUDesc, hostMemTotalDesc, hostMemAvailDesc, hostMemUsedDesc,
		hostSwapTotalDesc, hostSwapUsedDesc, hostLoadDesc[0], hostLoadDesc[1], hostLoadDesc[2], hostTasksDesc, hostThreadsDesc} {
		ch <- d
	}
}

func (s *hostSource) Collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	h, err := s.read.HostStats(ctx)
	if err != nil {
		return err
	}
	for mode, v := range h.CPUSeconds {
		ch <- prometheus.MustNewConstMetric(hostCPUDesc, prometheus.CounterValue, v, mode)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(hostMemTotalDesc, float64(h.MemoryTotalBytes))
	gauge(hostMemAvailDesc, float64(h.MemoryAvailableBytes))
	gauge(hostMemUsedDesc, float64(h.MemoryUsedBytes))
	gauge(hostSwapTotalDesc, float64(h.SwapTotalBytes))
	gauge(hostSwapUsedDesc, float64(h.SwapUsedBytes))
	for i, d := range hostLoadDesc {
		gauge(d, h.Load[i])
	}
	gauge(hostTasksDesc, float64(h.TasksRunning), "running")
	gauge(hostTasksDesc, float64(h.TasksBlocked), "blocked")
	gauge(hostThreadsDesc, float64(h.Threads))
	return nil
}
