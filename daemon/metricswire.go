package main

import (
	"context"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/daemon/metrics"
	svcunits "github.com/roy/roy-procwatch/daemon/units"
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

// unitMetrics feeds the per-unit collector from the services view's
// inventory (services, one systemd listing for all of them).
func unitMetrics(s *svcunits.Service) metrics.UnitLister {
	return metrics.UnitListerFunc(func(ctx context.Context) ([]metrics.UnitStat, error) {
		us, err := s.List(ctx, svcunits.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]metrics.UnitStat, 0, len(us))
		for _, u := range us {
			out = append(out, metrics.UnitStat{
				Name: u.Name, Active: u.Active, Restarts: u.Restarts,
				CPUNSec: u.CPUUsageNSec, MemoryBytes: u.MemoryCurrent, Tasks: u.Tasks,
			})
		}
		return out, nil
	})
}
