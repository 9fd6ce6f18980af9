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
	if nice < -20 || nice > 19 {
		return errf(KindInvalidArgument, "invalid nice %d: must be between -20 and 19", nice)
	}
	t, err := s.open(ref)
	if err != nil {
		return err
	}
	defer t.close()
	detail := strconv.Itoa(nice)
	if t.kthread() {
		err := errf(KindAccessDenied, "refusing to renice kernel thread %d: protected process", t.pid)
		s.audit(c, "renice", t, detail, err)
		return err
	}
	if err := s.authorize(ctx, c, t, ActionRenice, nice < t.st.Nice); err != nil {
		s.audit(c, "renice", t, detail, err)
		return err
	}
	// setpriority takes a TID, not a pidfd: re-verify right before and
	// after, so a PID reused in between is reported, not silently hit.
	if err := unix.PidfdSendSignal(t.fd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
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
		err := sysErr(firstErr, t.pid, "renice")
		s.audit(c, "renice", t, detail, err)
		return err
	}
	if err := unix.PidfdSendSignal(t.fd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
		return noSuchProcess(t.pid)
	}
	s.audit(c, "renice", t, detail, nil)
	s.emit(Event{Kind: EventReniced, PID: t.pid, Nice: nice})
	return nil
}
