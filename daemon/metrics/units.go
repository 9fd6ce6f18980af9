package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// UnitStat is what the per-unit metrics need of one systemd unit. Nil
// figures are those systemd does not report for the unit (no cgroup
// accounting): their series are left out.
type UnitStat struct {
	Name        string
	Active      string // ActiveState: active, failed, …
	Restarts    uint32 // NRestarts
	CPUNSec     *uint64
	MemoryBytes *uint64
	Tasks       *uint64
}

// UnitLister lists the units to export (the services view's inventory,
// one systemd call for all of them, not one per unit).
type UnitLister interface {
	UnitStats(ctx context.Context) ([]UnitStat, error)
}

// UnitLister is a function too.
type UnitListerFunc func(ctx context.Context) ([]UnitStat, error)

// UnitStats calls f.
func (f UnitListerFunc) UnitStats(ctx context.Context) ([]UnitStat, error) { return f(ctx) }

// unitStates are systemd's ActiveState values: the enum gauge has one
// series per state, 1 for the current one.
var unitStates = []string{"active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance", "refreshing"}

var (
	unitStateDesc = prometheus.NewDesc(namespace+"_unit_state",
		"systemd ActiveState of each unit: 1 for the current state, 0 for the others.", []string{"unit", "state"}, nil)
	unitCPUDesc = prometheus.NewDesc(namespace+"_unit_cpu_seconds_total",
		"CPU time used by the unit's cgroup (CPUUsageNSec).", []string{"unit"}, nil)
	unitMemDesc = prometheus.NewDesc(namespace+"_unit_memory_bytes",
		"Memory of the unit's cgroup (MemoryCurrent).", []string{"unit"}, nil)
	unitTasksDesc = prometheus.NewDesc(namespace+"_unit_tasks",
		"Tasks (threads) in the unit's cgroup (TasksCurrent).", []string{"unit"}, nil)
	unitRestartsDesc = prometheus.NewDesc(namespace+"_unit_restarts_total",
		"Automatic restarts of the unit by systemd (NRestarts).", []string{"unit"}, nil)
)

// unitSource exports the units a UnitLister gives.
type unitSource struct{ list UnitLister }

// AddUnits registers the per-unit collector ("units" in the scrape
// metrics). Call it before serving.
func (m *Metrics) AddUnits(l UnitLister) { m.Add("units", &unitSource{list: l}) }

func (s *unitSource) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{unitStateDesc, unitCPUDesc, unitMemDesc, unitTasksDesc, unitRestartsDesc} {
		ch <- d
	}
}

func (s *unitSource) Collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	us, err := s.list.UnitStats(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, u := range us {
		if u.Name == "" || seen[u.Name] {
			continue
		}
		seen[u.Name] = true
		for _, st := range unitStates {
			v := 0.0
			if st == u.Active {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(unitStateDesc, prometheus.GaugeValue, v, u.Name, st)
		}
		ch <- prometheus.MustNewConstMetric(unitRestartsDesc, prometheus.CounterValue, float64(u.Restarts), u.Name)
		if u.CPUNSec != nil {
			ch <- prometheus.MustNewConstMetric(unitCPUDesc, prometheus.CounterValue, float64(*u.CPUNSec)/1e9, u.Name)
		}
		if u.MemoryBytes != nil {
			ch <- prometheus.MustNewConstMetric(unitMemDesc, prometheus.GaugeValue, float64(*u.MemoryBytes), u.Name)
		}
		if u.Tasks != nil {
			ch <- prometheus.MustNewConstMetric(unitTasksDesc, prometheus.GaugeValue, float64(*u.Tasks), u.Name)
		}
	}
	return nil
}
