package procs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func nanf() float64 { return math.NaN() }
func inff() float64 { return math.Inf(1) }

func TestSignalSetParse(t *testing.T) {
	set, err := NewSignalSet(nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := []struct {
		in    string
		canon string
		num   unix.Signal
	}{
		{"TERM", "TERM", unix.SIGTERM},
		{"SIGTERM", "TERM", unix.SIGTERM},
		{"sigterm", "TERM", unix.SIGTERM},
		{"Term", "TERM", unix.SIGTERM},
		{" term ", "TERM", unix.SIGTERM},
		{"15", "TERM", unix.SIGTERM},
		{"kill", "KILL", unix.SIGKILL},
		{"SIGKILL", "KILL", unix.SIGKILL},
		{"9", "KILL", unix.SIGKILL},
		{"INT", "INT", unix.SIGINT},
		{"sighup", "HUP", unix.SIGHUP},
		{"1", "HUP", unix.SIGHUP},
		{"STOP", "STOP", unix.SIGSTOP},
		{"19", "STOP", unix.SIGSTOP},
		{"cont", "CONT", unix.SIGCONT},
		{"QUIT", "QUIT", unix.SIGQUIT},
		{"usr1", "USR1", unix.SIGUSR1},
		{"SIGUSR2", "USR2", unix.SIGUSR2},
	}
	for _, tc := range ok {
		canon, num, err := set.Parse(tc.in)
		if err != nil || canon != tc.canon || num != tc.num {
			t.Errorf("Parse(%q) = %q, %d, %v; want %q, %d", tc.in, canon, num, err, tc.canon, tc.num)
		}
	}

	bad := []struct {
		in       string
		contains string // in the message
	}{
		{"", "unknown signal"},
		{"FOO", "unknown signal"},
		{"SIG", "unknown signal"},
		{"SIGSIGTERM", "unknown signal"},
		{"0", "unknown signal"},  // signal 0 is a probe, never an action
		{"-9", "unknown signal"}, // negative
		{"32", "unknown signal"}, // glibc-reserved
		{"33", "unknown signal"}, // glibc-reserved
		{"65", "unknown signal"}, // > SIGRTMAX
		{"RTMIN", "unknown signal"},
		{"TERM\x00", "unknown signal"},
		{"SEGV", "not allowed"}, // known, not in the allowed set
		{"SIGCHLD", "not allowed"},
		{"11", "not allowed"},
		{"iot", "not allowed"}, // alias of ABRT
		{"WINCH", "not allowed"},
		{strings.Repeat("A", 1000), "unknown signal"},
	}
	for _, tc := range bad {
		_, _, err := set.Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) accepted", tc.in)
			continue
		}
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Parse(%q) error %v is not InvalidArgument", tc.in, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.contains) {
			t.Errorf("Parse(%q) error %q does not say %q", tc.in, msg, tc.contains)
		}
		// The message lists what is allowed, so a caller can fix the call.
		if !strings.Contains(msg, "TERM, KILL, INT, HUP, STOP, CONT, QUIT, USR1, USR2") {
			t.Errorf("Parse(%q) error %q does not list the allowed signals", tc.in, msg)
		}
		if len(msg) > 300 {
			t.Errorf("Parse(%d bytes) error echoes too much: %d bytes", len(tc.in), len(msg))
		}
	}
}

