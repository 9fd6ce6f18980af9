package units

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// fetchParallel bounds the property requests in flight on the one systemd
// connection (godbus multiplexes them; systemd answers them in order).
const fetchParallel = 16

// normalize validates opts and returns the systemd patterns and states.
func (o ListOptions) normalize() (patterns, states, types []string, err error) {
	types = o.Types
	if len(types) == 0 {
		types = []string{"service"}
	}
	for _, t := range types {
		if t == "all" {
			types = nil
			break
		}
		if !unitTypes[t] {
			return nil, nil, nil, errf(KindInvalidArgument, "invalid unit type %q: use service, socket, timer, target, … or all", t)
		}
	}
	glob := o.Pattern
	if len(glob) > unitNameMax {
		return nil, nil, nil, errf(KindInvalidArgument, "pattern too long (max %d characters)", unitNameMax)
	}
	if glob == "" {
		glob = "*"
	}
	for _, c := range []byte(glob) {
		if !validChar(c) && !strings.ContainsRune("@*?[]!^", rune(c)) {
			return nil, nil, nil, errf(KindInvalidArgument, "invalid pattern %q: unit-name characters and the glob characters *?[] only", glob)
		}
	}
	if types == nil || strings.Contains(glob, ".") {
		// A pattern with a type suffix is given to systemd as is; List
		// keeps the requested types only.
		patterns = []string{glob}
	} else {
		for _, t := range types {
			patterns = append(patterns, glob+"."+t)
		}
	}
	if o.State != "" {
		if len(o.State) > 32 || strings.Trim(o.State, "abcdefghijklmnopqrstuvwxyz-") != "" {
			return nil, nil, nil, errf(KindInvalidArgument, "invalid state %q: e.g. failed, active, inactive, running", o.State)
		}
		states = []string{o.State}
	}
	return patterns, states, types, nil
}

