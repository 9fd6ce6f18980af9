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
	msg, level := "action done", slog.LevelInfo
	if err != nil {
		msg, level = "action refused or failed", slog.LevelWarn
		args = append(args, "result", unitResult(err), "err", err.Error())
	} else {
		args = append(args, "result", "ok")
	}
	s.record(level, msg, args...)
}

// unitResult names a unit error's kind in the audit line.
func unitResult(err error) string {
	var c interface{ AuditCode() string }
	if errors.As(err, &c) {
		return c.AuditCode()
	}
	return KindOf(err).String()
}
