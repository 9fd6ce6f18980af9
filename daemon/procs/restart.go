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

	"github.com/roy/roy-procwatch/internal/procfs"
	"github.com/roy/roy-procwatch/internal/relaunch"
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

// restartJobBudget is how long systemd gets for a restart job or a
// transient unit's start, on top of the stop (see restartDeadline).
const restartJobBudget = 60 * time.Second

// restartDeadline is the one deadline of a restart, whichever transport
// asked: the stop (SIGTERM, the restart timeout, SIGKILL and up to 5 s for
// the exit) and then systemd's job. It does not end when the caller goes:
// a process stopped must be started again.
func (s *Service) restartDeadline() time.Duration {
	return s.restartTimeout + 5*time.Second + restartJobBudget
}

// restartKey names one process: a PID and its start time.
type restartKey struct {
	pid        int
	startTicks uint64
}

// Restart restarts the process. A service's main process is restarted by
// systemd (RestartUnit); a process in no service is stopped (TERM, then
// KILL after the restart timeout) and started again with the same exe,
// argv, cwd, environment and credentials, in a transient unit when
// systemd is there, detached (setsid) otherwise. One restart of a process
// runs at a time: the others asked meanwhile get ProcessChanged.
func (s *Service) Restart(ctx context.Context, c Caller, ref Target) (RestartResult, error) {
	var res RestartResult
	var unit string
	var mainPID int
	err := s.run(ctx, c, op{
		name: "restart", polkit: ActionRestart, ref: ref, protect: protectAll, deadline: s.restartDeadline(),
		prepare: func(ctx context.Context, t *target) (bool, error) {
			if t.st.State == 'Z' {
				return false, errf(KindNotRestartable, "process %d is a zombie: it has exited and waits for its parent", t.pid)
			}
			if s.units != nil {
				var err error
				if unit, mainPID, err = s.units.UnitOfPID(ctx, t.pid); err != nil {
					return false, &Error{Kind: KindFailed, Msg: fmt.Sprintf("cannot ask systemd which unit holds process %d", t.pid), Err: err}
				}
			}
			if !strings.HasSuffix(unit, ".service") {
				unit = ""
				return false, nil
			}
			if mainPID != t.pid {
				return false, &Error{Kind: KindNotRestartable, Unit: unit,
					Msg: fmt.Sprintf("process %d is part of %s (main PID %d), not its main process: restart the unit instead (systemctl restart %s)", t.pid, unit, mainPID, unit)}
			}
			// Restarting a service is a system action even when it runs
			// as the caller's uid: it needs root or the restart authority.
			return true, nil
		},
		act: func(ctx context.Context, t *target, _ bool) (string, *Event, error) {
			release, err := s.lockRestart(t)
			if err != nil {
				return "", nil, err
			}
			defer release()
			if unit != "" {
				res, err = s.restartUnit(ctx, t, unit)
			} else {
				res, err = s.relaunch(ctx, c, t)
			}
			if err != nil {
				return "", nil, err
			}
			return fmt.Sprintf("new_pid=%d unit=%s how=%s", res.NewPID, res.Unit, res.How),
				&Event{Kind: EventRestarted, PID: t.pid, NewPID: res.NewPID, Unit: res.Unit}, nil
		},
	})
	if err != nil {
		return RestartResult{}, err
	}
	return res, nil
}

// lockRestart takes t's restart slot: one restart per (pid, start time) at
// a time. A second one, or one that pinned t before a first restart ended
// it, is ProcessChanged: a process stopped once must not be started twice.
func (s *Service) lockRestart(t *target) (release func(), err error) {
	k := restartKey{t.pid, t.st.StartTicks}
	s.restartMu.Lock()
	defer s.restartMu.Unlock()
	if s.restarting[k] {
		return nil, errf(KindProcessChanged, "process %d is being restarted by another request; refresh the list", t.pid)
	}
	if !t.alive() {
		return nil, errf(KindProcessChanged, "process %d exited before it could be restarted (another restart, or it ended); refresh the list", t.pid)
	}
	s.restarting[k] = true
	return func() {
		s.restartMu.Lock()
		delete(s.restarting, k)
		s.restartMu.Unlock()
	}, nil
}

func (s *Service) restartUnit(ctx context.Context, t *target, unit string) (RestartResult, error) {
	newPID, err := s.units.RestartUnit(ctx, unit)
	if err != nil {
		return RestartResult{}, &Error{Kind: KindFailed, Msg: fmt.Sprintf("systemd could not restart %s: %v", unit, err), Err: err}
	}
	return RestartResult{OldPID: t.pid, NewPID: newPID, Unit: unit, How: "unit"}, nil
}

