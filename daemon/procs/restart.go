package procs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/relaunch"
)

// UnitManager is the part of systemd the core needs. The implementation
// over D-Bus lives in units_systemd.go; tests may fake it.
type UnitManager interface {
	// UnitOfPID returns the unit that holds pid ("" when none) and, when
	// it is a service, its MainPID.
	UnitOfPID(ctx context.Context, pid int) (unit string, mainPID int, err error)
	// RestartUnit restarts a service and waits for the job; it returns the
	// new MainPID.
	RestartUnit(ctx context.Context, unit string) (mainPID int, err error)
	// StartTransient runs spec in a new transient service and returns its
	// name and MainPID.
	StartTransient(ctx context.Context, spec RelaunchSpec) (unit string, mainPID int, err error)
}

// RelaunchSpec is everything needed to start a process again: what was
// recorded of it before it was stopped.
type RelaunchSpec = relaunch.Spec

// Restart restarts the process. A service's main process is restarted by
// systemd (RestartUnit); a process in no service is stopped (TERM, then
// KILL after the restart timeout) and started again with the same exe,
// argv, cwd, environment and credentials, in a transient unit when
// systemd is there, detached (setsid) otherwise.
func (s *Service) Restart(ctx context.Context, c Caller, ref Target) (RestartResult, error) {
	t, err := s.open(ref)
	if err != nil {
		return RestartResult{}, err
	}
	defer t.close()
	if err := s.protected(t, "restart"); err != nil {
		s.audit(c, "restart", t, "", err)
		return RestartResult{}, err
	}
	if t.st.state == 'Z' {
		err := errf(KindNotRestartable, "process %d is a zombie: it has exited and waits for its parent", t.pid)
		s.audit(c, "restart", t, "", err)
		return RestartResult{}, err
	}
	if s.units != nil {
		unit, mainPID, err := s.units.UnitOfPID(ctx, t.pid)
		if err != nil {
			err = &Error{Kind: KindFailed, Msg: fmt.Sprintf("cannot ask systemd which unit holds process %d", t.pid), Err: err}
			s.audit(c, "restart", t, "", err)
			return RestartResult{}, err
		}
		if strings.HasSuffix(unit, ".service") {
			return s.restartUnit(ctx, c, t, unit, mainPID)
		}
	}
	return s.relaunch(ctx, c, t)
}

func (s *Service) restartUnit(ctx context.Context, c Caller, t *target, unit string, mainPID int) (RestartResult, error) {
	if mainPID != t.pid {
		err := &Error{Kind: KindNotRestartable, Unit: unit,
			Msg: fmt.Sprintf("process %d is part of %s (main PID %d), not its main process: restart the unit instead (systemctl restart %s)", t.pid, unit, mainPID, unit)}
		s.audit(c, "restart", t, unit, err)
		return RestartResult{}, err
	}
	// Restarting a service is a system action even when it runs as the
	// caller's uid: it needs root or the restart authority.
	if err := s.authorize(ctx, c, t, ActionRestart, true); err != nil {
		s.audit(c, "restart", t, unit, err)
		return RestartResult{}, err
	}
	newPID, err := s.units.RestartUnit(ctx, unit)
	if err != nil {
		err = &Error{Kind: KindFailed, Msg: fmt.Sprintf("systemd could not restart %s: %v", unit, err), Err: err}
		s.audit(c, "restart", t, unit, err)
		return RestartResult{}, err
	}
	s.audit(c, "restart", t, unit+" new_pid="+strconv.Itoa(newPID), nil)
	res := RestartResult{OldPID: t.pid, NewPID: newPID, Unit: unit, How: "unit"}
	s.emit(Event{Kind: EventRestarted, PID: t.pid, NewPID: newPID, Unit: unit})
	return res, nil
}

