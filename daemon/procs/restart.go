package procs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/procfs"
	"github.com/roy/roy-procwatch/internal/systemd"
)

// UnitManager is the part of systemd the core needs. The implementation
// over D-Bus is internal/systemd; tests may fake it.
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
type RelaunchSpec = systemd.RelaunchSpec

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
	if t.st.State == 'Z' {
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

// snapshotForRelaunch records what is needed to start t again.
func (s *Service) snapshotForRelaunch(t *target) (RelaunchSpec, error) {
	dir := s.inv.ProcRoot() + "/" + strconv.Itoa(t.pid)
	spec := RelaunchSpec{OldPID: t.pid, Exe: t.exe, UID: t.uids[0], GID: t.gids[0], Groups: t.groups}
	if spec.Exe == "" {
		return spec, errf(KindNotRestartable, "cannot restart process %d: its executable is not readable", t.pid)
	}
	if strings.HasSuffix(spec.Exe, " (deleted)") {
		return spec, errf(KindNotRestartable, "cannot restart process %d: its executable %s was deleted or replaced", t.pid, strings.TrimSuffix(spec.Exe, " (deleted)"))
	}
	b, err := procfs.ReadCapped(dir+"/cmdline", nil, procfs.CmdlineCap)
	if err != nil {
		return spec, noSuchProcess(t.pid)
	}
	spec.Argv = procfs.SplitNUL(b)
	if len(spec.Argv) == 0 {
		return spec, errf(KindNotRestartable, "cannot restart process %d: it has no command line", t.pid)
	}
	if cwd, err := os.Readlink(dir + "/cwd"); err == nil {
		spec.Cwd = strings.TrimSuffix(cwd, " (deleted)")
	}
	if b, err := procfs.ReadCapped(dir+"/environ", nil, procfs.EnvironCap); err == nil {
		spec.Env = procfs.SplitNUL(b)
	}
	return spec, nil
}

func (s *Service) relaunch(ctx context.Context, c Caller, t *target) (RestartResult, error) {
	if err := s.authorize(ctx, c, t, ActionRestart, false); err != nil {
		s.audit(c, "restart", t, "", err)
		return RestartResult{}, err
	}
	spec, err := s.snapshotForRelaunch(t)
	if err != nil {
		s.audit(c, "restart", t, "", err)
		return RestartResult{}, err
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
	} else {
		pid, err := startDetached(spec)
		if err != nil {
			err = &Error{Kind: KindFailed, Err: err, Msg: fmt.Sprintf("process %d was stopped but could not be started again: %v (exe %s, argv %q, cwd %s, uid %d)", t.pid, err, spec.Exe, spec.Argv, spec.Cwd, spec.UID)}
			s.audit(c, "restart", t, "", err)
			return RestartResult{}, err
		}
		res.NewPID, res.How = pid, "detached"
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

// startDetached starts spec in a new session when there is no systemd.
// The child is reaped by a goroutine so it never lingers as a zombie.
func startDetached(spec RelaunchSpec) (int, error) {
	cmd := exec.Command(spec.Exe)
	cmd.Args = spec.Argv
	cmd.Env = spec.Env
	if spec.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = spec.Cwd
	if fi, err := os.Stat(spec.Cwd); err != nil || !fi.IsDir() {
		cmd.Dir = "/"
	}
	attr := &syscall.SysProcAttr{Setsid: true}
	if os.Geteuid() == 0 {
		attr.Credential = &syscall.Credential{Uid: spec.UID, Gid: spec.GID, Groups: spec.Groups}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	return pid, nil
}
