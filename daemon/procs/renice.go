package procs

import (
	"context"
	"errors"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/procfs"
)

// Renice sets the nice value of every thread of the process. Lowering it
// below the current value needs root or the renice authority, as
// setpriority(2) requires for unprivileged users.
func (s *Service) Renice(ctx context.Context, c Caller, ref Target, nice int) error {
	return s.run(ctx, c, op{
		name: "renice", polkit: ActionRenice, ref: ref, arg: strconv.Itoa(nice), protect: protectKernel,
		validate: func() error {
			if nice < NiceMin || nice > NiceMax {
				return errf(KindInvalidArgument, "invalid nice %d: must be between -20 and 19", nice)
			}
			return nil
		},
		prepare: func(_ context.Context, t *target) (bool, error) { return nice < t.st.Nice, nil },
		act: func(_ context.Context, t *target, _ bool) (string, *Event, error) {
			if err := s.renice(t, nice); err != nil {
				return "", nil, err
			}
			return "", &Event{Kind: EventReniced, PID: t.pid, Nice: nice}, nil
		},
	})
}

// renice sets nice on every thread of t.
func (s *Service) renice(t *target, nice int) error {
	// setpriority takes a TID, not a pidfd: re-verify right before and
	// after, so a PID reused in between is reported, not silently hit.
	if !t.alive() {
		return noSuchProcess(t.pid)
	}
	// Threads started while we go (cloned from one not reniced yet) keep
	// the old value: scan again until a pass finds no thread we have not
	// set. Threads created after that inherit the new value.
	var firstErr error
	done := map[int]bool{}
	for pass := 0; pass < 50; pass++ {
		fresh := 0
		for _, tid := range procfs.Threads(s.inv.ProcRoot(), t.pid) {
			if done[tid] {
				continue
			}
			done[tid] = true
			fresh++
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && !errors.Is(err, unix.ESRCH) && firstErr == nil {
				firstErr = err
			}
		}
		if fresh == 0 || firstErr != nil {
			break
		}
	}
	if firstErr != nil {
		return sysErr(firstErr, t.pid, "renice")
	}
	if !t.alive() {
		return noSuchProcess(t.pid)
	}
	return nil
}
