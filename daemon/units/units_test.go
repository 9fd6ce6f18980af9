package units

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roy/roy-procwatch/daemon/procs"
)

func TestValidateName(t *testing.T) {
	good := map[string]string{
		"nginx.service":      "service",
		"-.slice":            "slice",
		"getty@tty1.service": "service",
		"systemd-fsck@dev-disk-by\\x2duuid-1.service": "service",
		"dev-sda1.device":                     "device",
		"a:b_c.timer":                         "timer",
		"user@1000.service":                   "service",
		"x@a@b.service":                       "service", // '@' is allowed in an instance
		strings.Repeat("a", 247) + ".service": "service",
	}
	for name, typ := range good {
		got, err := ValidateName(name)
		if err != nil || got != typ {
			t.Errorf("ValidateName(%q) = %q, %v; want %q", name, got, err, typ)
		}
	}
	bad := []string{
		"", "nginx", ".service", "nginx.", "nginx.servic", "nginx.exe", "ng inx.service",
		"../etc.service", "a/b.service", "getty@.service", "@tty1.service", "é.service",
		"nginx.service\n", "a;b.service", "*.service", strings.Repeat("a", 248) + ".service",
	}
	for _, name := range bad {
		_, err := ValidateName(name)
		if KindOf(err) != KindInvalidArgument {
			t.Errorf("ValidateName(%q) = %v; want an invalid-argument error", name, err)
		}
	}
}

func TestListOptionsNormalize(t *testing.T) {
	p, st, ty, err := ListOptions{}.normalize()
	if err != nil || len(p) != 1 || p[0] != "*.service" || st != nil || len(ty) != 1 {
		t.Fatalf("defaults: %v %v %v %v", p, st, ty, err)
	}
	p, _, _, err = ListOptions{Types: []string{"socket", "timer"}, Pattern: "ng*"}.normalize()
	if err != nil || strings.Join(p, ",") != "ng*.socket,ng*.timer" {
		t.Fatalf("types: %v %v", p, err)
	}
	p, _, ty, err = ListOptions{Pattern: "*.timer"}.normalize()
	if err != nil || strings.Join(p, ",") != "*.timer" || ty != nil {
		t.Fatalf("suffix without types: %v %v %v", p, ty, err)
	}
	p, _, ty, err = ListOptions{Types: []string{"service"}, Pattern: "*.timer"}.normalize()
	if err != nil || strings.Join(p, ",") != "*.timer" || strings.Join(ty, ",") != "service" {
		t.Fatalf("suffix with types: %v %v %v", p, ty, err)
	}
	p, _, ty, err = ListOptions{Types: []string{"all"}}.normalize()
	if err != nil || strings.Join(p, ",") != "*" || ty != nil {
		t.Fatalf("all: %v %v %v", p, ty, err)
	}
	for _, o := range []ListOptions{{Types: []string{"exe"}}, {State: "FAILED;"}, {Pattern: "a b"}, {Pattern: strings.Repeat("a", 300)}} {
		if _, _, _, err := o.normalize(); KindOf(err) != KindInvalidArgument {
			t.Errorf("%+v: %v, want invalid argument", o, err)
		}
	}
}

func TestMessageCap(t *testing.T) {
	long := strings.Repeat("é", MaxMessage) // 2 bytes each
	msg, trunc, bin := message([]byte(long))
	if !trunc || bin || len(msg) > MaxMessage || len(msg) < MaxMessage-1 || !strings.HasPrefix(long, msg) {
		t.Fatalf("capped message: len %d truncated %v binary %v", len(msg), trunc, bin)
	}
	if msg, trunc, bin := message([]byte("hello\tworld\n")); msg != "hello\tworld\n" || trunc || bin {
		t.Fatalf("plain: %q %v %v", msg, trunc, bin)
	}
	if msg, _, bin := message([]byte{0, 1, 2, 0xff, 'a'}); !bin || msg != "[5 bytes of binary data]" {
		t.Fatalf("binary: %q %v", msg, bin)
	}
	if msg, _, bin := message([]byte("bell\a")); !bin || !strings.Contains(msg, "binary") {
		t.Fatalf("control char: %q %v", msg, bin)
	}
	big := append([]byte(strings.Repeat("x", MaxMessage)), 0)
	if msg, trunc, bin := message(big); !trunc || bin || len(msg) != MaxMessage {
		t.Fatalf("capped before the NUL: len %d %v %v", len(msg), trunc, bin)
	}
	if msg, _, _ := message(nil); msg != "" {
		t.Fatalf("empty: %q", msg)
	}
}

