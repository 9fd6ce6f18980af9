package procs

import (
	"context"
	"os"
	"slices"
	"strconv"

	"github.com/roy/roy-procwatch/internal/procfs"
)

// Get returns the detail of one process. Anyone may call it; cwd, exe, open
// files and the environment of another user's process need root or the
// inspect authority (they are left empty otherwise).
func (s *Service) Get(ctx context.Context, c Caller, ref Target) (Detail, error) {
	t, err := s.open(ref)
	if err != nil {
		return Detail{}, err
	}
	defer t.close()

	snap, err := s.inv.Get(ctx)
	if err != nil {
		return Detail{}, err
	}
	i, ok := snap.Index[t.pid]
	if !ok || snap.Procs[i].StartTicks() != t.st.StartTicks {
		// Newer than the snapshot: take a fresh one.
		s.inv.Invalidate()
		if snap, err = s.inv.Get(ctx); err != nil {
			return Detail{}, err
		}
		if i, ok = snap.Index[t.pid]; !ok {
			return Detail{}, noSuchProcess(t.pid)
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

	mayInspect := c.Privileged || c.UID == 0 || owns(c, t)
	if !mayInspect && c.Authorize != nil {
		ok, err := c.Authorize(ctx, ActionInspect, t.pid)
		mayInspect = err == nil && ok
	}
	if !mayInspect {
		d.Exe = ""
		d.OpenFiles = []string{}
		return d, nil
	}
	if cwd, err := os.Readlink(dir + "/cwd"); err == nil {
		d.Cwd = cwd
	}
	d.OpenFiles = procfs.OpenFiles(dir)
	if b, err := procfs.ReadCapped(dir+"/environ", nil, procfs.EnvironCap); err == nil {
		d.Environ = procfs.SplitNUL(b)
	}
	d.Memory = procfs.SmapsRollup(dir)
	d.TopMappings = procfs.TopMappings(dir)
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
