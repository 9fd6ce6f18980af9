package procs

import (
	"context"
	"os"
	"slices"
	"strconv"

	"github.com/roy/roy-procwatch/internal/procfs"
)

// Get returns the detail of one process. Anyone may call it; cwd, exe,
// open files, memory maps and the environment need the kernel's read rule
// (the caller's own dumpable process, with its groups), root or the
// inspect authority: otherwise they are left empty, and the refusal is
// audited. A read of what the caller may read anyway writes no audit line.
func (s *Service) Get(ctx context.Context, c Caller, ref Target) (Detail, error) {
	var d Detail
	err := s.run(ctx, c, op{
		name: "inspect", polkit: ActionInspect, ref: ref, protect: protectNone, partial: true,
		quiet: func(t *target) bool { return t == nil || c.root() || s.mayRead(c, t) },
		act: func(ctx context.Context, t *target, allowed bool) (string, *Event, error) {
			var err error
			d, err = s.detail(ctx, t, allowed)
			if !allowed {
				return "exe, cwd, environ, open files and maps withheld", nil, err
			}
			return "", nil, err
		},
	})
	if err != nil {
		return Detail{}, err
	}
	if c.ReadOnly {
		d.Environ = nil // may hold secrets: never for a read-only credential
	}
	return d, nil
}

// detail reads the detail of the pinned t; private says whether what only
// a reader under the kernel's rule may see is read too.
func (s *Service) detail(ctx context.Context, t *target, private bool) (Detail, error) {
	snap, err := s.getSnapshot(ctx)
	if err != nil {
		return Detail{}, err
	}
	i, ok := snap.Index[t.pid]
	if !ok || snap.Procs[i].StartTicks() != t.st.StartTicks {
		// Newer than the snapshot: take a fresh one.
		s.inv.Invalidate()
		if snap, err = s.getSnapshot(ctx); err != nil {
			return Detail{}, err
		}
		if i, ok = snap.Index[t.pid]; !ok || snap.Procs[i].StartTicks() != t.st.StartTicks {
			return Detail{}, t.verify()
		}
	}
	d := Detail{Process: snap.Procs[i], UIDs: t.uids, GIDs: t.gids}
	d.Ports = slices.Clone(d.Ports)
	d.Cmdline = slices.Clone(d.Cmdline)
	dir := s.inv.ProcRoot() + "/" + strconv.Itoa(t.pid)

	if b, err := os.ReadFile(dir + "/cgroup"); err == nil {
		d.Cgroup, d.Unit = procfs.ParseCgroup(b)
	}
	d.Parents = parentChain(snap, t.pid)
	d.Children = children(snap, t.pid)
	if !private {
		d.Exe = ""
		d.OpenFiles = []string{}
	} else {
		if cwd, err := os.Readlink(dir + "/cwd"); err == nil {
			d.Cwd = cwd
		}
		d.OpenFiles = procfs.OpenFiles(dir)
		if b, err := procfs.ReadCapped(dir+"/environ", nil, procfs.EnvironCap); err == nil {
			d.Environ = procfs.SplitNUL(b)
		}
		d.Memory = procfs.SmapsRollup(dir)
		d.TopMappings = procfs.TopMappings(dir)
		d.Extras = s.extras(ctx, t)
	}
	if s.afterReads != nil {
		s.afterReads(t.pid)
	}
	// The reads went by path: if the pinned process exited meanwhile, the
	// PID may name another process whose data this is.
	if err := t.verify(); err != nil {
		return Detail{}, err
	}
	return d, nil
}

func parentChain(snap *procfs.Snapshot, pid int) []ProcessRef {
	out := []ProcessRef{}
	seen := map[int]bool{pid: true}
	i, ok := snap.Index[pid]
	for ok {
		pp := snap.Procs[i].PPID
		if pp == 0 || seen[pp] {
			break
		}
		seen[pp] = true
		i, ok = snap.Index[pp]
		if ok {
			out = append(out, ProcessRef{PID: pp, Name: snap.Procs[i].Name})
		}
	}
	return out
}

func children(snap *procfs.Snapshot, pid int) []ProcessRef {
	out := []ProcessRef{}
	for i := range snap.Procs {
		if snap.Procs[i].PPID == pid && snap.Procs[i].PID != pid {
			out = append(out, ProcessRef{PID: snap.Procs[i].PID, Name: snap.Procs[i].Name})
		}
	}
	return out
}
