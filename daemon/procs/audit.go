package procs

import (
	"context"
	"log/slog"
	"math"
)

// audit writes the one line of an action (from run only), allowed or not.
// t is nil when the target could not be pinned. It never logs the token
// or the environment.
func (s *Service) audit(c Caller, o op, t *target, result string, err error) {
	pid, ctime, exe := o.ref.PID, o.ref.CreateTime, ""
	if t != nil {
		pid, ctime, exe = t.pid, t.ctime, t.exe
	}
	if math.IsNaN(ctime) || math.IsInf(ctime, 0) {
		ctime = -1 // JSON has no NaN: the line must still be written
	}
	args := []any{"caller", c.Name, "uid", c.UID, "action", o.name, "pid", pid,
		"start_time", ctime, "exe", exe, "arg", o.arg}
	if result != "" {
		args = append(args, "outcome", result)
	}
	msg, level, res := "action done", slog.LevelInfo, "ok"
	if err != nil {
		msg, level, res = "action refused or failed", slog.LevelWarn, KindOf(err).String()
		args = append(args, "result", res, "err", err.Error())
	} else {
		args = append(args, "result", res)
	}
	s.record(level, msg, args...)
	if s.onAction != nil {
		s.onAction(o.name, res)
	}
}

// record writes to the log and, when there is one, the audit file.
func (s *Service) record(level slog.Level, msg string, args ...any) {
	s.log.Log(context.Background(), level, msg, args...)
	if s.auditLog != nil {
		s.auditLog.Log(context.Background(), level, msg, args...)
	}
}
