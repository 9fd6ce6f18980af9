package procs

import (
	"context"
	"fmt"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// root says whether the caller acts as root: uid 0, or a transport that
// authenticated it as root (the HTTP token). The only place this is asked.
func (c Caller) root() bool { return c.Privileged || c.UID == 0 }

// protectedReason says why signals and restarts are refused on a process
// whoever asks (renice too, for a kernel thread), or "". The list carries
// it ("protected"), so that a UI does not offer what would be refused;
// protected below enforces it.
func protectedReason(pid int, kthread bool, self int) string {
	switch {
	case kthread:
		return "kernel thread"
	case pid == 1:
		return "PID 1 (init)"
	case pid == self:
		return "the roy-procwatch daemon itself"
	}
	return ""
}

// protected refuses, whoever asks, actions on PID 1, the daemon itself and
// kernel threads (as far as level says).
func (s *Service) protected(t *target, what string, level protection) error {
	kt := t.kthread()
	if level == protectNone || (level == protectKernel && !kt) {
		return nil
	}
	if why := protectedReason(t.pid, kt, s.selfPID); why != "" {
		return errf(KindAccessDenied, "refusing to %s %s (PID %d): protected process", what, why, t.pid)
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

// mayRead applies the kernel's rule for reading another process's environ,
// fds, cwd and maps (ptrace_may_access in read mode): the caller owns it
// (uids), its real, effective and saved gids are all among the caller's
// groups, and it is dumpable.
func (s *Service) mayRead(c Caller, t *target) bool {
	if !owns(c, t) || !t.dumpable {
		return false
	}
	groups := s.callerGroups(c)
	for _, g := range t.gids {
		if !slices.Contains(groups, g) {
			return false
		}
	}
	return true
}

// callerGroups is c.GIDs or, when the transport did not say, the primary
// and supplementary groups of c.UID in the user database.
func (s *Service) callerGroups(c Caller) []uint32 {
	if c.GIDs != nil {
		return c.GIDs
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(c.UID), 10))
	if err != nil {
		return nil
	}
	var out []uint32
	ids, _ := u.GroupIds()
	for _, id := range append([]string{u.Gid}, ids...) {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			out = append(out, uint32(g))
		}
	}
	return out
}

// authorize decides whether caller may perform action on t. needAuthority
// forces the authority check even for an owner (lowering nice, restarting a
// unit). For ActionInspect and ActionRestart, owning follows the kernel's
// read rule (mayRead). Any error or unknown answer from the authority means deny.
func (s *Service) authorize(ctx context.Context, c Caller, t *target, action string, needAuthority bool) error {
	if c.ReadOnly && action != ActionInspect {
		return errf(KindAccessDenied, "not authorized: a read-only caller may not %s", strings.TrimPrefix(action, "org.roy.procwatch."))
	}
	if c.root() {
		return nil
	}
	mine := owns(c, t)
	if action == ActionInspect || action == ActionRestart {
		// A relaunch by the owner must not lend it a group or what the
		// kernel keeps from it (a setgid program that made its gid real,
		// started again with LD_PRELOAD and without secure-exec): the
		// same rule as reading the process.
		mine = s.mayRead(c, t)
	}
	if mine && !needAuthority {
		return nil
	}
	if !owns(c, t) && authorityDaemon(t.exe) {
		// The bus and polkit answer for everyone's authorization: a polkit
		// grant must not be enough to act on them.
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
	switch {
	case mine:
		return errf(KindAccessDenied, "not authorized: this needs root or the polkit action %s", action)
	case owns(c, t):
		doing := map[string]string{ActionInspect: "inspecting", ActionRestart: "restarting"}[action]
		return errf(KindAccessDenied, "not authorized: process %d is not dumpable or runs with a group you do not have (the kernel's rule for reading it); %s it needs root or the polkit action %s", t.pid, doing, action)
	}
	return errf(KindAccessDenied, "not authorized: process %d belongs to uid %d; acting on it needs root or the polkit action %s", t.pid, t.uids[0], action)
}
