package units

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// protectedUnits are the units roy-procwatch and its callers stand on: the
// daemon's own units, the system bus and the journal, and the root slice.
// Globs as in path.Match.
var protectedUnits = []string{
	"roy-procwatch.socket", "roy-procwatch.service",
	"dbus.service", "dbus.socket", "dbus-broker.service",
	"systemd-journald*", "-.slice", "init.scope",
}

// isProtected says whether name is protected by itself, and why.
func (s *Service) isProtected(name, self string) (string, bool) {
	if name == self && self != "" {
		return "it runs roy-procwatch itself", true
	}
	for _, p := range protectedUnits {
		if ok, _ := path.Match(p, name); ok {
			switch {
			case strings.HasPrefix(name, "roy-procwatch"):
				return "roy-procwatch is served by it", true
			case strings.HasPrefix(name, "dbus"):
				return "the system bus runs on it", true
			case strings.HasPrefix(name, "systemd-journald"):
				return "the journal runs on it", true
			default:
				return "every unit runs under it", true
			}
		}
	}
	return "", false
}

// stopPropagation are the reverse dependencies through which stopping a
// unit stops others: Requires=, BindsTo= and PartOf= (and a slice's
// members, which Require it).
var stopPropagation = []string{"RequiredBy", "BoundBy", "ConsistsOf"}

// maxClosure bounds the dependency walk.
const maxClosure = 4096

// refusal returns why stopping (or restarting) name would stop a
// protected unit, following the dependencies systemd would follow.
func (s *Service) refusal(ctx context.Context, c systemdBus, name, action string) error {
	self := s.selfUnit(ctx, c)
	if why, ok := s.isProtected(name, self); ok {
		return errf(KindRefused, "refusing to %s %s: %s", action, name, why)
	}
	if action == "disable" {
		return nil
	}
	// Breadth-first over the units that a stop of name would stop.
	from := map[string]string{name: ""}
	queue := []string{name}
	for len(queue) > 0 && len(from) < maxClosure {
		u := queue[0]
		queue = queue[1:]
		p, err := c.GetUnitPropertiesContext(ctx, u)
		if err != nil {
			continue
		}
		for _, key := range stopPropagation {
			deps, _ := p[key].([]string)
			for _, d := range deps {
				if _, seen := from[d]; seen {
					continue
				}
				from[d] = u
				if why, ok := s.isProtected(d, self); ok {
					chain := []string{d}
					for x := u; x != ""; x = from[x] {
						chain = append(chain, x)
					}
					slices.Reverse(chain)
					return errf(KindRefused, "refusing to %s %s: it would also stop %s (%s), through %s",
						action, name, d, why, strings.Join(chain, " → "))
				}
				queue = append(queue, d)
			}
		}
	}
	return nil
}

// selfUnit is the unit the daemon runs in ("" outside one).
func (s *Service) selfUnit(ctx context.Context, c systemdBus) string {
	u, err := c.GetUnitNameByPID(ctx, uint32(s.selfPID))
	if err != nil {
		return ""
	}
	return u
}

// Act runs action on unit and waits for its job: start, stop, restart,
// reload, reset-failed, enable or disable. Every call, allowed or refused,
// is audited once.
func (s *Service) Act(ctx context.Context, caller procs.Caller, unit, action string) (res ActionResult, err error) {
	detail := ""
	defer func() {
		if err == nil && !res.OK {
			detail = "job_result=" + res.JobResult
		} else if err == nil {
			detail = "job_result=" + res.JobResult + " active=" + res.Active
		}
		if s.audit != nil {
			s.audit.AuditUnit(caller, "unit-"+action, unit, detail, err)
		}
	}()
	if !slices.Contains(Actions, action) {
		return res, errf(KindInvalidArgument, "invalid action %q: use %s", action, strings.Join(Actions, ", "))
	}
	if !caller.Privileged && caller.UID != 0 {
		return res, errf(KindAccessDenied, "unit actions through roy-procwatch are for the admin token; use systemctl (systemd's own authorization)")
	}
	c, err := s.bus(ctx)
	if err != nil {
		return res, err
	}
	if _, _, err := s.lookup(ctx, c, unit); err != nil {
		return res, err
	}
	switch action {
	case "stop", "restart", "disable":
		if err := s.refusal(ctx, c, unit, action); err != nil {
			return res, err
		}
	}
	res = ActionResult{Unit: unit, Action: action}
	ch := make(chan string, 1)
	var jobErr error
	switch action {
	case "start":
		_, jobErr = c.StartUnitContext(ctx, unit, "replace", ch)
	case "stop":
		_, jobErr = c.StopUnitContext(ctx, unit, "replace", ch)
	case "restart":
		_, jobErr = c.RestartUnitContext(ctx, unit, "replace", ch)
	case "reload":
		_, jobErr = c.ReloadUnitContext(ctx, unit, "replace", ch)
	case "reset-failed":
		jobErr = c.ResetFailedUnitContext(ctx, unit)
		ch <- "done"
	case "enable":
		_, _, jobErr = c.EnableUnitFilesContext(ctx, []string{unit}, false, false)
		if jobErr == nil {
			jobErr = c.ReloadContext(ctx)
		}
		ch <- "done"
	case "disable":
		_, jobErr = c.DisableUnitFilesContext(ctx, []string{unit}, false)
		if jobErr == nil {
			jobErr = c.ReloadContext(ctx)
		}
		ch <- "done"
	}
	if jobErr != nil {
		return ActionResult{}, busErr(unit, fmt.Sprintf("cannot %s %s", action, unit), jobErr)
	}
	select {
	case res.JobResult = <-ch:
	case <-ctx.Done():
		return ActionResult{}, ctx.Err()
	}
	res.OK = res.JobResult == "done"
	u, _, err := s.lookup(ctx, c, unit)
	if err != nil {
		return res, err
	}
	res.Active, res.Sub, res.UnitFileState, res.MainPID = u.Active, u.Sub, u.UnitFileState, u.MainPID
	return res, nil
}
