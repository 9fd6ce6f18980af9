package procs

import (
	"context"
	"log/slog"
	"os"
)

// audit logs one structured line per action, allowed or not. It never
// logs the token or the environment.
func (s *Service) audit(c Caller, action string, t *target, detail string, err error) {
	args := []any{"caller", c.Name, "uid", c.UID, "action", action, "pid", t.pid,
		"start_time", t.ctime, "exe", t.exe, "arg", detail}
	msg, level := "action done", slog.LevelInfo
	if err != nil {
		msg, level = "action refused or failed", slog.LevelWarn
		args = append(args, "result", KindOf(err).String(), "err", err.Error())
	} else {
		args = append(args, "result", "ok")
	}
	s.record(level, msg, args...)
}

// record writes to the log and, when there is one, the audit file.
func (s *Service) record(level slog.Level, msg string, args ...any) {
	s.log.Log(context.Background(), level, msg, args...)
	if s.auditLog != nil {
		s.auditLog.Log(context.Background(), level, msg, args...)
	}
}

// syncWriter makes every audit line durable before the action returns.
type syncWriter struct{ f *os.File }

func (w syncWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err == nil {
		err = w.f.Sync()
	}
	return n, err
}
