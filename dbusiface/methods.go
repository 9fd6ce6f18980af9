package dbusiface

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// manager is the exported org.roy.ProcWatch1.Manager. It is a separate
// type from Server so that godbus exports exactly these methods (godbus
// exports every method whose last result is *dbus.Error). Each method does
// the same four things: identify the caller, decode, one core call, map.
// Keep managerInterface (introspect.go) in step with these signatures.
type manager struct {
	s    *Server
	conn *dbus.Conn
}

// call runs fn for the caller of msg with a bounded context, the caller's
// identity, the in-flight limits and panic recovery (godbus does not
// recover: a panic in a method would take the daemon down). A call it
// refuses itself (over the limits, caller unknown) never reaches the core's
// pipeline, so it is counted into the core's summary audit lines instead;
// every other refusal is the pipeline's, audited there once.
func (m *manager) call(sender dbus.Sender, msg dbus.Message, timeout time.Duration, fn func(ctx context.Context, c procs.Caller) *dbus.Error) (derr *dbus.Error) {
	name := string(sender)
	if !m.s.acquire(name) {
		m.s.svc.CallRefused("dbus", "too many calls in progress on the connection", name)
		return &dbus.Error{Name: errLimitsExceeded, Body: []any{"too many calls in progress; try again later"}}
	}
	defer m.s.release(name)
	if h := m.s.hook.Load(); h != nil && *h != nil {
		if end := (*h)(); end != nil {
			defer end()
		}
	}
	defer func() {
		if r := recover(); r != nil {
			m.s.log.Error("panic in D-Bus method", "sender", name, "panic", r, "stack", string(debug.Stack()))
			derr = &dbus.Error{Name: ErrFailed, Body: []any{"internal error"}}
		}
	}()
	// Not tied to the connection: an action that has begun (a restart
	// between stop and start) must not be cut short by a lost bus.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	uid, groups, err := m.s.callerIdentity(ctx, m.conn, name)
	if err != nil {
		m.s.log.Warn("refusing a call: cannot identify the caller", "sender", name, "err", err)
		m.s.svc.AuthFailed("dbus", "cannot identify the caller", name)
		return &dbus.Error{Name: ErrAccessDenied, Body: []any{"access denied: cannot identify the caller"}}
	}
	if !m.s.acquireUID(uid) {
		m.s.svc.CallRefused("dbus", "too many calls in progress for the user", fmt.Sprintf("%s (uid %d)", name, uid))
		return &dbus.Error{Name: errLimitsExceeded, Body: []any{"too many calls in progress for this user; try again later"}}
	}
	defer m.s.releaseUID(uid)
	interactive := msg.Flags&dbus.FlagAllowInteractiveAuthorization != 0
	c := procs.Caller{
		UID:        uid,
		GIDs:       groups,
		Privileged: false, // uid 0 is recognised by the core itself
		Name:       name,
		Authorize:  m.s.authorizer(m.conn, name, interactive),
	}
	return fn(ctx, c)
}

// ListProcesses returns the inventory, filtered and sorted as the HTTP
// list: query matches PID, name, cmdline or user; sort is
// cpu|mem|pid|name; order is asc|desc ("" for the defaults).
func (m *manager) ListProcesses(sender dbus.Sender, msg dbus.Message, query, sort, order string) (out []Dict, derr *dbus.Error) {
	derr = m.call(sender, msg, m.s.callTimeout, func(ctx context.Context, c procs.Caller) *dbus.Error {
		list, err := m.s.svc.List(ctx, c, procs.ListOptions{Query: query, Sort: sort, Order: order})
		if err != nil {
			return toDBusError(err)
		}
		out = make([]Dict, 0, len(list))
		for i := range list {
			out = append(out, processDict(&list[i]))
		}
		return nil
	})
	if derr != nil {
		return nil, derr
	}
	return out, nil
}

// GetProcess returns the detail of one process.
func (m *manager) GetProcess(sender dbus.Sender, msg dbus.Message, pid uint32) (out Dict, derr *dbus.Error) {
	derr = m.call(sender, msg, m.s.callTimeout, func(ctx context.Context, c procs.Caller) *dbus.Error {
		d, err := m.s.svc.Get(ctx, c, target(pid))
		if err != nil {
			return toDBusError(err)
		}
		out = detailDict(&d)
		return nil
	})
	if derr != nil {
		return nil, derr
	}
	return out, nil
}

