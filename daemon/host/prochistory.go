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

// procPoint is packed (16 bytes): 2,000 processes × 120 samples is
// under 4 MiB.
type procPoint struct {
	atMs   int64
	cpu    float32
	rssKiB uint32
}

type series struct {
	buf  []procPoint // grows to cap, then wraps at next
	next int
	gen  uint64
}

// procHistory keeps the last n samples of every live process.
type procHistory struct {
	mu  sync.Mutex
	n   int
	gen uint64
	m   map[procKey]*series
}

func newProcHistory(n int) *procHistory {
	return &procHistory{n: n, m: map[procKey]*series{}}
}

// record appends one snapshot: every process in it gets a sample, and the
// processes absent from it (exited) are dropped.
func (h *procHistory) record(at time.Time, ps []ProcSample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	ms := at.UnixMilli()
	for i := range ps {
		k := procKey{ps[i].PID, ps[i].CreateTime}
		s := h.m[k]
		if s == nil {
			s = &series{buf: make([]procPoint, 0, min(h.n, 8))}
			h.m[k] = s
		}
		s.gen = h.gen
		kib := ps[i].MemoryRSS >> 10
		if kib > 0xFFFFFFFF {
			kib = 0xFFFFFFFF
		}
		p := procPoint{atMs: ms, cpu: float32(ps[i].CPUPercent), rssKiB: uint32(kib)}
		if len(s.buf) < h.n {
			s.buf = append(s.buf, p)
			continue
		}
		s.buf[s.next] = p
		s.next = (s.next + 1) % h.n
	}
	for k, s := range h.m {
		if s.gen != h.gen {
			delete(h.m, k)
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
	out := ProcessSeries{PID: pid, CreateTime: ct, Samples: make([]ProcessPoint, 0, len(s.buf))}
	add := func(ps []procPoint) {
		for _, p := range ps {
			out.Samples = append(out.Samples, ProcessPoint{
				Time: time.UnixMilli(p.atMs), CPUPercent: p.cpu, MemoryRSS: uint64(p.rssKiB) << 10,
			})
		}
	}
	add(s.buf[s.next:])
	add(s.buf[:s.next])
	return out, true
}

func (h *procHistory) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.m)
}

// RecordProcesses adds one of the core's snapshots to the per-process
// history and drops the processes that are no longer in it.
func (s *Sampler) RecordProcesses(at time.Time, ps []ProcSample) { s.procs.record(at, ps) }

// ProcessHistory returns the CPU % and RSS samples of the process with
// this PID and create time; false when it has none (not seen in any
// snapshot, or exited).
func (s *Sampler) ProcessHistory(pid int, createTime float64) (ProcessSeries, bool) {
	return s.procs.get(pid, createTime)
}
