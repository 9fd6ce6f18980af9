package procs

import (
	"context"

	"golang.org/x/sys/unix"
)

// Signal sends the named signal to the process. The name is checked against
// the allowed set (with or without SIG, any case); the canonical name is
// returned.
func (s *Service) Signal(ctx context.Context, c Caller, ref Target, name string) (string, error) {
	canon, sig, perr := s.signals.Parse(name)
	arg := canon
	if perr != nil {
		arg = name
		if len(arg) > 32 {
			arg = arg[:32] + "…"
		}
	}
	err := s.run(ctx, c, op{
		name: "signal", polkit: ActionSignal, ref: ref, arg: arg, protect: protectAll,
		validate: func() error { return perr },
		act: func(_ context.Context, t *target, _ bool) (string, *Event, error) {
			// The pidfd guarantees the signal reaches the process we checked.
			if err := unix.PidfdSendSignal(t.fd, sig, nil, 0); err != nil {
				return "", nil, sysErr(err, t.pid, "signal")
			}
			return "", &Event{Kind: EventSignalled, PID: t.pid, Signal: canon}, nil
		},
	})
	if err != nil {
		return "", err
	}
	return canon, nil
}
