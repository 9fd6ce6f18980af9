package procs

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Caps on the detail view.
const (
	maxOpenFiles   = 1000
	maxTopMappings = 15
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

	snap, err := s.snapshot(ctx)
	if err != nil {
		return Detail{}, err
	}
	i, ok := snap.index[t.pid]
	if !ok || snap.procs[i].startTicks != t.st.startTicks {
		// Newer than the snapshot: take a fresh one.
		s.inv.invalidate()
		if snap, err = s.snapshot(ctx); err != nil {
			return Detail{}, err
		}
		if i, ok = snap.index[t.pid]; !ok {
			return Detail{}, noSuchProcess(t.pid)
		}
	}
	d := Detail{Process: snap.procs[i], UIDs: t.uids, GIDs: t.gids}
	d.Ports = slices.Clone(d.Ports)
	d.Cmdline = slices.Clone(d.Cmdline)
	dir := s.inv.procRoot + "/" + strconv.Itoa(t.pid)

	if b, err := os.ReadFile(dir + "/cgroup"); err == nil {
		d.Cgroup, d.Unit = parseCgroup(b)
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
	d.OpenFiles = openFiles(dir)
	if b, err := readCapped(dir+"/environ", nil, environCap); err == nil {
		d.Environ = splitNUL(b)
	}
	d.Memory = smapsRollup(dir)
	d.TopMappings = topMappings(dir)
	d.Extras = s.extras(ctx, t)
	return d, nil
}

// parseCgroup returns the cgroup v2 path and the deepest systemd unit in it.
func parseCgroup(b []byte) (path, unit string) {
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			path = p
		}
	}
	if path == "" { // cgroup v1: take the name=systemd hierarchy
		for _, line := range strings.Split(string(b), "\n") {
			if _, p, ok := strings.Cut(line, ":name=systemd:"); ok {
				path = p
			}
		}
	}
	for _, part := range strings.Split(path, "/") {
		if strings.HasSuffix(part, ".service") || strings.HasSuffix(part, ".scope") {
			unit = part
		}
	}
	return path, unit
}

func parentChain(snap *snapshot, pid int) []ProcessRef {
	out := []ProcessRef{}
	seen := map[int]bool{pid: true}
	i, ok := snap.index[pid]
	for ok {
		pp := snap.procs[i].PPID
		if pp == 0 || seen[pp] {
			break
		}
		seen[pp] = true
		i, ok = snap.index[pp]
		if ok {
			out = append(out, ProcessRef{PID: pp, Name: snap.procs[i].Name})
		}
	}
	return out
}

func children(snap *snapshot, pid int) []ProcessRef {
	out := []ProcessRef{}
	for i := range snap.procs {
		if snap.procs[i].PPID == pid && snap.procs[i].PID != pid {
			out = append(out, ProcessRef{PID: snap.procs[i].PID, Name: snap.procs[i].Name})
		}
	}
	return out
}

// openFiles lists the paths the process has open (not sockets or pipes).
func openFiles(dir string) []string {
	out := []string{}
	d, err := os.Open(dir + "/fd")
	if err != nil {
		return out
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	slices.SortFunc(names, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	for _, n := range names {
		l, err := os.Readlink(dir + "/fd/" + n)
		if err != nil || !strings.HasPrefix(l, "/") {
			continue
		}
		out = append(out, strings.ToValidUTF8(l, "\uFFFD"))
		if len(out) >= maxOpenFiles {
			break
		}
	}
	return out
}

// kbValue parses "Rss:   1234 kB" lines into bytes.
func kbValue(line []byte) (string, uint64, bool) {
	k, v, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return "", 0, false
	}
	fs := bytes.Fields(v)
	if len(fs) != 2 || string(fs[1]) != "kB" {
		return "", 0, false
	}
	n, err := strconv.ParseUint(string(fs[0]), 10, 64)
	if err != nil {
		return "", 0, false
	}
	return string(k), n * 1024, true
}

func smapsRollup(dir string) MemorySum {
	var m MemorySum
	b, err := readCapped(dir+"/smaps_rollup", nil, 16<<10)
	if err != nil {
		return m
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := kbValue(line)
		if !ok {
			continue
		}
		switch k {
		case "Rss":
			m.RSS = v
		case "Pss":
			m.PSS = v
		case "Swap":
			m.Swap = v
		case "Anonymous":
			m.Anon = v
		case "Private_Clean", "Private_Dirty":
			m.Private += v
		case "Shared_Clean", "Shared_Dirty":
			m.Shared += v
		}
	}
	if m.RSS > m.Anon {
		m.File = m.RSS - m.Anon
	}
	return m
}

// topMappings reads /proc/PID/smaps and returns the largest mappings by
// RSS, merged by path.
func topMappings(dir string) []Mapping {
	out := []Mapping{}
	f, err := os.Open(dir + "/smaps")
	if err != nil {
		return out
	}
	defer f.Close()
	byPath := map[string]*Mapping{}
	var cur *Mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && (line[0] >= '0' && line[0] <= '9' || line[0] >= 'a' && line[0] <= 'f') && bytes.Contains(line, []byte("-")) && !bytes.Contains(line[:bytes.IndexByte(line, '-')+1], []byte(":")) {
			fs := bytes.Fields(line)
			path, kind := "[anon]", "anon"
			if len(fs) >= 6 {
				path = string(bytes.Join(fs[5:], []byte(" ")))
				switch {
				case path == "[heap]":
					kind = "heap"
				case strings.HasPrefix(path, "[stack"):
					kind = "stack"
				case strings.HasPrefix(path, "["):
					kind = strings.Trim(path, "[]")
				default:
					kind = "file"
				}
			}
			if byPath[path] == nil {
				byPath[path] = &Mapping{Path: strings.ToValidUTF8(path, "\uFFFD"), Kind: kind}
			}
			cur = byPath[path]
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := kbValue(line)
		if !ok {
			continue
		}
		switch k {
		case "Rss":
			cur.RSS += v
		case "Pss":
			cur.PSS += v
		case "Swap":
			cur.Swap += v
		}
	}
	for _, m := range byPath {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Mapping) int {
		if a.RSS != b.RSS {
			if a.RSS > b.RSS {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	if len(out) > maxTopMappings {
		out = out[:maxTopMappings]
	}
	return out
}
