package host

import (
	"time"
)

// Point is one host sample of the history: what the overview's sparklines
// draw. Rates are summed over interfaces and disks.
type Point struct {
	Time         time.Time `json:"time"`
	CPU          float32   `json:"cpu"`
	Cores        []float32 `json:"cores"`
	MemPercent   float32   `json:"mem_percent"`
	MemUsed      uint64    `json:"mem_used"`
	SwapPercent  float32   `json:"swap_percent"`
	Load1        float32   `json:"load1"`
	NetRxBps     float64   `json:"net_rx_bps"`
	NetTxBps     float64   `json:"net_tx_bps"`
	DiskReadBps  float64   `json:"disk_read_bps"`
	DiskWriteBps float64   `json:"disk_write_bps"`
}

func pointOf(s *System) Point {
	p := Point{
		Time: s.Time, CPU: float32(s.CPU.Percent), MemPercent: float32(s.Memory.Percent),
		MemUsed: s.Memory.Used, SwapPercent: float32(s.Swap.Percent), Load1: float32(s.Load[0]),
		Cores: make([]float32, len(s.CPU.PerCore)),
	}
	for i, c := range s.CPU.PerCore {
		p.Cores[i] = float32(c.Percent)
	}
	for _, n := range s.Net {
		p.NetRxBps += n.RxBps
		p.NetTxBps += n.TxBps
	}
	for _, d := range s.Disks {
		p.DiskReadBps += d.ReadBps
		p.DiskWriteBps += d.WriteBps
	}
	return p
}

// ring keeps the last n points, oldest first when read.
type ring struct {
	buf  []Point
	next int // where the next point goes
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]Point, max(n, 1))} }

func (r *ring) push(p Point) {
	r.buf[r.next] = p
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// since returns the points strictly after t (all when t is zero), oldest
// first.
func (r *ring) since(t time.Time) []Point {
	var out []Point
	add := func(ps []Point) {
		for _, p := range ps {
			if p.Time.After(t) {
				out = append(out, p)
			}
		}
	}
	if r.full {
		add(r.buf[r.next:])
	}
	add(r.buf[:r.next])
	if out == nil {
		out = []Point{}
	}
	return out
}

// History is the host history: points oldest first, taken every
// Interval while someone watches the overview.
type History struct {
	IntervalS float64 `json:"interval_s"`
	Points    []Point `json:"points"`
}

// History returns the points taken after since (all when zero) and in
// the last Keep: points left from an earlier watch, older than that, are
// not part of it. Asking counts as a request for the overview.
func (s *Sampler) History(since time.Time) History {
	s.Touch()
	s.mu.Lock()
	defer s.mu.Unlock()
	if oldest := s.now().Add(-s.opts.Keep); since.Before(oldest) {
		since = oldest
	}
	return History{IntervalS: s.opts.Interval.Seconds(), Points: s.hist.since(since)}
}

// Touch marks a request for the overview: the history is sampled every
// Interval until Demand has passed without one. No goroutine runs while
// nobody asks, so an idle daemon costs no CPU and may exit.
func (s *Sampler) Touch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.demand = time.Now()
	if s.running || s.closed {
		return
	}
	s.running = true
	s.wg.Add(1)
	go s.loop()
}

func (s *Sampler) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.mu.Lock()
			s.running = false
			s.mu.Unlock()
			return
		case <-t.C:
		}
		s.mu.Lock()
		if time.Since(s.demand) > s.opts.Demand {
			s.running = false
			s.mu.Unlock()
			return
		}
		// A reading taken by a request moments ago already went into the
		// history.
		if time.Since(s.lastAt) >= s.opts.Interval/2 {
			if _, err := s.sampleLocked(); err != nil {
				s.log.Debug("host sample failed", "err", err)
			}
		}
		s.mu.Unlock()
	}
}

// Sampling reports whether the history is being sampled now.
func (s *Sampler) Sampling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}
