package host

import (
	"sync"
	"time"
)

// ProcSample is one process at one of the core's snapshots.
type ProcSample struct {
	PID        int
	CreateTime float64 // with the PID, the process's identity
	CPUPercent float64
	MemoryRSS  uint64
}

// ProcessPoint is one sample of a process's history.
type ProcessPoint struct {
	Time       time.Time `json:"time"`
	CPUPercent float32   `json:"cpu_percent"`
	MemoryRSS  uint64    `json:"memory_rss"`
}

// ProcessSeries is the history of one process, oldest first.
type ProcessSeries struct {
	PID        int            `json:"pid"`
	CreateTime float64        `json:"create_time"`
	Samples    []ProcessPoint `json:"samples"`
}

type procKey struct {
	pid int
	ct  float64
}

// The per-process history is packed: every live process is in every
// snapshot, so a process's samples are consecutive snapshots and their
// times are kept once, in a ring shared by all processes. A sample is
// then 6 bytes (CPU % × 10 as uint16, RSS in KiB as uint32), allocated
// once per process: 120 samples are 720 bytes, 2,000 processes under
// 2 MiB.
type series struct {
	first uint64   // sequence number of the snapshot of its first sample
	last  uint64   // and of its latest
	cpu   []uint16 // CPU % × 10, indexed by sequence number mod n
	rss   []uint32 // RSS in KiB, same index
}

// procHistory keeps the last n samples of every live process.
type procHistory struct {
	mu    sync.Mutex
	n     int
	seq   uint64  // snapshots recorded so far; the latest is seq-1
	times []int64 // Unix ms of each snapshot, indexed by sequence mod n
	m     map[procKey]*series
}

func newProcHistory(n int) *procHistory {
	return &procHistory{n: n, times: make([]int64, n), m: map[procKey]*series{}}
}

// record appends one snapshot: every process in it gets a sample, and the
// processes absent from it (exited) are dropped.
func (h *procHistory) record(at time.Time, ps []ProcSample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.seq
	h.seq++
	i := int(cur % uint64(h.n))
	h.times[i] = at.UnixMilli()
	for k := range ps {
		key := procKey{ps[k].PID, ps[k].CreateTime}
		s := h.m[key]
		if s == nil {
			s = &series{first: cur, cpu: make([]uint16, h.n), rss: make([]uint32, h.n)}
			h.m[key] = s
		}
		s.last = cur
		s.cpu[i] = uint16(min(max(ps[k].CPUPercent*10+0.5, 0), 0xFFFF))
		s.rss[i] = uint32(min(ps[k].MemoryRSS>>10, 0xFFFFFFFF))
	}
	for key, s := range h.m {
		if s.last != cur {
			delete(h.m, key)
		}
	}
}

func (h *procHistory) get(pid int, ct float64) (ProcessSeries, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.m[procKey{pid, ct}]
	if !ok {
		return ProcessSeries{}, false
	}
	from := s.first
	if s.last+1 > uint64(h.n) && from < s.last+1-uint64(h.n) {
		from = s.last + 1 - uint64(h.n)
	}
	out := ProcessSeries{PID: pid, CreateTime: ct, Samples: make([]ProcessPoint, 0, s.last+1-from)}
	for q := from; q <= s.last; q++ {
		i := int(q % uint64(h.n))
		out.Samples = append(out.Samples, ProcessPoint{
			Time: time.UnixMilli(h.times[i]), CPUPercent: float32(s.cpu[i]) / 10, MemoryRSS: uint64(s.rss[i]) << 10,
		})
	}
	return out, true
}

func (h *procHistory) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.m)
}

// RecordProcesses adds one of the core's snapshots to the per-process
// history and drops the processes that are no longer in it.
// Its process count serves the next readings' tasks.total.
func (s *Sampler) RecordProcesses(at time.Time, ps []ProcSample) {
	s.procs.record(at, ps)
	s.mu.Lock()
	s.procCount, s.procCountAt = len(ps), s.now()
	s.mu.Unlock()
}

// ProcessHistory returns the CPU % and RSS samples of the process with
// this PID and create time; false when it has none (not seen in any
// snapshot, or exited).
func (s *Sampler) ProcessHistory(pid int, createTime float64) (ProcessSeries, bool) {
	return s.procs.get(pid, createTime)
}