// snapshotForRelaunch records what is needed to start t again, exactly:
// argv and environment bytes as they are (refused, not cut, over the read
// cap), nice, every resource limit, oom_score_adj, the slice and the
// output files.
func (s *Service) snapshotForRelaunch(t *target) (RelaunchSpec, error) {
	dir := s.inv.procRoot + "/" + strconv.Itoa(t.pid)
	spec := RelaunchSpec{OldPID: t.pid, Exe: t.exe, UID: t.uids[0], GID: t.gids[0], Groups: t.groups, Nice: t.st.nice}
	if spec.Exe == "" {
		return spec, errf(KindNotRestartable, "cannot restart process %d: its executable is not readable", t.pid)
	}
	if strings.HasSuffix(spec.Exe, " (deleted)") {
		return spec, errf(KindNotRestartable, "cannot restart process %d: its executable %s was deleted or replaced", t.pid, strings.TrimSuffix(spec.Exe, " (deleted)"))
	}
	var err error
	for _, f := range []struct {
		name string
		cap  int
		dst  *[]string
	}{{"cmdline", cmdlineCap, &spec.Argv}, {"environ", environCap, &spec.Env}} {
		*f.dst, err = relaunch.ReadList(dir+"/"+f.name, f.cap)
		switch {
		case errors.Is(err, relaunch.ErrTooLong):
			what := map[string]string{"cmdline": "command line", "environ": "environment"}[f.name]
			return spec, errf(KindNotRestartable, "cannot restart process %d: its %s is longer than %d KiB, more than the daemon reads; it would come back cut", t.pid, what, f.cap>>10)
		case err != nil:
			return spec, noSuchProcess(t.pid)
		}
	}
	if len(spec.Argv) == 0 {
		return spec, errf(KindNotRestartable, "cannot restart process %d: it has no command line", t.pid)
	}
	if cwd, err := os.Readlink(dir + "/cwd"); err == nil {
		spec.Cwd = strings.TrimSuffix(cwd, " (deleted)")
	}
	spec.Path = relaunch.ResolvePath(spec.Argv[0], spec.Cwd, spec.Env, spec.Exe)
	b, err := os.ReadFile(dir + "/limits")
	if err == nil {
		spec.Limits, err = relaunch.ParseLimits(b)
	}
	if err != nil {
		return spec, &Error{Kind: KindNotRestartable, Err: err, Msg: fmt.Sprintf("cannot restart process %d: its resource limits are not readable (it would come back without them)", t.pid)}
	}
	b, err = os.ReadFile(dir + "/oom_score_adj")
	if err == nil {
		spec.OOMScoreAdj, err = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if err != nil {
		return spec, &Error{Kind: KindNotRestartable, Err: err, Msg: fmt.Sprintf("cannot restart process %d: its oom_score_adj is not readable", t.pid)}
	}
	if b, err := os.ReadFile(dir + "/cgroup"); err == nil {
		spec.Slice = relaunch.SliceOf(b)
	}
	if l, err := os.Readlink(dir + "/fd/1"); err == nil {
		spec.Stdout = relaunch.OutputFile(l)
	}
	if l, err := os.Readlink(dir + "/fd/2"); err == nil {
		spec.Stderr = relaunch.OutputFile(l)
	}
	return spec, nil
}

func groupsFromStatus(b []byte) []uint32 {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Groups:"); ok {
			var out []uint32
			for _, f := range strings.Fields(v) {
				if g, err := strconv.ParseUint(f, 10, 32); err == nil {
					out = append(out, uint32(g))
				}
			}
			return out
		}
	}
	return nil
}

// ownerMayRelaunch applies the relaunch rule for a non-root caller that
// owns the process by uid: every gid of the process (real, effective,
// saved) must be one of the caller's groups, and the process dumpable.
// Otherwise the relaunch would hand the caller a group (a setgid program
// that made its gid real, relaunched with LD_PRELOAD and without
// secure-exec) or what the kernel keeps from it. It returns why not ("" when
// the owner may).
func ownerMayRelaunch(c Caller, t *target) string {
	for _, g := range t.gids {
		if !slices.Contains(c.Groups, g) {
			return fmt.Sprintf("process %d runs with group %d, which is not one of yours", t.pid, g)
		}
	}
	if !t.dumpable {
		return fmt.Sprintf("process %d is not dumpable (a setuid or setgid program, or it asked the kernel to keep others out)", t.pid)
	}
	return ""
}

// callerGroups keeps the supplementary groups of spec that the caller has:
// a relaunch asked by an owner never runs with a group the owner lacks.
func callerGroups(c Caller, groups []uint32) []uint32 {
	out := make([]uint32, 0, len(groups))
	for _, g := range groups {
		if slices.Contains(c.Groups, g) {
			out = append(out, g)
		}
	}
	return out
}

