package units

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"math"
	"math/rand/v2"
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
const fetchParallel = 32

// cacheTTL bounds how long a unit's properties are reused while its
// load/active/sub states stay the same (a state change refetches them at
// once, and so does any PropertiesChanged signal for it). The TTL catches
// what changes without a state change: the unit-file state after an outside
// `systemctl enable`, a main PID changed by a reload. Each entry gets up to
// half of it again as jitter, so a large list does not expire all at once.
const cacheTTL = 10 * time.Second

// cached is a unit's properties read at one time, for one set of states.
type cached struct {
	at             time.Time
	ttl            time.Duration
	load, act, sub string
	unitFileState  string
	since          string
	result         string
	mainPID        int
	restarts       uint32
	controlGroup   string
}

func (s *Service) invalidate(name string) {
	s.cacheMu.Lock()
	delete(s.cache, name)
	s.cacheMu.Unlock()
}

// normalize validates opts and returns the systemd patterns and states.
func (o ListOptions) normalize() (patterns, states, types []string, err error) {
	types = o.Types
	switch {
	case len(types) == 0 && strings.Contains(o.Pattern, "."):
		types = nil // no type asked: the pattern's suffix ("*.timer") selects it
	case len(types) == 0:
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

// fill reads a unit's properties: from the cache while its states are
// unchanged, else with one Get per property (GetAll of a service carries
// hundreds of properties: 300 of them took about a second in systemd 252).
func (s *Service) fill(ctx context.Context, c systemdBus, st sddbus.UnitStatus) Unit {
	u := Unit{Name: st.Name, Description: st.Description, Load: st.LoadState, Active: st.ActiveState, Sub: st.SubState,
		PIDs: []int{}, Ports: []Port{}}
	if i := strings.LastIndexByte(u.Name, '.'); i >= 0 {
		u.Type = u.Name[i+1:]
	}
	s.cacheMu.Lock()
	e, ok := s.cache[u.Name]
	s.cacheMu.Unlock()
	if !ok || e.load != u.Load || e.act != u.Active || e.sub != u.Sub || time.Since(e.at) > e.ttl {
		e = s.fetch(ctx, c, u)
		if ctx.Err() == nil {
			s.cacheMu.Lock()
			if len(s.cache) > 65536 {
				clear(s.cache)
			}
			s.cache[u.Name] = e
			s.cacheMu.Unlock()
		}
	}
	u.UnitFileState, u.Since, u.Result, u.MainPID, u.Restarts, u.ControlGroup = e.unitFileState, e.since, e.result, e.mainPID, e.restarts, e.controlGroup
	return u
}

// fetch reads the properties of u that the list shows.
func (s *Service) fetch(ctx context.Context, c systemdBus, u Unit) cached {
	e := cached{at: time.Now(), ttl: cacheTTL + time.Duration(rand.Int64N(int64(cacheTTL/2))), load: u.Load, act: u.Active, sub: u.Sub}
	get := func(iface, name string) any {
		var p *sddbus.Property
		var err error
		if iface == "Unit" {
			p, err = c.GetUnitPropertyContext(ctx, u.Name, name)
		} else {
			p, err = c.GetUnitTypePropertyContext(ctx, u.Name, iface, name)
		}
		if err != nil || p == nil {
			return nil
		}
		return p.Value.Value()
	}
	e.unitFileState = str(get("Unit", "UnitFileState"))
	if v, ok := get("Unit", sinceKey(u.Active)).(uint64); ok {
		e.since = usecTime(v)
	}
	ti := typeInterface(u.Type)
	// An inactive or failed unit has no main PID and no cgroup left: two
	// calls saved per unit on hosts with many idle services.
	running := u.Active != "inactive" && u.Active != "failed"
	switch u.Type {
	case "service":
		if running {
			if v, ok := get(ti, "MainPID").(uint32); ok {
				e.mainPID = int(v)
			}
		}
		if v, ok := get(ti, "NRestarts").(uint32); ok {
			e.restarts = v
		}
		fallthrough
	case "socket", "mount", "swap":
		e.result = str(get(ti, "Result"))
		fallthrough
	case "slice", "scope":
		if running {
			e.controlGroup = str(get(ti, "ControlGroup"))
		}
	case "timer", "path", "automount":
		e.result = str(get(ti, "Result"))
	}
	return e
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

// sinceKey names the timestamp systemctl status shows after "since".
func sinceKey(active string) string {
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
	return key
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

// cgroupStats reads the unit's memory, CPU time and tasks from its cgroup's
// own files, as systemd does for MemoryCurrent, CPUUsageNSec and
// TasksCurrent, but fresh on every list (and also where systemd's
// accounting is off). A figure whose controller the cgroup lacks stays null.
func (s *Service) cgroupStats(u *Unit) {
	cg := filepath.Clean("/" + u.ControlGroup)
	readNum := func(path string) *uint64 {
		b, err := os.ReadFile(filepath.Join(s.cgroupRoot, path))
		if err != nil {
			return nil
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil
		}
		return &n
	}
	// cpu.stat is in every cgroup v2 directory, with or without the cpu
	// controller: the unified hierarchy, or its "unified" mount in the
	// hybrid layout.
	cpuStat := func(dir string) *uint64 {
		b, err := os.ReadFile(filepath.Join(s.cgroupRoot, dir, "cpu.stat"))
		if err != nil {
			return nil
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				if n, err := strconv.ParseUint(v, 10, 64); err == nil {
					n *= 1000
					return &n
				}
			}
		}
		return nil
	}
	if !s.cgroupV1() {
		u.MemoryCurrent = readNum(filepath.Join(cg, "memory.current"))
		u.Tasks = readNum(filepath.Join(cg, "pids.current"))
		u.CPUUsageNSec = cpuStat(cg)
		return
	}
	// cgroup v1: one hierarchy per controller.
	u.MemoryCurrent = readNum(filepath.Join("memory", cg, "memory.usage_in_bytes"))
	u.Tasks = readNum(filepath.Join("pids", cg, "pids.current"))
	if u.CPUUsageNSec = readNum(filepath.Join("cpuacct", cg, "cpuacct.usage")); u.CPUUsageNSec == nil {
		u.CPUUsageNSec = cpuStat(filepath.Join("unified", cg))
	}
}

// cgroupV1 says whether cgroupfs is the legacy or hybrid layout (no
// cgroup.controllers at its root).
func (s *Service) cgroupV1() bool {
	_, err := os.Stat(filepath.Join(s.cgroupRoot, "cgroup.controllers"))
	return err != nil
}

// maxCgroupPIDs bounds what one unit reports.
const maxCgroupPIDs = 4096

// cgroupPIDs reads cgroup.procs of cg and of every cgroup below it (in the
// unified hierarchy, or systemd's own named one under cgroup v1).
func (s *Service) cgroupPIDs(cg string) []int {
	base := s.cgroupRoot
	if s.cgroupV1() {
		base = filepath.Join(base, "systemd")
	}
	root := filepath.Join(base, filepath.Clean("/"+cg))
	pids := []int{}
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
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
	s.invalidate(name) // one unit: read fresh
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
