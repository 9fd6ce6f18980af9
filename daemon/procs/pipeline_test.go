package procs

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// units is a UnitManager for the exits that need systemd to answer in a
// given way (the real one is exercised by the booted-container e2e).
type units struct {
	unit    string
	mainPID int
	err     error
}

func (u units) UnitOfPID(context.Context, int) (string, int, error) { return u.unit, u.mainPID, u.err }
func (u units) RestartUnit(context.Context, string) (int, error) {
	return 0, errors.New("restart refused by the fake")
}
func (u units) StartTransient(context.Context, RelaunchSpec) (string, int, error) {
	return "", 0, errors.New("not used")
}

// auditLines returns the action lines (not the relaunch record) of the
// audit file written since offset, and the new offset.
func auditLines(t *testing.T, path string, off int) ([]map[string]any, int) {
	t.Helper()
	recs, end := testproc.JSONLines(t, path, off)
	var out []map[string]any
	for _, rec := range recs {
		if rec["msg"] == "action done" || rec["msg"] == "action refused or failed" {
			out = append(out, rec)
		}
	}
	return out, end
}

// deadPID is the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestEveryExitAuditedOnce: each exit of each action (done, bad input, no
// such process, changed, protected, refused, not restartable, failed)
// writes exactly one audit line with its result; reading what the caller
// may read anyway writes none.
func TestEveryExitAuditedOnce(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	s := newCore(t, Options{AuditFile: path, RestartTimeout: time.Second})
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	victim := testproc.Sleeper(t)
	own := exec.Command("sleep", "3600")
	own.Dir = "/"
	own.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	mine := testproc.Start(t, own)
	nobody := Caller{UID: 65534, GIDs: []uint32{65534}, Name: "nobody"}
	failing := &authorizer{err: errors.New("polkit is down")}
	dead := deadPID(t)
	stale := Target{PID: victim.PID, CreateTime: 12345}
	withUnits := func(u units) *Service {
		s2 := newCore(t, Options{AuditFile: path, Units: u})
		t.Cleanup(func() { s2.Close() })
		return s2
	}
	notMain := withUnits(units{unit: "x.service", mainPID: 1})
	broken := withUnits(units{err: errors.New("systemd is gone")})

	sig := func(s *Service, c Caller, ref Target, name string) func() error {
		return func() error { _, err := s.Signal(ctx, c, ref, name); return err }
	}
	ren := func(s *Service, c Caller, ref Target, n int) func() error {
		return func() error { return s.Renice(ctx, c, ref, n) }
	}
	rst := func(s *Service, c Caller, ref Target) func() error {
		return func() error {
			res, err := s.Restart(ctx, c, ref)
			if err == nil {
				testproc.KillPID(res.NewPID)
			}
			return err
		}
	}
	get := func(c Caller, ref Target) func() error {
		return func() error { _, err := s.Get(ctx, c, ref); return err }
	}
	cases := []struct {
		name   string
		call   func() error
		action string
		result string // "" = no audit line
	}{
		{"signal done", sig(s, root, Target{PID: victim.PID}, "CONT"), "signal", "ok"},
		{"signal unknown name", sig(s, root, Target{PID: victim.PID}, "NOPE"), "signal", "InvalidArgument"},
		{"signal bad pid", sig(s, root, Target{PID: 0}, "CONT"), "signal", "InvalidArgument"},
		{"signal bad create_time", sig(s, root, Target{PID: victim.PID, CreateTime: -1}, "CONT"), "signal", "InvalidArgument"},
		{"signal no such process", sig(s, root, Target{PID: dead}, "CONT"), "signal", "NoSuchProcess"},
		{"signal changed", sig(s, root, stale, "CONT"), "signal", "ProcessChanged"},
		{"signal protected", sig(s, root, Target{PID: 1}, "CONT"), "signal", "AccessDenied"},
		{"signal refused", sig(s, nobody, Target{PID: victim.PID}, "CONT"), "signal", "AccessDenied"},
		{"signal authority failed", sig(s, Caller{UID: 65534, Authorize: failing.fn}, Target{PID: victim.PID}, "CONT"), "signal", "AccessDenied"},
		{"renice done", ren(s, root, Target{PID: victim.PID}, 3), "renice", "ok"},
		{"renice bad nice", ren(s, root, Target{PID: victim.PID}, 20), "renice", "InvalidArgument"},
		{"renice no such process", ren(s, root, Target{PID: dead}, 3), "renice", "NoSuchProcess"},
		{"renice changed", ren(s, root, stale, 3), "renice", "ProcessChanged"},
		{"renice kernel thread", ren(s, root, Target{PID: 2}, 3), "renice", "AccessDenied"},
		{"renice refused", ren(s, nobody, Target{PID: mine.PID}, -5), "renice", "AccessDenied"},
		{"restart no such process", rst(s, root, Target{PID: dead}), "restart", "NoSuchProcess"},
		{"restart changed", rst(s, root, stale), "restart", "ProcessChanged"},
		{"restart protected", rst(s, root, Target{PID: 1}), "restart", "AccessDenied"},
		{"restart refused", rst(s, nobody, Target{PID: victim.PID}), "restart", "AccessDenied"},
		{"restart not the main process", rst(notMain, root, Target{PID: victim.PID}), "restart", "NotRestartable"},
		{"restart systemd failed", rst(broken, root, Target{PID: victim.PID}), "restart", "Failed"},
		{"restart done", rst(s, root, Target{PID: mine.PID}), "restart", "ok"},
		{"inspect another's process refused", get(nobody, Target{PID: victim.PID}), "inspect", "AccessDenied"},
		{"inspect by root", get(root, Target{PID: victim.PID}), "inspect", ""},
		{"inspect no such process", get(nobody, Target{PID: dead}), "inspect", ""},
	}
	_, off := auditLines(t, path, 0)
	for _, tc := range cases {
		_ = tc.call()
		var got []map[string]any
		got, off = auditLines(t, path, off)
		if tc.result == "" {
			if len(got) != 0 {
				t.Errorf("%s: %d audit lines, want none: %v", tc.name, len(got), got)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: %d audit lines, want exactly 1: %v", tc.name, len(got), got)
			continue
		}
		if got[0]["action"] != tc.action || got[0]["result"] != tc.result {
			t.Errorf("%s: audit line %v, want action %s result %s", tc.name, got[0], tc.action, tc.result)
		}
	}
}

// TestAuditAuthFailures: a transport's summary of refused authentications
// is one audit line with the count, and never a token.
func TestAuditAuthFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s := newCore(t, Options{AuditFile: path})
	t.Cleanup(func() { s.Close() })
	s.AuditAuthFailures("http", "bad token", "127.0.0.1", 30, time.Minute)
	s.AuditAuthFailures("http", "bad token", "127.0.0.1", 0, time.Minute) // nothing to say
	recs, _ := testproc.JSONLines(t, path, 0)
	if len(recs) != 1 {
		t.Fatalf("%d lines, want 1: %v", len(recs), recs)
	}
	rec := recs[0]
	if rec["action"] != "authenticate" || rec["count"] != float64(30) || rec["result"] != "AccessDenied" || rec["caller"] != "http" {
		t.Errorf("summary line %v", rec)
	}
}