func (s *Service) relaunch(ctx context.Context, c Caller, t *target) (RestartResult, error) {
	// An owner by uid needs the authority too when the relaunch would
	// give it what exec-ing the program itself would not.
	why := ""
	if !c.Privileged && c.UID != 0 && owns(c, t) {
		why = ownerMayRelaunch(c, t)
	}
	if err := s.authorize(ctx, c, t, ActionRestart, why != ""); err != nil {
		if why != "" && KindOf(err) == KindAccessDenied {
			err = &Error{Kind: KindAccessDenied, Err: err, Msg: fmt.Sprintf("not authorized: %s; restarting it needs root or the polkit action %s", why, ActionRestart)}
		}
		s.audit(c, "restart", t, "", err)
		return RestartResult{}, err
	}
	spec, err := s.snapshotForRelaunch(t)
	if err == nil && s.units != nil {
		if bad := spec.NotUTF8(); bad != "" {
			err = errf(KindNotRestartable, "cannot restart process %d unchanged: its %s is not valid UTF-8, which systemd's D-Bus API cannot carry", t.pid, bad)
		}
	}
	if err != nil {
		s.audit(c, "restart", t, "", err)
		return RestartResult{}, err
	}
	if !c.Privileged && c.UID != 0 && owns(c, t) && why == "" {
		spec.Groups = callerGroups(c, spec.Groups)
	}
	// Log the whole record first: if starting it again fails, the admin
	// still sees exactly what ran.
	s.record(slog.LevelInfo, "relaunch: stopping process", "caller", c.Name, "pid", t.pid, "exe", spec.Exe,
		"argv", spec.Argv, "cwd", spec.Cwd, "uid", spec.UID, "gid", spec.GID, "env_vars", len(spec.Env))
	if err := s.terminate(ctx, t); err != nil {
		s.audit(c, "restart", t, "", err)
		return RestartResult{}, err
	}
	res := RestartResult{OldPID: t.pid}
	if s.units != nil {
		unit, pid, err := s.units.StartTransient(ctx, spec)
		if err != nil {
			err = &Error{Kind: KindFailed, Err: err, Msg: fmt.Sprintf("process %d was stopped but could not be started again in a transient unit: %v (exe %s, argv %q, cwd %s, uid %d)", t.pid, err, spec.Exe, spec.Argv, spec.Cwd, spec.UID)}
			s.audit(c, "restart", t, "", err)
			return RestartResult{}, err
		}
		res.NewPID, res.Unit, res.How = pid, unit, "transient"
		res.Output = "the journal of " + unit + " (journalctl -u " + unit + ")"
	} else {
		d, err := relaunch.StartDetached(spec)
		if err != nil {
			err = &Error{Kind: KindFailed, Err: err, Msg: fmt.Sprintf("process %d was stopped but could not be started again: %v (exe %s, argv %q, cwd %s, uid %d)", t.pid, err, spec.Exe, spec.Argv, spec.Cwd, spec.UID)}
			s.audit(c, "restart", t, "", err)
			return RestartResult{}, err
		}
		res.NewPID, res.How = d.PID, "detached"
		res.Output = "stdout " + d.Stdout + ", stderr " + d.Stderr
	}
	s.audit(c, "restart", t, fmt.Sprintf("new_pid=%d unit=%s", res.NewPID, res.Unit), nil)
	s.emit(Event{Kind: EventRestarted, PID: t.pid, NewPID: res.NewPID, Unit: res.Unit})
	return res, nil
}

// terminate sends SIGTERM through the pidfd and waits for the exit (poll on
// a pidfd works for non-children); SIGKILL after the restart timeout.
func (s *Service) terminate(ctx context.Context, t *target) error {
	if err := unix.PidfdSendSignal(t.fd, unix.SIGTERM, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil // already gone
		}
		return sysErr(err, t.pid, "stop")
	}
	if waitExit(ctx, t.fd, s.restartTimeout) {
		return nil
	}
	s.log.Info("relaunch: process ignored SIGTERM, sending SIGKILL", "pid", t.pid, "timeout", s.restartTimeout)
	if err := unix.PidfdSendSignal(t.fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return sysErr(err, t.pid, "kill")
	}
	if !waitExit(ctx, t.fd, 5*time.Second) {
		return errf(KindFailed, "process %d did not exit after SIGKILL", t.pid)
	}
	return nil
}

// waitExit polls the pidfd until the process exits or d passes.
func waitExit(ctx context.Context, fd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return false
		}
		step := min(left, 100*time.Millisecond)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(step.Milliseconds())+1)
		if err == nil && n > 0 {
			return true
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false
		}
	}
}
