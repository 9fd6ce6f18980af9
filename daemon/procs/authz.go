package procs

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// protected refuses actions on PID 1, the daemon itself and kernel threads.
func (s *Service) protected(t *target, what string) error {
	switch {
	case t.pid == 1:
		return errf(KindAccessDenied, "refusing to %s PID 1 (init): protected process", what)
	case t.pid == s.selfPID:
		return errf(KindAccessDenied, "refusing to %s the roy-procwatch daemon itself: protected process", what)
	case t.kthread():
		return errf(KindAccessDenied, "refusing to %s kernel thread %d: protected process", what, t.pid)
	}
	return nil
}

// authorityDaemons are the executables whose processes decide other
// callers' authorization.
var authorityDaemons = []string{"dbus-daemon", "dbus-broker", "dbus-broker-launch", "polkitd"}

// authorityDaemon says whether exe is a message bus or polkit daemon.
func authorityDaemon(exe string) bool {
	return exe != "" && slices.Contains(authorityDaemons, filepath.Base(strings.TrimSuffix(exe, " (deleted)")))
}

// owns applies the kill(2)-like rule, made stricter: the caller owns the
// process only when its real, effective and saved uids all equal the
// caller's (a setuid program the caller started is not the caller's).
func owns(c Caller, t *target) bool {
	return t.uids[0] == c.UID && t.uids[1] == c.UID && t.uids[2] == c.UID
}

// authorize decides whether caller may perform action on t. needAuthority
// forces the authority check even for an owner (lowering nice, restarting a
// unit). Any error or unknown answer from the authority means deny.
func (s *Service) authorize(ctx context.Context, c Caller, t *target, action string, needAuthority bool) error {
	if c.Privileged || c.UID == 0 {
		return nil
	}
	if owns(c, t) && !needAuthority {
		return nil
	}
	if !owns(c, t) && authorityDaemon(t.exe) {
		// The bus and polkit answer for everyone's authorization: a polkit
		// grant must not be enough to stop them (SECURITY.md A8).
		return errf(KindAccessDenied, "refusing: process %d (%s) is the system bus or polkit, protected process: only root may act on it", t.pid, filepath.Base(t.exe))
	}
	if c.Authorize != nil {
		ok, err := c.Authorize(ctx, action, t.pid)
		if err != nil {
			s.log.Warn("authorization check failed", "caller", c.Name, "uid", c.UID, "action", action, "pid", t.pid, "err", err)
			return &Error{Kind: KindAccessDenied, Msg: fmt.Sprintf("not authorized: the authorization check for %s failed", action), Err: err}
		}
		if ok {
			return nil
		}
	}
	if owns(c, t) {
		return errf(KindAccessDenied, "not authorized: this needs root or the polkit action %s", action)
	}
	return errf(KindAccessDenied, "not authorized: process %d belongs to uid %d; acting on it needs root or the polkit action %s", t.pid, t.uids[0], action)
}