func TestJournalQueryCheck(t *testing.T) {
	for _, q := range []JournalQuery{{}, {Unit: "a.service", PID: 1}, {Unit: "a.service", Lines: 1001}, {Unit: "a.service", Lines: -1}, {Unit: "bad"}, {PID: -3}, {PID: 0}, {Unit: "a.service", Cursor: strings.Repeat("c", 600)}} {
		if err := q.Validate(); KindOf(err) != KindInvalidArgument {
			t.Errorf("%+v: %v, want invalid argument", q, err)
		}
	}
	q := JournalQuery{Unit: "a.service"}
	if err := q.Validate(); err != nil || q.Lines != DefaultEntries {
		t.Fatalf("defaults: %v %d", err, q.Lines)
	}
}

// depBus is a systemd stand-in for the refusal rules only: a dependency
// graph (the e2e test runs them against the real systemd).
type depBus struct {
	systemdBus
	self string
	deps map[string]map[string][]string // unit → property → units
}

func (b *depBus) GetUnitPropertiesContext(_ context.Context, u string) (map[string]any, error) {
	m := map[string]any{"LoadState": "loaded"}
	for k, v := range b.deps[u] {
		m[k] = v
	}
	return m, nil
}

func (b *depBus) GetUnitNameByPID(context.Context, uint32) (string, error) {
	if b.self == "" {
		return "", errors.New("no unit")
	}
	return b.self, nil
}

func TestRefusalRules(t *testing.T) {
	b := &depBus{self: "roy-procwatch.service", deps: map[string]map[string][]string{
		"dbus.socket":         {"RequiredBy": {"dbus.service"}},
		"sysinit.target":      {"RequiredBy": {"basic.target", "roy-procwatch.service"}},
		"system.slice":        {"RequiredBy": {"nginx.service", "roy-procwatch.service"}},
		"nginx.service":       {"RequiredBy": {"app.service"}},
		"app.service":         {"BoundBy": {"app-helper.service"}},
		"storage.target":      {"ConsistsOf": {"journal-ish.service"}},
		"journal-ish.service": {"BoundBy": {"systemd-journald.service"}},
	}}
	s := &Service{available: true}
	cases := []struct {
		unit, action string
		refused      bool
		mention      string
	}{
		{"dbus.service", "stop", true, "system bus"},
		{"dbus.socket", "stop", true, "dbus.socket"},
		{"dbus.socket", "restart", true, ""},
		{"roy-procwatch.socket", "disable", true, "roy-procwatch"},
		{"systemd-journald-dev-log.socket", "stop", true, "journal"},
		{"-.slice", "stop", true, "every unit"},
		{"sysinit.target", "stop", true, "sysinit.target → roy-procwatch.service"},
		{"system.slice", "restart", true, "roy-procwatch.service"},
		{"storage.target", "stop", true, "storage.target → journal-ish.service → systemd-journald.service"},
		{"nginx.service", "stop", false, ""},
		{"nginx.service", "restart", false, ""},
		{"sysinit.target", "disable", false, ""}, // disabling stops nothing now
		{"cron.service", "stop", false, ""},
	}
	for _, c := range cases {
		err := s.refusal(context.Background(), b, c.unit, c.action)
		if (err != nil) != c.refused {
			t.Errorf("%s %s: err %v, want refused=%v", c.action, c.unit, err, c.refused)
			continue
		}
		if err != nil && (KindOf(err) != KindRefused || !strings.Contains(err.Error(), c.mention)) {
			t.Errorf("%s %s: %v (kind %v), want a refusal mentioning %q", c.action, c.unit, err, KindOf(err), c.mention)
		}
	}
	// The daemon under another unit name protects that unit too.
	b.self = "procwatch-dev.service"
	if err := s.refusal(context.Background(), b, "procwatch-dev.service", "stop"); KindOf(err) != KindRefused {
		t.Errorf("own unit: %v", err)
	}
}

