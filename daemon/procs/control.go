package procs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// target is a process pinned by a pidfd, with what /proc said about it
// while the pidfd was held and the process verified alive afterwards.
type target struct {
	pid    int
	fd     int
	st     statFields
	uids   [3]uint32 // real, effective, saved
	gids   [3]uint32
	groups []uint32 // supplementary groups
	exe    string
	ctime  float64
	// dumpable is false when the kernel refuses ptrace-style access by
	// the process's own uid (a setgid program, prctl(PR_SET_DUMPABLE, 0)).
	dumpable bool
}

func (t *target) close() { unix.Close(t.fd) }

// kthread says whether the target is a kernel thread.
func (t *target) kthread() bool { return t.st.flags&pfKthread != 0 || t.pid == 2 || t.st.ppid == 2 }

// open pins the process behind ref: pidfd_open, read /proc, then verify the
// pidfd still names a live process (systemd's pidref_verify order), so the
// data read belongs to the process the fd pins. A CreateTime in ref that
// differs is ProcessChanged.
func (s *Service) open(ref Target) (*target, error) {
	if err := s.checkPID(ref.PID); err != nil {
		return nil, err
	}
	if ref.CreateTime < 0 || math.IsNaN(ref.CreateTime) || math.IsInf(ref.CreateTime, 0) {
		return nil, errf(KindInvalidArgument, "invalid create_time")
	}
	fd, err := unix.PidfdOpen(ref.PID, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ESRCH):
			return nil, noSuchProcess(ref.PID)
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			// No pidfds: refuse rather than fall back to a bare kill(pid).
			return nil, &Error{Kind: KindFailed, Msg: "cannot act safely: pidfd_open is not available", Err: err}
		}
		return nil, &Error{Kind: KindFailed, Msg: fmt.Sprintf("cannot open process %d", ref.PID), Err: err}
	}
	t := &target{pid: ref.PID, fd: fd}
	dir := s.inv.procRoot + "/" + strconv.Itoa(ref.PID)
	b, err := readCapped(dir+"/stat", nil, statCap)
	if err == nil {
		t.st, err = parseStat(b)
	}
	var status []byte
	if err == nil {
		status, err = readCapped(dir+"/status", nil, 16<<10)
	}
	if err != nil {
		t.close()
		return nil, noSuchProcess(ref.PID)
	}
	var ok1, ok2 bool
	t.uids, ok1 = idsFromStatus(status, "Uid")
	t.gids, ok2 = idsFromStatus(status, "Gid")
	t.groups = groupsFromStatus(status)
	if !ok1 || !ok2 {
		t.close()
		return nil, noSuchProcess(ref.PID)
	}
	if l, err := os.Readlink(dir + "/exe"); err == nil {
		t.exe = l
	}
	t.dumpable = dumpable(dir, t.uids, t.gids)
	t.ctime = createTime(s.inv.boot, t.st.startTicks)
	// Verify: the pinned process is still alive, so what we read is its.
	if err := unix.PidfdSendSignal(fd, 0, nil, 0); err != nil && !errors.Is(err, unix.EPERM) {
		t.close()
		return nil, noSuchProcess(ref.PID)
	}
	if ref.CreateTime != 0 && math.Abs(ref.CreateTime-t.ctime) > 0.006 {
		t.close()
		return nil, errf(KindProcessChanged, "process %d changed: it was started at %.2f, not %.2f (the PID was reused); refresh the list", ref.PID, t.ctime, ref.CreateTime)
	}
	return t, nil
}

// dumpable reads the kernel's verdict from the owner of /proc/PID/stat:
// the effective uid and gid of a dumpable process, root:root for one that
// is not (task_dump_owner; the /proc/PID directory itself keeps the ids). A process whose effective ids are root
// reads as dumpable; no non-root caller owns it anyway.
func dumpable(dir string, uids, gids [3]uint32) bool {
	var st unix.Stat_t
	if err := unix.Stat(dir+"/stat", &st); err != nil {
		return false
	}
	if st.Uid == 0 && st.Gid == 0 {
		return uids[1] == 0 && gids[1] == 0
	}
	return true
}

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

