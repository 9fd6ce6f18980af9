package host

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/process"
)

// ioSample is the previous I/O reading of a process, for its rates.
type ioSample struct {
	at          time.Time
	read, write uint64
}

// maxIOPrev caps the remembered I/O readings (one per process whose
// detail was opened); the oldest go first.
const maxIOPrev = 256

// ErrNoProcess is returned when the process is gone.
var ErrNoProcess = errors.New("no such process")

// ProcessExtras reads the detail's extras of one process through
// gopsutil. createTime (the core's create_time) keys the I/O rate, so a
// reused PID starts afresh. The caller has checked that the process is
// the one it means and that the requester may inspect it.
func (s *Sampler) ProcessExtras(ctx context.Context, pid int, createTime float64) (*ProcessExtras, error) {
	if pid <= 0 || pid > math.MaxInt32 {
		return nil, ErrNoProcess
	}
	ctx = context.WithValue(ctx, common.EnvKey, s.ctx.Value(common.EnvKey))
	p, err := process.NewProcessWithContext(ctx, int32(pid))
	if err != nil {
		return nil, ErrNoProcess
	}
	out := &ProcessExtras{Limits: []Limit{}}
	now := time.Now()
	if io, err := p.IOCountersWithContext(ctx); err == nil {
		out.IO = ProcessIO{ReadBytes: io.ReadBytes, WriteBytes: io.WriteBytes}
		k := procKey{pid, createTime}
		s.mu.Lock()
		if prev, ok := s.ioPrev[k]; ok {
			if dt := now.Sub(prev.at).Seconds(); dt >= minRateInterval.Seconds() {
				out.IO.ReadBps = rate(prev.read, io.ReadBytes, dt)
				out.IO.WriteBps = rate(prev.write, io.WriteBytes, dt)
				s.ioPrev[k] = ioSample{now, io.ReadBytes, io.WriteBytes}
			}
		} else {
			if len(s.ioPrev) >= maxIOPrev {
				s.dropOldestIO()
			}
			s.ioPrev[k] = ioSample{now, io.ReadBytes, io.WriteBytes}
		}
		s.mu.Unlock()
	}
	if cs, err := p.NumCtxSwitchesWithContext(ctx); err == nil {
		out.CtxSwitches = CtxSwitches{Voluntary: cs.Voluntary, Involuntary: cs.Involuntary}
	}
	if t, err := p.TimesWithContext(ctx); err == nil {
		out.CPUTimes = CPUTimes{User: round2(t.User), System: round2(t.System)}
	}
	if lims, err := p.RlimitUsageWithContext(ctx, true); err == nil {
		for _, l := range lims {
			lim := Limit{Resource: rlimitName(l.Resource), Soft: limitValue(l.Soft), Hard: limitValue(l.Hard)}
			if usedKnown[l.Resource] {
				u := l.Used
				lim.Used = &u
			}
			out.Limits = append(out.Limits, lim)
		}
	}
	dir := filepath.Join(s.opts.ProcRoot, strconv.Itoa(pid))
	out.OOMScore = readInt(filepath.Join(dir, "oom_score"))
	out.OOMScoreAdj = readInt(filepath.Join(dir, "oom_score_adj"))
	return out, nil
}

func (s *Sampler) dropOldestIO() {
	var oldest procKey
	var when time.Time
	for k, v := range s.ioPrev {
		if when.IsZero() || v.at.Before(when) {
			oldest, when = k, v.at
		}
	}
	delete(s.ioPrev, oldest)
}

func readInt(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// limitValue maps RLIM_INFINITY to -1 (JSON numbers above 2^53 lose
// precision in JavaScript).
func limitValue(v uint64) int64 {
	if v > math.MaxInt64 {
		return -1
	}
	return int64(v)
}

// usedKnown are the limits whose use gopsutil measures (RlimitUsage
// leaves the others at 0, which would read as "none used").
var usedKnown = map[int32]bool{
	process.RLIMIT_CPU: true, process.RLIMIT_DATA: true, process.RLIMIT_STACK: true, process.RLIMIT_RSS: true,
	process.RLIMIT_NOFILE: true, process.RLIMIT_MEMLOCK: true, process.RLIMIT_AS: true,
	process.RLIMIT_SIGPENDING: true, process.RLIMIT_NICE: true, process.RLIMIT_RTPRIO: true,
}

var rlimitNames = [...]string{
	"cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile",
	"memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime",
}

func rlimitName(r int32) string {
	if r >= 0 && int(r) < len(rlimitNames) {
		return rlimitNames[r]
	}
	return "rlimit" + strconv.Itoa(int(r))
}