// List returns the units matching opts, failed first, then by name.
func (s *Service) List(ctx context.Context, opts ListOptions) ([]Unit, error) {
	patterns, states, types, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	c, err := s.bus(ctx)
	if err != nil {
		return nil, err
	}
	st, err := c.ListUnitsByPatternsContext(ctx, states, patterns)
	if err != nil {
		return nil, busErr("", "cannot list units", err)
	}
	q := strings.ToLower(opts.Query)
	st = slices.DeleteFunc(st, func(u sddbus.UnitStatus) bool {
		if types != nil && !slices.Contains(types, u.Name[strings.LastIndexByte(u.Name, '.')+1:]) {
			return true
		}
		return q != "" && !strings.Contains(strings.ToLower(u.Name), q) && !strings.Contains(strings.ToLower(u.Description), q)
	})
	out := make([]Unit, len(st))
	var wg sync.WaitGroup
	sem := make(chan struct{}, fetchParallel)
	for i := range st {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = s.fill(ctx, c, st[i])
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.join(ctx, out)
	sortUnits(out)
	return out, nil
}

// sortUnits puts failed units first, then orders by name.
func sortUnits(us []Unit) {
	slices.SortFunc(us, func(a, b Unit) int {
		fa, fb := a.Active == "failed", b.Active == "failed"
		if fa != fb {
			if fa {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// fill reads a unit's properties: the Unit interface and its type's.
func (s *Service) fill(ctx context.Context, c systemdBus, st sddbus.UnitStatus) Unit {
	u := Unit{Name: st.Name, Description: st.Description, Load: st.LoadState, Active: st.ActiveState, Sub: st.SubState,
		PIDs: []int{}, Ports: []Port{}}
	if i := strings.LastIndexByte(u.Name, '.'); i >= 0 {
		u.Type = u.Name[i+1:]
	}
	up, err := c.GetUnitPropertiesContext(ctx, u.Name)
	if err != nil {
		return u
	}
	u.UnitFileState = str(up["UnitFileState"])
	u.Since = usecTime(sinceProp(u.Active, up))
	switch u.Type {
	case "service", "socket", "mount", "swap", "slice", "scope", "timer", "path":
	default:
		return u
	}
	tp, err := c.GetUnitTypePropertiesContext(ctx, u.Name, typeInterface(u.Type))
	if err != nil {
		return u
	}
	u.Result = str(tp["Result"])
	if v, ok := tp["MainPID"].(uint32); ok {
		u.MainPID = int(v)
	}
	if v, ok := tp["NRestarts"].(uint32); ok {
		u.Restarts = v
	}
	u.MemoryCurrent = known(tp["MemoryCurrent"])
	u.CPUUsageNSec = known(tp["CPUUsageNSec"])
	u.Tasks = known(tp["TasksCurrent"])
	u.ControlGroup = str(tp["ControlGroup"])
	return u
}

// typeInterface is the D-Bus interface suffix of a unit type.
func typeInterface(t string) string {
	if t == "" {
		return ""
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// known returns v unless systemd reports it unknown (UINT64_MAX).
func known(v any) *uint64 {
	n, ok := v.(uint64)
	if !ok || n == math.MaxUint64 {
		return nil
	}
	return &n
}

// sinceProp picks the timestamp systemctl status shows after "since".
func sinceProp(active string, p map[string]any) uint64 {
	key := "StateChangeTimestamp"
	switch active {
	case "active", "reloading":
		key = "ActiveEnterTimestamp"
	case "inactive", "failed":
		key = "InactiveEnterTimestamp"
	case "activating":
		key = "InactiveExitTimestamp"
	case "deactivating":
		key = "ActiveExitTimestamp"
	}
	v, _ := p[key].(uint64)
	return v
}

func usecTime(us uint64) string {
	if us == 0 || us == math.MaxUint64 {
		return ""
	}
	return time.UnixMicro(int64(us)).UTC().Format(time.RFC3339)
}

// join fills PIDs (from cgroupfs) and ports (from the process inventory).
func (s *Service) join(ctx context.Context, us []Unit) {
	var snap []procs.Process
	if s.procs != nil {
		snap, _, _ = s.procs.Snapshot(ctx)
	}
	byPID := make(map[int]*procs.Process, len(snap))
	for i := range snap {
		byPID[snap[i].PID] = &snap[i]
	}
	for i := range us {
		u := &us[i]
		if u.ControlGroup != "" {
			u.PIDs = s.cgroupPIDs(u.ControlGroup)
			s.cgroupStats(u)
		}
		if len(u.PIDs) == 0 && u.MainPID > 0 {
			u.PIDs = []int{u.MainPID}
		}
		for _, pid := range u.PIDs {
			if p := byPID[pid]; p != nil {
				for _, pt := range p.Ports {
					u.Ports = append(u.Ports, Port{Port: pt, PID: pid})
				}
			}
		}
	}
}

// cgroupStats fills the figures systemd does not account for the unit
// (accounting off) from the cgroup's own files, when the kernel has them.
func (s *Service) cgroupStats(u *Unit) {
	dir := filepath.Join(s.cgroupRoot, filepath.Clean("/"+u.ControlGroup))
	readNum := func(name string) *uint64 {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil
		}
		return &n
	}
	if u.MemoryCurrent == nil {
		u.MemoryCurrent = readNum("memory.current")
	}
	if u.Tasks == nil {
		u.Tasks = readNum("pids.current")
	}
	if u.CPUUsageNSec == nil {
		if b, err := os.ReadFile(filepath.Join(dir, "cpu.stat")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					if n, err := strconv.ParseUint(v, 10, 64); err == nil {
						n *= 1000
						u.CPUUsageNSec = &n
					}
					break
				}
			}
		}
	}
}

// maxCgroupPIDs bounds what one unit reports.
const maxCgroupPIDs = 4096

// cgroupPIDs reads cgroup.procs of cg and of every cgroup below it.
func (s *Service) cgroupPIDs(cg string) []int {
	root := filepath.Join(s.cgroupRoot, filepath.Clean("/"+cg))
	pids := []int{}
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if err != nil {
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil && len(pids) < maxCgroupPIDs {
				pids = append(pids, n)
			}
		}
		return nil
	})
	slices.Sort(pids)
	return pids
}

// lookup validates name and returns its unit, 404 when systemd does not
// know it (no unit file, not loaded).
func (s *Service) lookup(ctx context.Context, c systemdBus, name string) (Unit, map[string]any, error) {
	if _, err := ValidateName(name); err != nil {
		return Unit{}, nil, err
	}
	up, err := c.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return Unit{}, nil, busErr(name, "cannot read unit "+name, err)
	}
	if str(up["LoadState"]) == "not-found" {
		return Unit{}, nil, errf(KindNoSuchUnit, "unit %s not found", name)
	}
	u := s.fill(ctx, c, sddbus.UnitStatus{Name: name, Description: str(up["Description"]),
		LoadState: str(up["LoadState"]), ActiveState: str(up["ActiveState"]), SubState: str(up["SubState"])})
	return u, up, nil
}

// Get returns one unit with its processes and its last journal entries.
func (s *Service) Get(ctx context.Context, name string) (Detail, error) {
	c, err := s.bus(ctx)
	if err != nil {
		return Detail{}, err
	}
	u, up, err := s.lookup(ctx, c, name)
	if err != nil {
		return Detail{}, err
	}
	us := []Unit{u}
	s.join(ctx, us)
	d := Detail{Unit: us[0], FragmentPath: str(up["FragmentPath"]), Processes: []procs.Process{}}
	if s.procs != nil {
		if snap, _, err := s.procs.Snapshot(ctx); err == nil {
			for _, pid := range d.PIDs {
				if i, ok := slices.BinarySearchFunc(snap, pid, func(p procs.Process, pid int) int { return p.PID - pid }); ok {
					d.Processes = append(d.Processes, snap[i])
				}
			}
		}
	}
	d.Journal, err = s.Journal(ctx, JournalQuery{Unit: name, Lines: DefaultEntries})
	if err != nil {
		d.Journal = []Entry{}
		s.log.Warn("cannot read the journal", "unit", name, "err", err)
	}
	return d, nil
}