// sysErr maps an errno from acting on t to a core error.
func sysErr(err error, pid int, what string) error {
	switch {
	case errors.Is(err, unix.ESRCH):
		return noSuchProcess(pid)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &Error{Kind: KindAccessDenied, Msg: fmt.Sprintf("access denied: the daemon (uid %d) may not %s process %d", os.Geteuid(), what, pid), Err: err}
	}
	return &Error{Kind: KindFailed, Msg: fmt.Sprintf("cannot %s process %d: %v", what, pid, err), Err: err}
}

// Signal sends the named signal to the process. The name is checked against
// the allowed set (with or without SIG, any case); the canonical name is
// returned.
func (s *Service) Signal(ctx context.Context, c Caller, ref Target, name string) (string, error) {
	canon, sig, err := s.signals.Parse(name)
	if err != nil {
		return "", err
	}
	t, err := s.open(ref)
	if err != nil {
		return "", err
	}
	defer t.close()
	if err := s.protected(t, "signal"); err != nil {
		s.audit(c, "signal", t, canon, err)
		return "", err
	}
	if err := s.authorize(ctx, c, t, ActionSignal, false); err != nil {
		s.audit(c, "signal", t, canon, err)
		return "", err
	}
	// The pidfd guarantees the signal reaches the process we checked.
	if err := unix.PidfdSendSignal(t.fd, sig, nil, 0); err != nil {
		err = sysErr(err, t.pid, "signal")
		s.audit(c, "signal", t, canon, err)
		return "", err
	}
	s.audit(c, "signal", t, canon, nil)
	s.emit(Event{Kind: EventSignalled, PID: t.pid, Signal: canon})
	return canon, nil
}

// Renice sets the nice value of every thread of the process. Lowering it
// below the current value needs root or the renice authority, as
// setpriority(2) requires for unprivileged users.
func (s *Service) Renice(ctx context.Context, c Caller, ref Target, nice int) error {
	if nice < -20 || nice > 19 {
		return errf(KindInvalidArgument, "invalid nice %d: must be between -20 and 19", nice)
	}
	t, err := s.open(ref)
	if err != nil {
		return err
	}
	defer t.close()
	detail := strconv.Itoa(nice)
	if t.kthread() {
		err := errf(KindAccessDenied, "refusing to renice kernel thread %d: protected process", t.pid)
		s.audit(c, "renice", t, detail, err)
		return err
	}
	if err := s.authorize(ctx, c, t, ActionRenice, nice < t.st.nice); err != nil {
		s.audit(c, "renice", t, detail, err)
		return err
	}
	// setpriority takes a TID, not a pidfd: re-verify right before and
	// after, so a PID reused in between is reported, not silently hit.
	if err := unix.PidfdSendSignal(t.fd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
		return noSuchProcess(t.pid)
	}
	// Threads started while we go (cloned from one not reniced yet) keep
	// the old value: scan again until a pass finds no thread we have not
	// set. Threads created after that inherit the new value.
	var firstErr error
	done := map[int]bool{}
	for pass := 0; pass < 50; pass++ {
		fresh := 0
		for _, tid := range s.threads(t.pid) {
			if done[tid] {
				continue
			}
			done[tid] = true
			fresh++
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && !errors.Is(err, unix.ESRCH) && firstErr == nil {
				firstErr = err
			}
		}
		if fresh == 0 || firstErr != nil {
			break
		}
	}
	if firstErr != nil {
		err := sysErr(firstErr, t.pid, "renice")
		s.audit(c, "renice", t, detail, err)
		return err
	}
	if err := unix.PidfdSendSignal(t.fd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
		return noSuchProcess(t.pid)
	}
	s.audit(c, "renice", t, detail, nil)
	s.emit(Event{Kind: EventReniced, PID: t.pid, Nice: nice})
	return nil
}

// threads lists the TIDs of pid (the PID itself when the list is unreadable).
func (s *Service) threads(pid int) []int {
	d, err := os.Open(s.inv.procRoot + "/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return []int{pid}
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	if len(tids) == 0 {
		return []int{pid}
	}
	return tids
}

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
