package main

import (
	"context"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/daemon/metrics"
	"github.com/roy/roy-procwatch/internal/procfs"
)

// hostMetrics feeds the host collector from the overview's sampler (its
// latest reading, without marking demand: a scrape is its own sample) and
// the CPU time by mode from /proc/stat (the sampler keeps rates only).
func hostMetrics(s *host.Sampler) metrics.HostReader {
	return metrics.HostReaderFunc(func(ctx context.Context) (metrics.HostStat, error) {
		sys, err := s.Snapshot(ctx)
		if err != nil {
			return metrics.HostStat{}, err
		}
		cpu, err := procfs.CPUSeconds("/proc")
		if err != nil {
			return metrics.HostStat{}, err
		}
		return metrics.HostStat{
			CPUSeconds:           cpu,
			MemoryTotalBytes:     sys.Memory.Total,
			MemoryAvailableBytes: sys.Memory.Available,
			MemoryUsedBytes:      sys.Memory.Used,
			SwapTotalBytes:       sys.Swap.Total,
			SwapUsedBytes:        sys.Swap.Used,
			Load:                 sys.Load,
			TasksRunning:         sys.Tasks.Running,
			TasksBlocked:         sys.Tasks.Blocked,
			Threads:              sys.Tasks.Threads,
		}, nil
	})
}