// Without systemd every call is no_systemd and nothing is attempted.
func TestNoSystemd(t *testing.T) {
	dialed := false
	var audited []string
	s := New(Options{Available: func() bool { return false }, Audit: auditFunc(func(action, unit string, err error) {
		audited = append(audited, action+" "+unit+" "+KindOf(err).Code())
	}), Dial: func(context.Context) (systemdBus, string, error) { dialed = true; return nil, "", errors.New("no") }})
	ctx := context.Background()
	if _, err := s.List(ctx, ListOptions{}); KindOf(err) != KindNoSystemd || err.Error() != "systemd is not running on this host" {
		t.Fatalf("List: %v", err)
	}
	if _, err := s.Get(ctx, "a.service"); KindOf(err) != KindNoSystemd {
		t.Fatalf("Get: %v", err)
	}
	if _, err := s.Act(ctx, procs.Caller{Privileged: true, Name: "t"}, "a.service", "stop"); KindOf(err) != KindNoSystemd {
		t.Fatalf("Act: %v", err)
	}
	if _, err := s.Journal(ctx, JournalQuery{Unit: "a.service"}); KindOf(err) != KindNoSystemd {
		t.Fatalf("Journal: %v", err)
	}
	if _, err := s.Subscribe(ctx, func(Change) {}); KindOf(err) != KindNoSystemd {
		t.Fatalf("Subscribe: %v", err)
	}
	if dialed {
		t.Fatal("dialed systemd although it is not running")
	}
	if len(audited) != 1 || audited[0] != "unit-stop a.service no_systemd" {
		t.Fatalf("audit: %q", audited)
	}
}

type auditFunc func(action, unit string, err error)

func (f auditFunc) AuditUnit(_ procs.Caller, action, unit, _ string, err error) { f(action, unit, err) }

func TestSortFailedFirst(t *testing.T) {
	us := []Unit{{Name: "b.service", Active: "active"}, {Name: "z.service", Active: "failed"}, {Name: "a.service", Active: "inactive"}, {Name: "c.service", Active: "failed"}}
	sortUnits(us)
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	if got := strings.Join(names, " "); got != "c.service z.service a.service b.service" {
		t.Fatalf("order: %s", got)
	}
}

// cgroupfs layouts: unified (v2) and hybrid (v1 controllers, systemd's
// named hierarchy, v2 mounted at "unified"), as files on disk.
func TestCgroupLayouts(t *testing.T) {
	write := func(root, path, content string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const cg = "/system.slice/web.service"
	v2 := t.TempDir()
	write(v2, "cgroup.controllers", "cpu memory pids\n")
	write(v2, cg+"/cgroup.procs", "40\n12\n")
	write(v2, cg+"/worker/cgroup.procs", "77\n")
	write(v2, cg+"/memory.current", "1048576\n")
	write(v2, cg+"/pids.current", "3\n")
	write(v2, cg+"/cpu.stat", "usage_usec 2500\nuser_usec 2000\n")
	s := &Service{cgroupRoot: v2}
	u := Unit{ControlGroup: cg}
	u.PIDs = s.cgroupPIDs(cg)
	s.cgroupStats(&u)
	if fmt.Sprint(u.PIDs) != "[12 40 77]" || *u.MemoryCurrent != 1048576 || *u.Tasks != 3 || *u.CPUUsageNSec != 2500000 {
		t.Fatalf("v2: pids %v memory %v tasks %v cpu %v", u.PIDs, u.MemoryCurrent, u.Tasks, u.CPUUsageNSec)
	}
	hy := t.TempDir()
	write(hy, "systemd"+cg+"/cgroup.procs", "5\n")
	write(hy, "unified"+cg+"/cpu.stat", "usage_usec 7\n")
	write(hy, "memory"+cg+"/memory.usage_in_bytes", "4096\n")
	s = &Service{cgroupRoot: hy}
	u = Unit{ControlGroup: cg}
	u.PIDs = s.cgroupPIDs(cg)
	s.cgroupStats(&u)
	if fmt.Sprint(u.PIDs) != "[5]" || *u.MemoryCurrent != 4096 || u.Tasks != nil || *u.CPUUsageNSec != 7000 {
		t.Fatalf("hybrid: pids %v memory %v tasks %v cpu %v", u.PIDs, u.MemoryCurrent, u.Tasks, u.CPUUsageNSec)
	}
	// A path that climbs out of the cgroup root stays inside it.
	if p := s.cgroupPIDs("/../../etc"); len(p) != 0 {
		t.Fatalf("escaped the cgroup root: %v", p)
	}
}
