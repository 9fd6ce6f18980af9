package procs

import (
	"errors"
	"log/slog"
)

// AuditUnit writes the audit line of a unit action (daemon/units) with the
// same writer and keys as the process actions: caller, uid, action, unit,
// arg, result and err.
func (s *Service) AuditUnit(c Caller, action, unit, detail string, err error) {
	args := []any{"caller", c.Name, "uid", c.UID, "action", action, "unit", unit, "arg", detail}
	msg, level, res := "action done", slog.LevelInfo, "ok"
	if err != nil {
		msg, level, res = "action refused or failed", slog.LevelWarn, unitResult(err)
		args = append(args, "result", res, "err", err.Error())
	} else {
		args = append(args, "result", res)
	}
	s.record(level, msg, args...)
	if s.onAction != nil {
		s.onAction(action, res) // "unit-restart", …
	}
}

// unitResult names a unit error's kind in the audit line.
func unitResult(err error) string {
	var c interface{ AuditCode() string }
	if errors.As(err, &c) {
		return c.AuditCode()
	}
	return KindOf(err).String()
}
