package procs

import (
	"context"
	"sync"
	"time"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/internal/procfs"
)

// The host overview: the figures and their history come from daemon/host
// (Options.Host); the core decides who sees a process's extras and feeds
// the per-process history from its own snapshots.

// hostView is the core's link to the host sampler.
type hostView struct {
	s        *host.Sampler
	mu       sync.Mutex
	recorded *procfs.Snapshot // the last snapshot given to the per-process history
	buf      []host.ProcSample
}

// getSnapshot is the inventory's snapshot, recorded in the history.
func (s *Service) getSnapshot(ctx context.Context) (*procfs.Snapshot, error) {
	snap, err := s.inv.Get(ctx)
	if err == nil {
		s.recordHistory(snap)
	}
	return snap, err
}

// recordHistory adds a snapshot of the inventory, the first time it is
// seen, to the per-process history (CPU % and RSS of every process;
// exited ones are dropped). Every path that gets a snapshot calls it.
func (s *Service) recordHistory(snap *procfs.Snapshot) {
	if s.host == nil {
		return
	}
	h := s.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.recorded == snap || (h.recorded != nil && !snap.Taken.After(h.recorded.Taken)) {
		return
	}
	h.recorded = snap
	ps := h.buf[:0]
	for i := range snap.Procs {
		p := &snap.Procs[i]
		ps = append(ps, host.ProcSample{PID: p.PID, CreateTime: p.CreateTime, CPUPercent: p.CPUPercent, MemoryRSS: p.MemoryRSS})
	}
	h.s.RecordProcesses(snap.Taken, ps)
	h.buf = ps // RecordProcesses keeps nothing of it
}

func (s *Service) hostSampler() (*host.Sampler, error) {
	if s.host == nil {
		return nil, errf(KindFailed, "host figures are not available in this daemon")
	}
	return s.host.s, nil
}

// System returns the host figures. Anyone may read them (like the list).
// Asking keeps the history sampled for the next minute.
func (s *Service) System(ctx context.Context) (host.System, error) {
	hs, err := s.hostSampler()
	if err != nil {
		return host.System{}, err
	}
	sys, err := hs.Current(ctx)
	if err != nil {
		return host.System{}, &Error{Kind: KindFailed, Msg: "cannot read the host figures", Err: err}
	}
	return sys, nil
}

// SystemHistory returns the host figures' history after since (all of
// it when since is zero).
func (s *Service) SystemHistory(ctx context.Context, since time.Time) (host.History, error) {
	hs, err := s.hostSampler()
	if err != nil {
		return host.History{}, err
	}
	if err := ctx.Err(); err != nil {
		return host.History{}, err
	}
	return hs.History(since), nil
}

// ProcessHistory returns the CPU % and RSS samples of one process, taken
// at the core's snapshots since the daemon first saw it (the last 120).
// Like the list, anyone may read them. A live process not yet in a
// snapshot has an empty series.
func (s *Service) ProcessHistory(ctx context.Context, c Caller, ref Target) (host.ProcessSeries, error) {
	hs, err := s.hostSampler()
	if err != nil {
		return host.ProcessSeries{}, err
	}
	t, err := s.open(ref)
	if err != nil {
		return host.ProcessSeries{}, err
	}
	ct := t.ctime
	t.close()
	if _, err := s.getSnapshot(ctx); err != nil {
		return host.ProcessSeries{}, &Error{Kind: KindFailed, Msg: "cannot read the process list", Err: err}
	}
	out, ok := hs.ProcessHistory(t.pid, ct)
	if !ok {
		out = host.ProcessSeries{PID: t.pid, CreateTime: ct, Samples: []host.ProcessPoint{}}
	}
	return out, nil
}

// extras reads the detail's extras of a pinned process the caller may
// inspect. They are read by path: detail verifies afterwards that the
// pidfd's process is still alive (then the PID still named it).
func (s *Service) extras(ctx context.Context, t *target) *host.ProcessExtras {
	if s.host == nil {
		return nil
	}
	ex, err := s.host.s.ProcessExtras(ctx, t.pid, t.ctime)
	if err != nil {
		return nil
	}
	return ex
}
