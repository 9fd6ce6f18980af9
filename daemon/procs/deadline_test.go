package procs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// ctxSeen records the context an action ran with.
type ctxSeen struct {
	deadline time.Time
	ok       bool
	err      error
}

func see(ctx context.Context) ctxSeen {
	d, ok := ctx.Deadline()
	return ctxSeen{d, ok, ctx.Err()}
}

// deadlineUnits is a UnitManager that says the target is a service's main
// process and records the context of RestartUnit.
type deadlineUnits struct {
	pid  int
	seen chan ctxSeen
}

func (u deadlineUnits) UnitOfPID(context.Context, int) (string, int, error) {
	return "deadline-test.service", u.pid, nil
}
func (u deadlineUnits) RestartUnit(ctx context.Context, _ string) (int, error) {
	u.seen <- see(ctx)
	return 0, errors.New("the fake restarts nothing")
}
func (u deadlineUnits) StartTransient(context.Context, RelaunchSpec) (string, int, error) {
	return "", 0, errors.New("not used")
}

// TestActionDeadlineIsTheCores: an action runs under the core's deadline
// whatever context the transport passes, cancelled or with a deadline of
// its own: ActionTimeout for a signal (seen by the polkit check), the
// restart deadline for a restart (seen by systemd's job). So no transport
// makes an action shorter or longer than another.
func TestActionDeadlineIsTheCores(t *testing.T) {
	child := testproc.Sleeper(t)
	seen := make(chan ctxSeen, 1)
	s := newCore(t, Options{Units: deadlineUnits{pid: child.PID, seen: seen}, RestartTimeout: 2 * time.Second})
	t.Cleanup(func() { s.Close() })

	// What transports might pass: a caller already gone, and a deadline
	// shorter than the action's.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	short, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	time.Sleep(2 * time.Millisecond)

	check := func(what string, got ctxSeen, start time.Time, want time.Duration) {
		t.Helper()
		if !got.ok || got.err != nil {
			t.Fatalf("%s: ran with deadline %v (set %v), err %v: want the core's live deadline", what, got.deadline, got.ok, got.err)
		}
		if d := got.deadline.Sub(start); d < want-5*time.Second || d > want+time.Second {
			t.Errorf("%s: deadline %v after the call, want the core's %v", what, d, want)
		}
	}
	for name, ctx := range map[string]context.Context{"cancelled": gone, "short deadline": short} {
		start := time.Now()
		other := Caller{UID: 65534, Name: "test", Authorize: func(ctx context.Context, action string, pid int) (bool, error) {
			seen <- see(ctx)
			return false, nil
		}}
		if _, err := s.Signal(ctx, other, Target{PID: child.PID}, "CONT"); KindOf(err) != KindAccessDenied {
			t.Fatalf("signal (%s): %v, want AccessDenied from the refusing authority", name, err)
		}
		check("signal ("+name+")", <-seen, start, ActionTimeout)

		start = time.Now()
		if _, err := s.Restart(ctx, Caller{Privileged: true, Name: "test"}, Target{PID: child.PID}); err == nil {
			t.Fatalf("restart (%s): the fake unit manager restarted nothing, yet no error", name)
		}
		check("restart ("+name+")", <-seen, start, s.restartDeadline())
	}
	if child.Exited(0) {
		t.Fatal("the target was stopped")
	}
}