func TestNewSignalSet(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{nil, DefaultSignals, false},
		{[]string{}, DefaultSignals, false},
		{[]string{"sigterm", "TERM", "15", "Kill"}, []string{"TERM", "KILL"}, false},
		{[]string{"iot", "SIGPOLL", "cld"}, []string{"ABRT", "IO", "CHLD"}, false},
		{[]string{"TERM", "BOGUS"}, nil, true},
		{[]string{"0"}, nil, true},
		{[]string{""}, nil, true},
	}
	for _, tc := range tests {
		set, err := NewSignalSet(tc.in)
		if tc.wantErr {
			if err == nil || !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("NewSignalSet(%q) = %v, %v; want InvalidArgument", tc.in, set.Names(), err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(set.Names(), tc.want) {
			t.Errorf("NewSignalSet(%q) = %v, %v; want %v", tc.in, set.Names(), err, tc.want)
		}
	}

	// A restricted set refuses what it does not list, even common names.
	set, err := NewSignalSet([]string{"HUP"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := set.Parse("KILL"); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "allowed signals are HUP") {
		t.Errorf("restricted set Parse(KILL) = %v", err)
	}
	if c, n, err := set.Parse("sighup"); err != nil || c != "HUP" || n != unix.SIGHUP {
		t.Errorf("restricted set Parse(sighup) = %q, %d, %v", c, n, err)
	}
	// Names returns a copy.
	names := set.Names()
	names[0] = "KILL"
	if _, _, err := set.Parse("KILL"); err == nil {
		t.Error("modifying Names() changed the set")
	}
}

// TestSignalNumbersMatchKernel guards the name table against typos.
func TestSignalNumbersMatchKernel(t *testing.T) {
	for name, num := range signalNumbers {
		if got := unix.SignalNum("SIG" + name); got != num {
			t.Errorf("signalNumbers[%q] = %d, unix.SignalNum = %d", name, num, got)
		}
	}
}

func procsFixture() []Process {
	return []Process{
		{PID: 10, Name: "nginx", Username: "www-data", CPUPercent: 1.5, MemoryRSS: 3000, Cmdline: []string{"nginx: worker process"}},
		{PID: 2, Name: "kthreadd", Username: "root", CPUPercent: 0, MemoryRSS: 0, Cmdline: []string{}},
		{PID: 1234, Name: "python3", Username: "alice", CPUPercent: 12.25, MemoryRSS: 9000, Cmdline: []string{"python3", "/srv/App.py", "--port=8088"}},
		{PID: 300, Name: "Bash", Username: "alice", CPUPercent: 1.5, MemoryRSS: 100, Cmdline: []string{"-bash"}},
		{PID: 5, Name: "bash", Username: "root", CPUPercent: 0, MemoryRSS: 100, Cmdline: []string{"bash"}},
	}
}

func pidsOf(ps []Process) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.PID
	}
	return out
}