// snapshotForRelaunch records what is needed to start t again, exactly:
// argv and environment bytes as they are (refused, not cut, over the read
// cap), the argv[0] path, nice, every resource limit, oom_score_adj, the
// slice and the output files.
func (s *Service) snapshotForRelaunch(t *target) (RelaunchSpec, error) {
	dir := s.inv.ProcRoot() + "/" + strconv.Itoa(t.pid)
	spec := RelaunchSpec{OldPID: t.pid, Exe: t.exe, UID: t.uids[0], GID: t.gids[0], Groups: t.groups, Nice: t.st.Nice}
	if spec.Exe == "" {
		return spec, errf(KindNotRestartable, "cannot restart process %d: its executable is not readable", t.pid)
	}
	if strings.HasSuffix(spec.Exe, " (deleted)") {
		return spec, errf(KindNotRestartable, "cannot restart process %d: its executable %s was deleted or replaced", t.pid, strings.TrimSuffix(spec.Exe, " (deleted)"))
	}
	var err error
	for _, f := range []struct {
		name, what string
		cap        int
		dst        *[]string
	}{{"cmdline", "command line", procfs.CmdlineCap, &spec.Argv}, {"environ", "environment", procfs.EnvironCap, &spec.Env}} {
		*f.dst, err = relaunch.ReadList(dir+"/"+f.name, f.cap)
		switch {
		case errors.Is(err, relaunch.ErrTooLong):
			return spec, errf(KindNotRestartable, "cannot restart process %d: its %s is longer than %d KiB, more than the daemon reads; it would come back cut", t.pid, f.what, f.cap>>10)
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
	if s.afterReads != nil {
		s.afterReads(t.pid)
	}
	// Read by path: if t exited meanwhile, this may be another process's.
	if err := t.verify(); err != nil {
		return RelaunchSpec{}, err
	}
	if s.units != nil {
		if bad := spec.NotUTF8(); bad != "" {
			return spec, errf(KindNotRestartable, "cannot restart process %d unchanged: its %s is not valid UTF-8, which systemd's D-Bus API cannot carry", t.pid, bad)
		}
	}
	return spec, nil
}

// ownGroups keeps the supplementary groups of a relaunch that the caller
// has: a relaunch allowed by ownership never runs with a group its caller
// could not have by exec-ing the program itself.
func (s *Service) ownGroups(c Caller, groups []uint32) []uint32 {
	mine := s.callerGroups(c)
	out := make([]uint32, 0, len(groups))
	for _, g := range groups {
		if slices.Contains(mine, g) {
			out = append(out, g)
		}
	}
	return out
}

func (s *Service) relaunch(ctx context.Context, c Caller, t *target) (RestartResult, error) {
	spec, err := s.snapshotForRelaunch(t)
	if err != nil {
		return RestartResult{}, err
	}
	if !c.root() && s.mayRead(c, t) {
		// Allowed as the owner, not by the authority.
		spec.Groups = s.ownGroups(c, spec.Groups)
	}
	// Log the whole record first: if starting it again fails, the admin
	// still sees exactly what ran.
	s.record(slog.LevelInfo, "relaunch: stopping process", "caller", c.Name, "pid", t.pid, "exe", spec.Exe,
		"path", spec.Path, "argv", spec.Argv, "cwd", spec.Cwd, "uid", spec.UID, "gid", spec.GID, "groups", spec.Groups,
		"env_vars", len(spec.Env), "nice", spec.Nice, "oom_score_adj", spec.OOMScoreAdj, "slice", spec.Slice,
		"stdout", spec.Stdout, "stderr", spec.Stderr)
	if err := s.terminate(ctx, t); err != nil {
		return RestartResult{}, err
	}
	res := RestartResult{OldPID: t.pid}
	if s.units != nil {
		unit, pid, err := s.units.StartTransient(ctx, spec)
		if err != nil {
			return RestartResult{}, &Error{Kind: KindFailed, Err: err, Msg: fmt.Sprintf("process %d was stopped but could not be started again in a transient unit: %v (exe %s, argv %q, cwd %s, uid %d)", t.pid, err, spec.Exe, spec.Argv, spec.Cwd, spec.UID)}
		}
		res.NewPID, res.Unit, res.How = pid, unit, "transient"
		res.Output = "the journal of " + unit + " (journalctl -u " + unit + ")"
	} else {
		d, err := relaunch.StartDetached(spec)
		if err != nil {
			return RestartResult{}, &Error{Kind: KindFailed, Err: err, Msg: fmt.Sprintf("process %d was stopped but could not be started again: %v (exe %s, argv %q, cwd %s, uid %d)", t.pid, err, spec.Exe, spec.Argv, spec.Cwd, spec.UID)}
		}
		res.NewPID, res.How = d.PID, "detached"
		res.Output = "stdout " + d.Stdout + ", stderr " + d.Stderr
	}
	return res, nil
}

// terminate sends SIGTERM through the pidfd and waits for the exit (poll on
// a pidfd works for non-children); SIGKILL after the restart timeout.
func (s *Service) terminate(ctx context.Context, t *target) error {
	if err := unix.PidfdSendSignal(t.fd, unix.SIGTERM, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			// Gone before we stopped it: someone else ended it, and
			// starting it again would make a second copy.
			return errf(KindProcessChanged, "process %d exited before it was stopped; refresh the list", t.pid)
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
