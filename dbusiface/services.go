package dbusiface

import (
	"context"
	"sync/atomic"

	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/daemon/units"
)

// Error names of the services methods.
const (
	ErrNoSuchUnit = ErrorPrefix + "NoSuchUnit"
	ErrNoSystemd  = ErrorPrefix + "NoSystemd"
)

// Services is the read-only part of the services view that D-Bus
// publishes. Unit actions stay on systemd's own org.freedesktop.systemd1,
// whose polkit rules decide: they are not proxied.
type Services interface {
	List(ctx context.Context, o units.ListOptions) ([]units.Unit, error)
	Journal(ctx context.Context, q units.JournalQuery) ([]units.Entry, error)
}

var _ Services = (*units.Service)(nil)

type servicesHolder struct{ v atomic.Pointer[Services] }

// SetUnits publishes ListServices and GetServiceJournal over u; without it
// they answer NoSystemd.
func (s *Server) SetUnits(u Services) {
	s.units.v.Store(&u)
}

func (s *Server) unitsOrNil() Services {
	if p := s.units.v.Load(); p != nil {
		return *p
	}
	return nil
}

// toDBusUnitError is the one mapping from services errors to D-Bus errors.
func toDBusUnitError(err error) *dbus.Error {
	msg := clean(err.Error())
	name := ErrFailed
	switch units.KindOf(err) {
	case units.KindInvalidArgument:
		name = ErrInvalidArgument
	case units.KindNoSuchUnit:
		name = ErrNoSuchUnit
	case units.KindNoSystemd:
		name = ErrNoSystemd
	case units.KindAccessDenied:
		name = ErrAccessDenied
	}
	return &dbus.Error{Name: name, Body: []any{msg}}
}

// unitDict is one ListServices entry: the HTTP JSON keys. Unknown memory,
// CPU and task figures are -1 (D-Bus has no null).
func unitDict(u *units.Unit) Dict {
	opt := func(p *uint64) int64 {
		if p == nil || *p > 1<<62 {
			return -1
		}
		return int64(*p)
	}
	pids := make([]uint32, 0, len(u.PIDs))
	for _, p := range u.PIDs {
		pids = append(pids, u32(p))
	}
	ports := make([]Dict, 0, len(u.Ports))
	for i := range u.Ports {
		d := portDict(&u.Ports[i].Port)
		d["pid"] = v(u32(u.Ports[i].PID))
		ports = append(ports, d)
	}
	return Dict{
		"name":            v(clean(u.Name)),
		"type":            v(clean(u.Type)),
		"description":     v(clean(u.Description)),
		"load":            v(clean(u.Load)),
		"active":          v(clean(u.Active)),
		"sub":             v(clean(u.Sub)),
		"unit_file_state": v(clean(u.UnitFileState)),
		"main_pid":        v(u32(u.MainPID)),
		"since":           v(clean(u.Since)),
		"result":          v(clean(u.Result)),
		"restarts":        v(u.Restarts),
		"memory_current":  v(opt(u.MemoryCurrent)),
		"cpu_usage_nsec":  v(opt(u.CPUUsageNSec)),
		"tasks":           v(opt(u.Tasks)),
		"control_group":   v(clean(u.ControlGroup)),
		"pids":            v(pids),
		"ports":           v(ports),
	}
}

func entryDict(e *units.Entry) Dict {
	return Dict{
		"time":       v(clean(e.Time)),
		"usec":       v(e.Usec),
		"priority":   v(i32(e.Priority)),
		"identifier": v(clean(e.Identifier)),
		"pid":        v(u32(e.PID)),
		"unit":       v(clean(e.Unit)),
		"message":    v(clean(e.Message)),
		"truncated":  v(e.Truncated),
		"binary":     v(e.Binary),
		"cursor":     v(clean(e.Cursor)),
	}
}

// ListServices returns the units matching pattern (a glob; "" for every
// service; a pattern with a type suffix such as "*.timer" selects that
// type) and state (load, active or sub state; "" for any), failed first.
// Any caller may list, as with `systemctl list-units`.
func (m *manager) ListServices(sender dbus.Sender, msg dbus.Message, pattern, state string) (out []Dict, derr *dbus.Error) {
	derr = m.call(sender, msg, m.s.callTimeout, func(ctx context.Context, c procs.Caller) *dbus.Error {
		u := m.s.unitsOrNil()
		if u == nil {
			return toDBusUnitError(units.ErrNoSystemd)
		}
		list, err := u.List(ctx, units.ListOptions{Pattern: pattern, State: state})
		if err != nil {
			return toDBusUnitError(err)
		}
		out = make([]Dict, 0, len(list))
		for i := range list {
			out = append(out, unitDict(&list[i]))
		}
		return nil
	})
	if derr != nil {
		return nil, derr
	}
	return out, nil
}

// GetServiceJournal returns the last lines (1..1000; 0 for 100) journal
// entries of unit, oldest first. The journal holds every service's logs:
// root may read it, other callers need org.roy.procwatch.inspect from polkit
// (as for other users' process details).
func (m *manager) GetServiceJournal(sender dbus.Sender, msg dbus.Message, unit string, lines uint32) (out []Dict, derr *dbus.Error) {
	derr = m.call(sender, msg, m.s.callTimeout, func(ctx context.Context, c procs.Caller) *dbus.Error {
		u := m.s.unitsOrNil()
		if u == nil {
			return toDBusUnitError(units.ErrNoSystemd)
		}
		// Bad input is refused before polkit is asked (the core's rules).
		q := units.JournalQuery{Unit: unit, Lines: int(lines)}
		if err := q.Validate(); err != nil {
			return toDBusUnitError(err)
		}
		if c.UID != 0 {
			ok, err := false, error(nil)
			if c.Authorize != nil {
				ok, err = c.Authorize(ctx, procs.ActionInspect, 0)
			}
			if err != nil {
				return toDBusError(err)
			}
			if !ok {
				return &dbus.Error{Name: ErrAccessDenied, Body: []any{"access denied: reading a service's journal needs root or the org.roy.procwatch.inspect authorization"}}
			}
		}
		entries, err := u.Journal(ctx, q)
		if err != nil {
			return toDBusUnitError(err)
		}
		out = make([]Dict, 0, len(entries))
		for i := range entries {
			out = append(out, entryDict(&entries[i]))
		}
		return nil
	})
	if derr != nil {
		return nil, derr
	}
	return out, nil
}
