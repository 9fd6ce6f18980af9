package procs

import (
	"context"

	"golang.org/x/sys/unix"
)

// Signal sends the named signal to the process. The name is checked against
// the allowed set (with or without SIG, any case); the canonical name is
// returned.
func (s *Service) Signal(ctx context.Context, c Caller, ref Target, name string) (string, error) {
	canon, sig, err := s.signals.Parse(name)
	if err != nil {
		return "", err
	}
	t, err := s.open(ref)
	if err != nil {
		return "", err
	}
	defer t.close()
	if err := s.protected(t, "signal"); err != nil {
		s.audit(c, "signal", t, canon, err)
		return "", err
	}
	if err := s.authorize(ctx, c, t, ActionSignal, false); err != nil {
		s.audit(c, "signal", t, canon, err)
		return "", err
	}
	// The pidfd guarantees the signal reaches the process we checked.
	if err := unix.PidfdSendSignal(t.fd, sig, nil, 0); err != nil {
		err = sysErr(err, t.pid, "signal")
		s.audit(c, "signal", t, canon, err)
		return "", err
	}
	s.audit(c, "signal", t, canon, nil)
	s.emit(Event{Kind: EventSignalled, PID: t.pid, Signal: canon})
	return canon, nil
}