// Signal sends a signal (name with or without SIG, any case) to pid.
func (m *manager) Signal(sender dbus.Sender, msg dbus.Message, pid uint32, signal string) *dbus.Error {
	return m.signal(sender, msg, target(pid), signal)
}

// Renice sets the nice value (-20..19) of every thread of pid.
func (m *manager) Renice(sender dbus.Sender, msg dbus.Message, pid uint32, nice int32) *dbus.Error {
	return m.renice(sender, msg, target(pid), nice)
}

// Restart restarts pid (its unit, or a relaunch) and returns the new PID
// and the unit that now runs it ("" when relaunched outside systemd).
func (m *manager) Restart(sender dbus.Sender, msg dbus.Message, pid uint32) (newPID uint32, unit string, derr *dbus.Error) {
	return m.restart(sender, msg, target(pid))
}

// SignalPIDFD is Signal for the process behind a pidfd the caller passes:
// no PID that could be reused in between names the target.
func (m *manager) SignalPIDFD(sender dbus.Sender, msg dbus.Message, fd dbus.UnixFD, signal string) *dbus.Error {
	defer closeFD(fd)
	return m.signal(sender, msg, pidfdTarget(fd), signal)
}

// RenicePIDFD is Renice for the process behind a pidfd.
func (m *manager) RenicePIDFD(sender dbus.Sender, msg dbus.Message, fd dbus.UnixFD, nice int32) *dbus.Error {
	defer closeFD(fd)
	return m.renice(sender, msg, pidfdTarget(fd), nice)
}

// RestartPIDFD is Restart for the process behind a pidfd.
func (m *manager) RestartPIDFD(sender dbus.Sender, msg dbus.Message, fd dbus.UnixFD) (newPID uint32, unit string, derr *dbus.Error) {
	defer closeFD(fd)
	return m.restart(sender, msg, pidfdTarget(fd))
}

// signal, renice and restart are the actions, whichever way the target is
// named (PID or pidfd). Unexported, so godbus does not export them.
func (m *manager) signal(sender dbus.Sender, msg dbus.Message, t procs.Target, signal string) *dbus.Error {
	return m.call(sender, msg, m.s.callTimeout, func(ctx context.Context, c procs.Caller) *dbus.Error {
		_, err := m.s.svc.Signal(ctx, c, t, signal)
		return toDBusError(err)
	})
}

func (m *manager) renice(sender dbus.Sender, msg dbus.Message, t procs.Target, nice int32) *dbus.Error {
	return m.call(sender, msg, m.s.callTimeout, func(ctx context.Context, c procs.Caller) *dbus.Error {
		return toDBusError(m.s.svc.Renice(ctx, c, t, int(nice)))
	})
}

func (m *manager) restart(sender dbus.Sender, msg dbus.Message, t procs.Target) (newPID uint32, unit string, derr *dbus.Error) {
	derr = m.call(sender, msg, m.s.callTimeout, func(ctx context.Context, c procs.Caller) *dbus.Error {
		res, err := m.s.svc.Restart(ctx, c, t)
		if err != nil {
			return toDBusError(err)
		}
		newPID, unit = u32(res.NewPID), clean(res.Unit)
		return nil
	})
	if derr != nil {
		return 0, "", derr
	}
	return newPID, unit, nil
}

// pidfdTarget names the process by the received descriptor; the core
// checks that it is a pidfd. A descriptor that cannot be one (stdio) is
// passed as -1 (not a pidfd: InvalidArgument).
func pidfdTarget(fd dbus.UnixFD) procs.Target {
	if fd <= 2 {
		return procs.Target{PIDFD: -1}
	}
	return procs.Target{PIDFD: int(fd)}
}

// closeFD closes a descriptor received with a call: godbus installs it in
// the daemon and leaves it to the method.
func closeFD(fd dbus.UnixFD) {
	if fd > 2 {
		_ = unix.Close(int(fd))
	}
}

// target turns a D-Bus PID into a core Target. uint32 always fits an int
// on the 64-bit platforms we build for; the core rejects 0 and anything
// above pid_max (4294967295 included) as InvalidArgument.
func target(pid uint32) procs.Target {
	return procs.Target{PID: int(int64(pid))}
}
