package procs

import (
	"context"
	"time"
)

// One path for every action on a process: validate the input, pin the
// target (pidfd), refuse protected processes, authorize, act, audit exactly
// once, emit the event. Signal, Renice, Restart and Get (when it reaches
// into a process the caller may not read) each describe their steps in an
// op; run is the only place that writes an action's audit line.

// protection says which processes an action refuses whoever asks.
type protection int

const (
	protectNone   protection = iota // inspect: authorization alone decides
	protectKernel                   // kernel threads (renice)
	protectAll                      // PID 1, the daemon itself, kernel threads
)

// ActionTimeout is the deadline of an action other than a restart
// (signal, renice, inspect), whichever transport asked: pinning,
// authorization (an interactive polkit check included) and the act. A
// restart has its own, longer one (restartDeadline). Transports set no
// deadline of their own on an action.
const ActionTimeout = 60 * time.Second

// LongestAction is how long an action may take at most, whichever
// transport asked: a restart's deadline (the stop timeout and systemd's
// job) or ActionTimeout. A transport that must still answer then (the HTTP
// server's write timeout) takes its limit from here.
func (s *Service) LongestAction() time.Duration {
	return max(ActionTimeout, s.restartDeadline())
}

// op is one action on one process.
type op struct {
	name    string // in the audit line: signal, renice, restart, inspect
	polkit  string // the polkit action needed when the caller is not the owner
	ref     Target
	arg     string // what was asked (signal name, nice), for the audit line
	protect protection
	// deadline bounds the whole action (0: ActionTimeout).
	deadline time.Duration

	// validate checks the input before anything is looked up (optional).
	validate func() error
	// prepare runs on the pinned target once it passed protection:
	// refusals of this action (a zombie, not a unit's main process); it
	// says whether even the owner needs the authority (optional).
	prepare func(ctx context.Context, t *target) (needAuthority bool, err error)
	// partial: a refusal by authorization does not end the call; act runs
	// with allowed false and returns what anyone may see (inspect).
	partial bool
	// act does the action. It returns what the audit line adds on
	// success and the event to emit (nil: none).
	act func(ctx context.Context, t *target, allowed bool) (result string, ev *Event, err error)
	// quiet says when no audit line is due: a read the caller may do
	// anyway (root, or its own process under the kernel's rule). t is nil
	// when the target could not be pinned. nil: always audited.
	quiet func(t *target) bool
}

// run executes o for c. Every exit (bad input, no such process, changed,
// protected, refused, failed, done) writes exactly one audit line, unless
// o.quiet says the call was not a privileged action. The action runs under
// the core's deadline, not the caller's: it is not cut short when the
// caller goes away (a process stopped for a restart must be started
// again), and no transport can make it shorter or longer.
func (s *Service) run(ctx context.Context, c Caller, o op) error {
	if o.deadline <= 0 {
		o.deadline = ActionTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.deadline)
	defer cancel()
	var t *target
	var refused error
	result, ev, err := func() (string, *Event, error) {
		if o.validate != nil {
			if err := o.validate(); err != nil {
				return "", nil, err
			}
		}
		var err error
		if t, err = s.open(o.ref); err != nil {
			return "", nil, err
		}
		if err := s.protected(t, o.name, o.protect); err != nil {
			return "", nil, err
		}
		need := false
		if o.prepare != nil {
			if need, err = o.prepare(ctx, t); err != nil {
				return "", nil, err
			}
		}
		allowed := true
		if err := s.authorize(ctx, c, t, o.polkit, need); err != nil {
			if !o.partial {
				return "", nil, err
			}
			allowed, refused = false, err
		}
		return o.act(ctx, t, allowed)
	}()
	if t != nil {
		defer t.close()
	}
	if o.quiet == nil || !o.quiet(t) {
		switch {
		case err != nil:
			s.audit(c, o, t, "", err)
		case refused != nil:
			s.audit(c, o, t, "partial: "+result, refused)
		default:
			s.audit(c, o, t, result, nil)
		}
	}
	if err == nil && ev != nil {
		s.emit(*ev)
	}
	return err
}