func TestFilterSort(t *testing.T) {
	tests := []struct {
		name string
		opts ListOptions
		want []int
	}{
		// Ties (equal CPU 1.5, equal mem 100, 0) go by PID ascending in both orders.
		{"default cpu desc", ListOptions{}, []int{1234, 10, 300, 2, 5}},
		{"cpu asc", ListOptions{Sort: "cpu", Order: "asc"}, []int{2, 5, 10, 300, 1234}},
		{"mem desc", ListOptions{Sort: "mem", Order: "desc"}, []int{1234, 10, 5, 300, 2}},
		{"mem asc", ListOptions{Sort: "mem", Order: "asc"}, []int{2, 5, 300, 10, 1234}},
		{"pid asc", ListOptions{Sort: "pid", Order: "asc"}, []int{2, 5, 10, 300, 1234}},
		{"pid desc", ListOptions{Sort: "pid", Order: "desc"}, []int{1234, 300, 10, 5, 2}},
		{"name asc case-insensitive", ListOptions{Sort: "name", Order: "asc"}, []int{5, 300, 2, 10, 1234}},
		{"name desc", ListOptions{Sort: "name", Order: "desc"}, []int{1234, 10, 2, 5, 300}},
		{"upper-case sort/order", ListOptions{Sort: " PID ", Order: "DESC"}, []int{1234, 300, 10, 5, 2}},
		{"q name any case", ListOptions{Query: "BASH", Sort: "pid", Order: "asc"}, []int{5, 300}},
		{"q user", ListOptions{Query: "alice", Sort: "pid", Order: "asc"}, []int{300, 1234}},
		{"q user www", ListOptions{Query: "WWW-", Sort: "pid"}, []int{10}},
		{"q cmdline arg", ListOptions{Query: "app.py", Sort: "pid"}, []int{1234}},
		{"q cmdline later arg", ListOptions{Query: "--PORT=8088"}, []int{1234}},
		{"q pid substring", ListOptions{Query: "23", Sort: "pid"}, []int{1234}},
		{"q pid exact small", ListOptions{Query: "5", Sort: "pid", Order: "asc"}, []int{5}},
		{"q trimmed", ListOptions{Query: "  nginx  "}, []int{10}},
		{"q no match", ListOptions{Query: "zzz"}, []int{}},
		{"q worker (cmdline with space)", ListOptions{Query: "worker process"}, []int{10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := procsFixture()
			before := pidsOf(all)
			o, err := tc.opts.normalize()
			if err != nil {
				t.Fatalf("normalize(%+v): %v", tc.opts, err)
			}
			got := pidsOf(filterSort(all, o))
			if !slices.Equal(got, tc.want) {
				t.Errorf("filterSort(%+v) = %v, want %v", tc.opts, got, tc.want)
			}
			if !slices.Equal(pidsOf(all), before) {
				t.Errorf("filterSort reordered its input: %v", pidsOf(all))
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	o, err := ListOptions{}.normalize()
	if err != nil || o.Sort != "cpu" || o.Order != "desc" {
		t.Errorf("defaults = %+v, %v; want cpu/desc", o, err)
	}
	bad := []struct {
		opts     ListOptions
		contains []string
	}{
		{ListOptions{Sort: "bogus"}, []string{`"bogus"`, "cpu, mem, pid, name"}},
		{ListOptions{Sort: "memory"}, []string{"cpu, mem, pid, name"}},
		{ListOptions{Sort: "cpu;drop"}, []string{"cpu, mem, pid, name"}},
		{ListOptions{Order: "up"}, []string{`"up"`, "asc", "desc"}},
		{ListOptions{Order: "ascending"}, []string{"asc", "desc"}},
		{ListOptions{Query: strings.Repeat("x", 1025)}, []string{"too long"}},
	}
	for _, tc := range bad {
		_, err := tc.opts.normalize()
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("normalize(%+v) = %v; want InvalidArgument", tc.opts, err)
			continue
		}
		for _, c := range tc.contains {
			if !strings.Contains(err.Error(), c) {
				t.Errorf("normalize(%+v) error %q does not mention %q", tc.opts, err, c)
			}
		}
	}
	if _, err := (ListOptions{Query: strings.Repeat("x", 1024)}).normalize(); err != nil {
		t.Errorf("1024-byte query refused: %v", err)
	}
}

func TestErrorsIs(t *testing.T) {
	sentinels := map[Kind]error{
		KindFailed: ErrFailed, KindNoSuchProcess: ErrNoSuchProcess, KindAccessDenied: ErrAccessDenied,
		KindInvalidArgument: ErrInvalidArgument, KindProcessChanged: ErrProcessChanged, KindNotRestartable: ErrNotRestartable,
	}
	names := map[Kind]string{
		KindFailed: "Failed", KindNoSuchProcess: "NoSuchProcess", KindAccessDenied: "AccessDenied",
		KindInvalidArgument: "InvalidArgument", KindProcessChanged: "ProcessChanged", KindNotRestartable: "NotRestartable",
	}
	for k := range sentinels {
		err := errf(k, "something about %d", 42)
		wrapped := fmt.Errorf("context: %w", err)
		for k2, s2 := range sentinels {
			if got := errors.Is(err, s2); got != (k == k2) {
				t.Errorf("errors.Is(%v error, %v sentinel) = %v", k, k2, got)
			}
			if got := errors.Is(wrapped, s2); got != (k == k2) {
				t.Errorf("errors.Is(wrapped %v, %v sentinel) = %v", k, k2, got)
			}
		}
		if KindOf(wrapped) != k {
			t.Errorf("KindOf(wrapped %v) = %v", k, KindOf(wrapped))
		}
		if k.String() != names[k] {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), names[k])
		}
		if err.Error() != "something about 42" {
			t.Errorf("Error() = %q", err.Error())
		}
	}
	// Two concrete errors of one kind are not "the same error".
	if errors.Is(errf(KindNoSuchProcess, "a"), errf(KindNoSuchProcess, "b")) {
		t.Error("errors.Is matched two distinct messages")
	}
	if KindOf(errors.New("plain")) != KindFailed || KindOf(nil) != KindFailed {
		t.Error("KindOf of a plain error or nil is not Failed")
	}
	if errors.Is(errors.New("plain"), ErrFailed) {
		t.Error("a plain error matched ErrFailed")
	}
	cause := unix.ESRCH
	e := &Error{Kind: KindNoSuchProcess, Msg: "gone", Err: cause}
	if !errors.Is(e, unix.ESRCH) || !errors.Is(e, ErrNoSuchProcess) {
		t.Error("Unwrap does not reach the cause, or the kind is lost")
	}
	if n := noSuchProcess(77); !errors.Is(n, ErrNoSuchProcess) || !strings.Contains(n.Error(), "77") {
		t.Errorf("noSuchProcess(77) = %v", n)
	}
}

// TestValidationBeforeLookup: bad PIDs and nice values are refused by the
// core itself, before any process is looked up or touched.
func TestValidationBeforeLookup(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := Caller{Privileged: true, Name: "test"}
	for _, pid := range []int{0, -1, -2, s.maxPID + 1, 1 << 31, 1<<32 - 1, 1 << 40} {
		if _, err := s.Signal(ctx, root, Target{PID: pid}, "CONT"); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Signal(pid %d) = %v; want InvalidArgument", pid, err)
		}
		if err := s.Renice(ctx, root, Target{PID: pid}, 0); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Renice(pid %d) = %v; want InvalidArgument", pid, err)
		}
		if _, err := s.Restart(ctx, root, Target{PID: pid}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Restart(pid %d) = %v; want InvalidArgument", pid, err)
		}
		if _, err := s.Get(ctx, root, Target{PID: pid}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Get(pid %d) = %v; want InvalidArgument", pid, err)
		}
	}
	self := Target{PID: s.selfPID}
	for _, n := range []int{-21, 20, 99, -100, 1 << 31} {
		err := s.Renice(ctx, root, self, n)
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "-20 and 19") {
			t.Errorf("Renice(nice %d) = %v; want InvalidArgument naming -20..19", n, err)
		}
	}
	for _, ct := range []float64{-1, nanf(), inff()} {
		if _, err := s.Signal(ctx, root, Target{PID: s.selfPID, CreateTime: ct}, "CONT"); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Signal(create_time %v) = %v; want InvalidArgument", ct, err)
		}
	}
	// The unknown signal is reported before the PID is even looked up.
	if _, err := s.Signal(ctx, root, Target{PID: 1}, "NOPE"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Signal(PID 1, NOPE) = %v; want InvalidArgument", err)
	}
}

func TestParseProcOptions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want procMount
	}{
		{"rw,relatime,rw", procMount{}},
		{"rw,nosuid,hidepid=invisible", procMount{hidepid: 2}},
		{"rw,hidepid=2,gid=27", procMount{hidepid: 2, gid: 27, hasGID: true}},
		{"rw,hidepid=noaccess", procMount{hidepid: 1}},
		{"rw,hidepid=ptraceable,subset=pid", procMount{hidepid: 4}},
		{"rw,hidepid=off,gid=x", procMount{}},
	} {
		if got := parseProcOptions(tc.in); got != tc.want {
			t.Errorf("parseProcOptions(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if got := unescapeMount(`/run/a\040b`); got != "/run/a b" {
		t.Errorf("unescapeMount = %q", got)
	}
}
